"""The method contract: what a condensation method provides to the driver.

A method owns the synthetic parameters (its *representation*) and computes one iteration's loss (its
*objective*). The driver (:mod:`condensed_data.condense.driver`) owns everything else: the loop, the optimizer steps,
progress, checks for NaN, checkpoints, evaluation and export. Plugins register a :class:`Method` subclass under
the entry-point group ``condensed_data.methods``; :func:`condensed_data.testing.check_method` checks one.

The built-in methods are recipes over one matching loop (:class:`condensed_data.condense.matching.MatchingMethod`):
a *representation* (:mod:`condensed_data.condense.representations`), an *objective*
(:mod:`condensed_data.condense.objectives`), regularizers and defaults. A method that works otherwise (a trajectory
matcher, say) implements this contract directly.

Several processes: a method says how a run may be split over processes with :attr:`Method.sharding`, and the
driver calls :meth:`Method.shard` once before the first iteration of a multi-process run (see
:mod:`condensed_data.condense.processes`). Per-class representations (pixels) are ``"classes"``: each process optimizes a
disjoint block of classes; shared representations (a generator) are ``"data"``: gradients are averaged.

>>> from condensed_data.condense.registry import get_method
>>> get_method("dm").name
'dm'
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.artifact.manifest import Decode
from condensed_data.condense.processes import class_block
from condensed_data.data import RealSource
from condensed_data.sources.tensors import save_tensors

__all__ = ["MethodConfig", "Method", "require_positive_ints"]


@dataclass
class MethodConfig:
    """Base class of method configurations: a dataclass of JSON-serializable hyperparameters with defaults."""

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodConfig:
        """Build from a dict, rejecting unknown keys with a message that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for {cls.__name__}; known options: {', '.join(sorted(known))}"
            )
        for f in dataclasses.fields(cls):
            if f.name in data:
                _check_type(f, data[f.name])
        return cls(**data)


def require_positive_ints(config: Any, *names: str) -> None:
    """Raise ``ValueError`` naming the first of the fields ``names`` of ``config`` that is not an integer >= 1.

    >>> from types import SimpleNamespace
    >>> require_positive_ints(SimpleNamespace(steps=0), "steps")
    Traceback (most recent call last):
    ValueError: steps must be an integer >= 1, got 0
    """
    for name in names:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a group of options"}


def _check_type(f: dataclasses.Field, value: Any) -> None:
    """Reject a value whose JSON type differs from the field default's (ints are accepted for floats)."""
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    expected = type(default)
    if expected not in _KINDS:
        return
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    ok = ok or (expected is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ValueError(f"option {f.name} expects {_KINDS[expected]} (like {default!r}), got {value!r}")


class Method(ABC):
    """A condensation method. Subclasses set ``name`` and ``config_class`` and implement the abstract methods.

    Args:
        real: The real training data (class-indexed).
        ipc: Images per class of the condensed set.
        config: The method's configuration (defaults when omitted).
        device: Where to compute.
        generator: The source of every random draw made while initializing.

    Attributes:
        sharding: How the driver may split a run over several processes.
            ``"none"`` (the default): one process only.
            ``"classes"``: a per-class representation. Every parameter is class-major (``shape[0]`` is
            ``num_classes * rows``, class ``c`` owning rows ``c * rows`` to ``(c + 1) * rows``), the loss is a sum
            of per-class terms each depending only on that class's rows, and the optimizer is element-wise (SGD,
            Adam). After :meth:`shard`, :meth:`loss` returns the sum over :attr:`shard_classes` only, drawing
            exactly the random numbers a single process draws (draw everything, use your classes), so a sharded
            run gives the single-process result. The driver gathers the rows from their owners.
            ``"data"``: a shared representation (e.g. a generator). Every process holds all parameters and
            computes the loss on its share of the data (:attr:`shard_index` of :attr:`shard_count`); the driver
            averages gradients over processes after ``backward``, as DDP (``accelerator.prepare`` +
            ``accelerator.backward``) would, so parameters stay identical everywhere. For the sum of the shares'
            losses to be the full loss, each share should be a mean over equally many samples.
        shard_index, shard_count: This process and the number of processes (0 and 1 unless sharded).
        shard_classes: The classes this process optimizes (all unless sharded by classes).
        decode: The artifact's decode block when each stored image decodes into several items (multi-formation;
            :meth:`synthetic` returns the items, :meth:`export` writes the stored images); ``None`` by default.
    """

    decode: Decode | None = None
    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    kind: ClassVar[str] = "tensors"
    default_iterations: ClassVar[int] = 1000
    sharding: ClassVar[str] = "none"

    def __init__(
        self,
        real: RealSource,
        *,
        ipc: int,
        config: MethodConfig | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        if not isinstance(ipc, int) or ipc < 1:
            raise ValueError(f"images per class must be an integer >= 1, got {ipc!r}")
        counts = real.class_counts()
        smallest = min(range(len(counts)), key=counts.__getitem__)
        if ipc > counts[smallest]:
            raise ValueError(
                f"images per class ({ipc}) exceeds the size of class {real.classes[smallest]!r} "
                f"({counts[smallest]} images) in {real.name}/{real.split}; choose --ipc <= {counts[smallest]}"
            )
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(self.config).__name__}"
            )
        self.real = real
        self.ipc = ipc
        self.device = torch.device(device)
        self.shard_index, self.shard_count = 0, 1
        self.shard_classes: range = range(real.num_classes)

    def shard(self, index: int, count: int) -> None:
        """Take this process's share of a run over ``count`` processes (see :attr:`sharding`).

        The driver calls it once, before the first :meth:`loss`, only when ``count > 1``. Subclasses that need
        to prepare for their share extend it (and call ``super().shard``).

        Raises:
            ValueError: the method runs as one process only, or there are more processes than classes.
        """
        if self.sharding not in ("classes", "data"):
            raise ValueError(
                f"method {type(self).__name__} runs as one process only (its sharding is {self.sharding!r}); "
                "launch it without torchrun/accelerate, or declare sharding = 'classes' or 'data' (see Method)"
            )
        if self.sharding == "classes":
            self.shard_classes = class_block(self.real.num_classes, index, count)
        self.shard_index, self.shard_count = index, count

    @abstractmethod
    def parameters(self) -> list[torch.Tensor]:
        """The tensors the optimizer updates."""

    @abstractmethod
    def make_optimizer(self) -> torch.optim.Optimizer:
        """A fresh optimizer over :meth:`parameters`, configured from ``self.config``."""

    @abstractmethod
    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        """One iteration's scalar loss; every random draw comes from ``generator``."""

    @abstractmethod
    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The current condensed set: pixel-space images ``(N, C, H, W)`` and labels, detached, on the CPU."""

    def after_step(self) -> None:
        """Called by the loop after every optimizer step, before the NaN check (default: nothing). A method whose
        parameters must stay in a set (e.g. images within the valid pixel range) projects them back here."""
        return None

    def close(self) -> None:
        """Called by the loop when the iterations end or stop: release what the method holds for them (a read-ahead
        thread, open files). Default: nothing. A later :meth:`loss` may start them again."""
        return None

    def diagnostics(self) -> dict[str, float]:
        """Numbers about the last :meth:`loss` worth logging (e.g. each loss term's gradient norm); ``{}`` (the
        default) when there is nothing to log this iteration. The loop logs them and keeps them in
        :attr:`~condensed_data.condense.config.CondenseResult.diagnostics`."""
        return {}

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume (default: the parameters)."""
        return {f"param.{i}": p.detach().clone() for i, p in enumerate(self.parameters())}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict` output."""
        params = self.parameters()
        if len(state) != len(params):
            raise ValueError(f"state has {len(state)} tensors, {type(self).__name__} has {len(params)} parameters")
        for i, p in enumerate(params):
            saved = state[f"param.{i}"]
            if tuple(saved.shape) != tuple(p.shape):  # copy_ would broadcast a wrong shape silently
                raise ValueError(f"state tensor param.{i} has shape {list(saved.shape)}, expected {list(p.shape)}")
        with torch.no_grad():
            for i, p in enumerate(params):
                p.copy_(state[f"param.{i}"])

    def export(self, folder: Path) -> None:
        """Write the artifact's data files into ``folder`` (default: ``images.safetensors``, kind ``tensors``)."""
        images, labels = self.synthetic()
        save_tensors(folder, images, labels)
