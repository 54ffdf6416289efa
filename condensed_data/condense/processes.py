"""The processes of a condensation run: one, or several through Accelerate (training side).

:class:`Processes` is the thin layer the driver talks to. A run started as one plain process gets a single-process
instance that never imports Accelerate and makes no collective calls, so its result is exactly what it was before
multi-process support existed. A run started by a launcher (``torchrun``, ``accelerate launch``, MPI) or inside an
initialized ``torch.distributed`` process group gets an ``accelerate.Accelerator``: gloo on CPUs, NCCL on GPUs.

How the work is split is the method's choice (:attr:`condensed_data.condense.method.Method.sharding`):

* ``"classes"``: each process owns a contiguous block of classes (:func:`class_block`) and optimizes only their
  rows of every parameter; :meth:`Processes.sync_class_rows` brings all rows together for checkpoints and export.
* ``"data"``: every process holds all parameters and computes the loss on its share of the data;
  :meth:`Processes.average_` averages the gradients after ``backward`` (what DDP does), so the parameters stay
  identical on every process.

>>> class_block(10, 0, 3), class_block(10, 1, 3), class_block(10, 2, 3)
(range(0, 4), range(4, 7), range(7, 10))
>>> Processes().count
1
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["Processes", "class_block", "launched_world_size"]

# The variables launchers set for the number of processes: torchrun/accelerate, then the MPI flavours.
_WORLD_ENV = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def class_block(num_classes: int, index: int, count: int) -> range:
    """The classes process ``index`` of ``count`` owns: contiguous blocks whose sizes differ by at most one.

    Raises:
        ValueError: more processes than classes (a process would own nothing).
    """
    if count > num_classes:
        raise ValueError(
            f"{count} processes for {num_classes} classes: class-sharded condensation gives every process at least "
            f"one class, so launch at most {num_classes} processes"
        )
    if not 0 <= index < count:
        raise ValueError(f"process index {index} is out of range for {count} processes")
    base, extra = divmod(num_classes, count)
    start = index * base + min(index, extra)
    return range(start, start + base + (1 if index < extra else 0))


def launched_world_size() -> int:
    """The number of processes a launcher started (1 when none did)."""
    for name in _WORLD_ENV:
        value = os.environ.get(name)
        if value:
            return int(value)
    return 1


def _in_process_group() -> bool:
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class Processes:
    """The processes of a run, and the few collective operations the driver needs.

    Args:
        accelerator: An ``accelerate.Accelerator`` for a multi-process run; ``None`` for one plain process.
    """

    def __init__(self, accelerator: Any | None = None) -> None:
        self.accelerator = accelerator
        self.count: int = 1 if accelerator is None else int(accelerator.num_processes)
        self.index: int = 0 if accelerator is None else int(accelerator.process_index)

    @classmethod
    def from_environment(cls, device: str | torch.device = "cpu", accelerator: Any | None = None) -> Processes:
        """The processes this run was launched as.

        Args:
            device: The requested device; ``cpu`` makes Accelerate use gloo even on a machine with GPUs.
            accelerator: Use this one (e.g. the caller's own) instead of creating one.
        """
        if accelerator is not None:
            return cls(accelerator)
        if launched_world_size() <= 1 and not _in_process_group():
            return cls(None)
        from accelerate import Accelerator  # only multi-process runs pay for the import

        return cls(Accelerator(cpu=torch.device(device).type == "cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this is the process that reads and writes files, logs and shows progress."""
        return self.index == 0

    def device(self, requested: str | torch.device) -> torch.device:
        """Where this process computes: its own GPU (``cuda:LOCAL_RANK``) in a multi-GPU run, else ``requested``."""
        requested = torch.device(requested)
        if self.accelerator is not None and self.accelerator.device.type == requested.type != "cpu":
            return self.accelerator.device
        return requested

    def _comm_device(self) -> torch.device:
        return torch.device("cpu") if self.accelerator is None else self.accelerator.device

    def gather(self, tensor: torch.Tensor) -> list[torch.Tensor]:
        """Every process's copy of ``tensor`` (same shape everywhere), in process order."""
        if self.accelerator is None:
            return [tensor]
        gathered = self.accelerator.gather(tensor.detach().contiguous().to(self._comm_device()))
        return [part.to(tensor.device) for part in gathered.chunk(self.count)]

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sums of ``values`` over the processes (one collective call)."""
        if self.accelerator is None:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        return self.accelerator.reduce(tensor, reduction="sum").tolist()

    def average_(self, tensor: torch.Tensor) -> None:
        """Replace ``tensor`` in place by its mean over the processes."""
        if self.accelerator is None:
            return
        tensor.copy_(self.accelerator.reduce(tensor.to(self._comm_device()), reduction="mean").to(tensor.device))

    def broadcast(self, obj: Any) -> Any:
        """The main process's ``obj`` (picklable), on every process."""
        if self.accelerator is None:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj], from_process=0)[0]

    def sync_class_rows(
        self, parameters: Sequence[torch.Tensor], optimizer: torch.optim.Optimizer, num_classes: int
    ) -> None:
        """Give every process every class's rows (parameters and same-shaped optimizer state) from their owners.

        For class-sharded runs: ``parameters`` are class-major (``shape[0]`` a multiple of ``num_classes``). A
        process's own optimizer steps leave other classes' rows unchanged or drifting (momentum), never reading
        them, so overwriting them is harmless.
        """
        blocks = [class_block(num_classes, r, self.count) for r in range(self.count)]
        for p in parameters:
            state = optimizer.state.get(p, {})
            tensors = [p] + [
                state[key] for key in sorted(state) if torch.is_tensor(state[key]) and state[key].shape == p.shape
            ]
            for t in tensors:
                rows = t.shape[0] // num_classes
                parts = self.gather(t.detach())
                merged = torch.cat(
                    [part[b.start * rows : b.stop * rows] for part, b in zip(parts, blocks, strict=True)]
                )
                with torch.no_grad():
                    t.copy_(merged)

    def wait(self) -> None:
        """Block until every process gets here."""
        if self.accelerator is not None:
            self.accelerator.wait_for_everyone()
