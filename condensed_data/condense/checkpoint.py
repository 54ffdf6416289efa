"""Checkpoints and stop signals of a condensation run: atomic writes, resume, SIGINT/SIGTERM (training side).

A run writing ``out/set`` keeps its checkpoint in ``out/.set.checkpoint.pt`` (:func:`checkpoint_path`). What it
holds: the synthetic parameters (the method's ``state_dict``), the optimizer state, the iteration, the state of the
single random generator every draw comes from, the evaluation history, and the run's *identity* (:func:`identity`:
method, dataset, ipc, seed, iterations, the method's full options, precision). :meth:`Checkpoint.save` writes a
temporary file, fsyncs it and renames it over the old one, so a checkpoint is never half-written, even under
SIGKILL. :meth:`Checkpoint.read` refuses, with what to do, a file that is unreadable, incomplete or from another
run; :meth:`Checkpoint.restore` loads it into a freshly built method, optimizer and generator.

:class:`StopSignals` turns the first SIGINT or SIGTERM into a flag the loop checks after each iteration (then it
writes a checkpoint and raises :class:`CondensationInterrupted`); a second signal acts as it did before.

>>> checkpoint_path("out/fashion-mnist-dm-ipc10").as_posix()
'out/.fashion-mnist-dm-ipc10.checkpoint.pt'
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import torch

from condensed_data.artifact.folder import fsync_dir
from condensed_data.runtime import inference_kernels

if TYPE_CHECKING:
    from condensed_data.condense.method import Method

__all__ = [
    "Checkpoint",
    "CondensationError",
    "CondensationInterrupted",
    "RunSettings",
    "StopSignals",
    "checkpoint_path",
    "identity",
]

logger = logging.getLogger(__name__)

_KEYS = ("identity", "iteration", "method", "optimizer", "generator", "history")


class CondensationError(RuntimeError):
    """A condensation run that cannot go on (e.g. the loss became NaN); the message says what was kept."""


class CondensationInterrupted(CondensationError):
    """SIGINT or SIGTERM stopped the run after a checkpoint; the message says how to resume.

    Attributes:
        signum: The signal received (the CLI exits with ``128 + signum``).
        iteration: The iteration the checkpoint holds.
    """

    def __init__(self, message: str, *, signum: int, iteration: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.iteration = iteration


class RunSettings(Protocol):
    """The settings of a run a checkpoint must match (what :class:`~condensed_data.condense.driver.CondenseConfig`
    has)."""

    method: str
    dataset: str
    ipc: int
    seed: int
    precision: str


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the checkpoint of a run writing ``output`` lives: a hidden file beside it.

    >>> checkpoint_path("runs/a").name
    '.a.checkpoint.pt'
    """
    output = Path(output)
    return output.parent / f".{output.name}.checkpoint.pt"


def identity(
    settings: RunSettings, options: dict[str, Any], iterations: int, *, data: str | None = None
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed: the run's settings (with the kernels ``precision`` resolved to on
    this device, so a resume computes as the interrupted run did), the method's full options, the iterations,
    the validation hold-out when there is one, and ``data``, the fingerprint of real data read lazily (a folder that
    may change between runs; both absent otherwise, so older checkpoints still match)."""
    found = {
        "method": settings.method,
        "dataset": settings.dataset,
        "ipc": settings.ipc,
        "seed": settings.seed,
        "iterations": iterations,
        "options": options,
        "precision": settings.precision,
    }
    kernels = inference_kernels(settings.precision, getattr(settings, "device", "cpu"))
    if kernels != "fp32":  # how "auto" resolved on this device (absent for fp32, so older checkpoints still match)
        found["kernels"] = kernels
    validation = getattr(settings, "validation", 0)
    if validation:
        found["validation"] = validation
    if data is not None:
        found["data"] = data
    return found


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint file of one run, and the identity it must carry.

    Attributes:
        path: The file (:func:`checkpoint_path` of the output).
        identity: The run's identity (:func:`identity`); a file with another is refused.
    """

    path: Path
    identity: dict[str, Any]

    def save(
        self,
        iteration: int,
        method: Method,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        history: list[dict[str, float]],
    ) -> None:
        """Write the state after ``iteration`` atomically (temporary file, fsync, rename, fsync of the folder)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        state = {
            "identity": json.dumps(self.identity, sort_keys=True),
            "iteration": iteration,
            "method": method.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
            "history": json.dumps(history),
        }
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # the rename below must never expose a file whose bytes are not on disk yet
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)

    def read(self) -> dict[str, Any]:
        """The checkpoint's contents, refused (with what to do) if unreadable, incomplete or from another run.

        Raises:
            CondensationError: The file cannot be used; the message says why and what to do.
        """
        path, advice = self.path, "delete it to start over, or rerun without --resume"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
            raise CondensationError(f"checkpoint {path} cannot be read ({exc}); {advice}") from None
        missing = [k for k in _KEYS if not isinstance(state, dict) or k not in state]
        if missing:
            raise CondensationError(f"checkpoint {path} is incomplete (missing {', '.join(missing)}); {advice}")
        try:
            saved = json.loads(state["identity"])
        except (TypeError, ValueError):
            raise CondensationError(f"checkpoint {path} has an unreadable identity; {advice}") from None
        if saved != self.identity:
            diff = sorted(k for k in self.identity if saved.get(k) != self.identity[k])
            if diff == ["data"]:
                raise CondensationError(
                    f"checkpoint {path} was written for other real data: the dataset's files changed since (its "
                    f"fingerprint was {saved.get('data')}, it is now {self.identity['data']}); restore the data, "
                    "or delete the checkpoint to start over"
                )
            found = "; ".join(f"{k}: {saved.get(k)!r} in the checkpoint, {self.identity[k]!r} now" for k in diff)
            hint = ""
            if saved.get("precision") == "fp32" and self.identity.get("precision") == "auto":
                hint = " (runs before 2026-12-03 condensed in fp32 by default: pass --precision fp32 to resume one)"
            raise CondensationError(
                f"checkpoint {path} belongs to another run ({found}){hint}; rerun with the checkpoint's settings to "
                "resume, or delete it to start over"
            )
        return state

    def restore(
        self, state: dict[str, Any], method: Method, optimizer: torch.optim.Optimizer, generator: torch.Generator
    ) -> tuple[int, list[dict[str, float]]]:
        """Load ``state`` (from :meth:`read`) into the run's objects; returns the iteration and the history.

        Raises:
            CondensationError: The state does not fit this method (its shapes or keys differ).
        """
        try:
            method.load_state_dict(state["method"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"])
            return int(state["iteration"]), json.loads(state["history"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise CondensationError(
                f"checkpoint {self.path} does not fit this method's state ({exc}); delete it to start over"
            ) from None

    def remove(self) -> None:
        """Delete the file (once the artifact is written); a missing file is fine."""
        self.path.unlink(missing_ok=True)


class StopSignals:
    """While active, SIGINT/SIGTERM only set :attr:`received`; a second one acts as the previous handler would.

    Handlers can only be installed in the main thread; elsewhere this does nothing and :attr:`received` stays
    ``None``.

    >>> with StopSignals() as stop:
    ...     stop.received is None
    True
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():  # signal handlers can only be set there
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        self._restore()

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.received is None:
            self.received = signum
            logger.warning(
                "%s received: finishing this iteration, then writing a checkpoint (send it again to stop at once)",
                signal.Signals(signum).name,
            )
            return
        previous = self._previous.get(signum, signal.SIG_DFL)
        self._restore()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            os.kill(os.getpid(), signum)
