"""The optimization loop of a condensation run: steps, NaN guard, periodic evaluations and checkpoints, signals.

:class:`Run` holds one run's method, optimizer, random generator, processes and checkpoint, and the loop the driver
(:func:`condensed_data.condense.driver.condense`) calls between building the method and writing the artifact:
:meth:`Run.build`, then :meth:`Run.resume` (optional), :meth:`Run.optimize`, :meth:`Run.gather`. It calls on the
method only what the method contract promises: ``loss``, ``parameters``, ``make_optimizer``, ``synthetic``,
``state_dict``/``load_state_dict``, ``shard``, ``sharding``, ``after_step``, ``close``, ``diagnostics``,
``default_iterations`` and ``config.to_dict()``.

Every process of a multi-process run runs the same loop: one small reduction per iteration (loss, NaN and stop
flags) makes them take the same decisions; only the main process evaluates and writes the checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import signal
from pathlib import Path

import torch
from tqdm.auto import tqdm

from condensed_data.artifact.manifest import Recipe
from condensed_data.condense.checkpoint import (
    Checkpoint,
    CondensationError,
    CondensationInterrupted,
    StopSignals,
    identity,
)
from condensed_data.condense.config import CondenseConfig
from condensed_data.condense.method import Method
from condensed_data.condense.processes import Processes
from condensed_data.data import RealDataset, RealSource
from condensed_data.evaluate.protocol import evaluate
from condensed_data.nn.kernels import precision_scope
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["Run", "initial_generator", "make_method"]

logger = logging.getLogger(__name__)


def initial_generator(seed: int) -> torch.Generator:
    """The generator a run's method is initialized from: the same for every method at one ``seed``.

    >>> a, b = initial_generator(0), initial_generator(0)
    >>> torch.equal(torch.rand(2, generator=a), torch.rand(2, generator=b))
    True
    """
    return make_generator(derive_seed(seed, "initialize"))


def make_method(cls: type, config: CondenseConfig, real: RealSource, generator: torch.Generator) -> Method:
    """Instantiate the method class ``cls`` on ``real`` with ``config.options`` as its configuration."""
    method_config = cls.config_class.from_dict(dict(config.options))
    return cls(real, ipc=config.ipc, config=method_config, device=config.device, generator=generator)


class Run:
    """One run's optimization state and its loop: steps, NaN guard, periodic evaluations and checkpoints, signals.

    Built by :meth:`build`; then :meth:`resume` (optional), :meth:`optimize`, :meth:`gather`.
    """

    def __init__(
        self,
        config: CondenseConfig,
        method: Method,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        processes: Processes,
        checkpoint: Checkpoint,
        num_classes: int,
    ) -> None:
        self.config, self.method, self.optimizer, self.generator = config, method, optimizer, generator
        self.processes, self.checkpoint, self.num_classes = processes, checkpoint, num_classes
        self.multi = processes.count > 1
        self.by_classes = self.multi and method.sharding == "classes"
        self.start = 0
        self.history: list[dict[str, float]] = []
        self.diagnostics: list[dict[str, float]] = []  # what the method reported (main process; not checkpointed)
        self.last_good: int | None = None  # the iteration the checkpoint on disk holds

    @classmethod
    def build(
        cls, config: CondenseConfig, method_class: type, real: RealSource, processes: Processes, path: Path
    ) -> Run:
        """The method on ``real`` (this process's share of it), its optimizer, generator and checkpoint.

        The method is initialized from a generator that depends on the seed only (:func:`initial_generator`), so
        every method starts from the same draw of real images at one seed (DM, ATOM and ECHO from the same images,
        LD3M encodes them); the run's own stream (real batches, networks, augmentation) then comes from a generator
        keyed by the seed and the method.
        """
        generator = make_generator(derive_seed(config.seed, "condense", config.method.lower()))
        method = make_method(method_class, config, real.to(config.device), initial_generator(config.seed))
        iterations = config.iterations if config.iterations is not None else method.default_iterations
        config = dataclasses.replace(config, iterations=iterations)
        if processes.count > 1:
            try:
                method.shard(processes.index, processes.count)
            except ValueError as exc:
                raise CondensationError(str(exc)) from None
            if processes.is_main:
                logger.info("%d processes, split by %s, on %s", processes.count, method.sharding, config.device)
        optimizer = method.make_optimizer()
        lazy = None if isinstance(real, RealDataset) else real.fingerprint()  # a folder can change between runs
        checkpoint = Checkpoint(path, identity(config, method.config.to_dict(), iterations, data=lazy))
        return cls(config, method, optimizer, generator, processes, checkpoint, real.num_classes)

    def resume(self) -> None:
        """Continue from the checkpoint if there is one (refused with a message if it does not fit)."""
        state, error = None, None
        if self.processes.is_main and self.checkpoint.path.exists():
            try:
                state = self.checkpoint.read()
            except CondensationError as exc:
                error = str(exc)
        # The main process reads the checkpoint and every process resumes from its copy (no shared disk needed).
        if self.multi:
            state, error = self.processes.broadcast((state, error))
        if error is not None:
            raise CondensationError(error)
        if state is not None:
            self.start, self.history = self.checkpoint.restore(state, self.method, self.optimizer, self.generator)
            if self.processes.is_main:
                logger.info("resumed %s from iteration %d", self.checkpoint.path, self.start)
        self.last_good = self.start if self.start > 0 else None

    def optimize(self, test: RealSource | None, recipe: Recipe, *, progress: bool) -> None:
        """Run the remaining iterations, evaluating and checkpointing as configured."""
        cfg = self.config
        bar = tqdm(
            range(self.start, cfg.iterations),
            initial=self.start,
            total=cfg.iterations,
            desc=f"condense {cfg.method} ipc={cfg.ipc}",
            disable=not (progress and self.processes.is_main),
            mininterval=1.0,
        )
        with StopSignals() as stop, contextlib.closing(self.method):
            for it in bar:
                value, stopping = self._step(it, stop)
                done = it + 1
                self._record_diagnostics(it)
                if cfg.eval_every and cfg.evaluate and done % cfg.eval_every == 0 and done < cfg.iterations:
                    self._evaluate(done, value, test, recipe)
                bar.set_postfix(self._postfix(value), refresh=False)
                periodic = cfg.checkpoint_every and (done % cfg.checkpoint_every == 0 or done == cfg.iterations)
                if periodic or stopping:
                    self._save(done)
                if stopping:
                    bar.close()
                    raise self._interrupted(stop.received, done)
        bar.close()

    def gather(self) -> None:
        """Give every process every class's rows (class-sharded runs only)."""
        if self.by_classes:
            self.processes.sync_class_rows(self.method.parameters(), self.optimizer, self.num_classes)

    def _step(self, it: int, stop: StopSignals) -> tuple[float, bool]:
        """One optimizer step; returns the loss (summed over processes) and whether to stop after it."""
        method, optimizer = self.method, self.optimizer
        with precision_scope(self.config.precision, self.config.device):
            loss = method.loss(iteration=it, generator=self.generator)
        value = float(loss.detach())
        if not self.multi and not math.isfinite(value):
            raise self._diverged(f"loss became {value}", it)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.multi and method.sharding == "data":
            for p in method.parameters():
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                self.processes.average_(p.grad)
        optimizer.step()
        method.after_step()
        bad = not all(torch.isfinite(p).all() for p in method.parameters())
        stopping = stop.received is not None
        if self.multi:  # one small reduction: every process takes the same decisions
            value, bad_count, stop_count = self.processes.sum([value, float(bad), float(stopping)])
            if not math.isfinite(value):
                raise self._diverged(f"loss became {value}", it)
            bad, stopping = bad_count > 0, stop_count > 0
        if bad:
            raise self._diverged("synthetic parameters became NaN/inf", it)
        return value, stopping

    def _record_diagnostics(self, it: int) -> None:
        """Log and keep what the method reports about the loss of iteration ``it`` (0-based), if anything."""
        diagnostics = self.method.diagnostics()
        if diagnostics and self.processes.is_main:
            self.diagnostics.append({"iteration": it, **diagnostics})
            logger.info("loss of iteration %d: %s", it, ", ".join(f"{k} {v:.4g}" for k, v in diagnostics.items()))

    def _evaluate(self, done: int, value: float, test: RealSource | None, recipe: Recipe) -> None:
        """Train one network on the set so far (main process) and keep its accuracy in the history."""
        self.gather()
        if not self.processes.is_main:
            return
        images, labels = self.method.synthetic()
        cfg = self.config
        one = dataclasses.replace(cfg.eval, models=1)
        [e] = evaluate(images, labels, test, config=one, seed=cfg.eval_seed, device=cfg.device, normalization=recipe)
        self.history.append({"iteration": done, "accuracy": e.accuracy_mean, "loss": value})
        logger.info("iteration %d: test accuracy %.4f (%s, 1 model)", done, e.accuracy_mean, e.arch)

    def _postfix(self, value: float) -> dict[str, str]:
        postfix = {"loss": f"{value:.4g}"}
        if self.history:
            last = self.history[-1]
            postfix["acc"] = f"{100 * last['accuracy']:.2f}% @{last['iteration']}"
        return postfix

    def _save(self, done: int) -> None:
        self.gather()
        if self.processes.is_main:
            self.checkpoint.save(done, self.method, self.optimizer, self.generator, self.history)
        self.last_good = done

    def _interrupted(self, signum: int | None, done: int) -> CondensationInterrupted:
        # Another process may have received the signal: this one then stops as if by SIGTERM.
        signum = int(signum or signal.SIGTERM)
        return CondensationInterrupted(
            f"stopped by {signal.Signals(signum).name} after iteration {done} of {self.config.iterations}; the run is "
            f"saved in {self.checkpoint.path}. Rerun the same command with --resume to continue (in Python: "
            "condense(..., resume=True))",
            signum=signum,
            iteration=done,
        )

    def _diverged(self, what: str, iteration: int) -> CondensationError:
        kept = (
            f"the last good state (iteration {self.last_good}) is kept in {self.checkpoint.path}"
            if self.last_good is not None
            else "no checkpoint was written yet"
        )
        return CondensationError(
            f"{what} at iteration {iteration}; {kept}. Lower the learning rate (e.g. --set lr_img=0.1) and rerun "
            "(with --resume to continue from the checkpoint)"
        )
