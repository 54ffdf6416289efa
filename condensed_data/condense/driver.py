"""The condensation driver: the loop, progress, checkpoints, evaluation and export to an artifact.

Methods (plugins) only provide parameters, an optimizer and a loss (:class:`condensed_data.condense.method.Method`); the
driver runs them, so every method gets the same progress bar, NaN guard, checkpoints and artifact format.

Checkpoints go to ``.<output name>.checkpoint.pt`` beside the output folder, written atomically (a temporary
file, fsync, rename: never half-written) every ``checkpoint_every`` iterations and after the last one: synthetic
parameters, optimizer state, the iteration, the state of the single random generator every draw comes from and
the evaluation history. ``resume=True`` continues from it (same config required; a checkpoint of another run or an
unreadable one is refused with a message), so a run killed at any point, even with SIGKILL, ends with the same
artifact as an uninterrupted one. SIGINT and SIGTERM during the loop finish the current iteration, write a
checkpoint and raise :class:`CondensationInterrupted` (a second signal acts as it did before). The checkpoint is
removed once the artifact is written.

Several processes (``torchrun`` or ``accelerate launch``, see :mod:`condensed_data.condense.processes`): each process
optimizes its share (its classes for per-class representations), draws the same random stream as a single process
would, and takes part in one small reduction per iteration (loss, NaN and stop flags). The main process alone
reads and writes the checkpoint (holding every class), shows progress, evaluates and writes the artifact; the
others return once the condensed set is gathered.

>>> cfg = CondenseConfig(method="dm", dataset="digits", ipc=1, iterations=10)  # doctest: +SKIP
>>> result = condense(cfg, "out/digits-dm-ipc1")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from condensed_data.artifact.card import render_card, save_preview
from condensed_data.artifact.folder import fsync_dir, save_artifact
from condensed_data.artifact.manifest import Evaluation, Manifest, MethodSpec, Recipe, SourceInfo, ValueSpace
from condensed_data.condense.method import Method
from condensed_data.condense.processes import Processes, class_block
from condensed_data.condense.registry import get_method, method_info
from condensed_data.data import RealDataset, load_dataset
from condensed_data.evaluate.protocol import EvalConfig, evaluate, evaluate_random_real
from condensed_data.runtime import autocast
from condensed_data.seeding import derive_seed, make_generator

__all__ = [
    "CondenseConfig",
    "CondenseResult",
    "CondensationError",
    "CondensationInterrupted",
    "condense",
    "checkpoint_path",
    "build_method",
]

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class CondenseConfig:
    """One condensation run.

    Attributes:
        method: Registered method name (``condensed-data methods`` lists them).
        dataset: Real dataset name (``fashion-mnist``, ``digits``).
        ipc: Images per class.
        iterations: Optimization iterations (``None``: the method's default, e.g. 20,000 for DM).
        seed: Base seed; every random draw of the run derives from it.
        options: Overrides of the method's configuration (e.g. ``{"lr_img": 0.5}``).
        precision: Autocast for the method's forward passes: ``"fp32"`` (default), ``"bf16"`` or ``"auto"``.
        checkpoint_every: Iterations between checkpoints, also written after the last iteration (0 disables the
            periodic ones; SIGINT/SIGTERM still write one).
        eval_every: Iterations between evaluations during the run (0: only the final one); each trains one
            network with the ``eval`` protocol and is logged, shown in the progress bar and kept in the history.
        eval: The final evaluation protocol; ``eval.models == 0`` is not allowed, use ``evaluate=False``.
        eval_archs: Architectures of the final evaluation (cross-architecture); empty means ``(eval.arch,)``.
        evaluate: Evaluate the result (and the random-real baseline) and record it in the manifest.
        baseline: Also evaluate ``ipc`` random real images per class under the same protocol.
        device: ``"cpu"``, ``"cuda"``, ...
    """

    method: str = "dm"
    dataset: str = "fashion-mnist"
    ipc: int = 10
    iterations: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    checkpoint_every: int = 100
    eval_every: int = 0
    eval: EvalConfig = EvalConfig()
    eval_archs: tuple[str, ...] = ()
    evaluate: bool = True
    baseline: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.ipc, int) or self.ipc < 1:
            raise ValueError(f"ipc (images per class) must be an integer >= 1, got {self.ipc!r}")
        if self.iterations is not None and self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.checkpoint_every < 0 or self.eval_every < 0:
            raise ValueError("checkpoint_every and eval_every must be >= 0")


@dataclass
class CondenseResult:
    """What a run produced: the artifact folder and its manifest, plus the evaluations.

    In a multi-process run only the main process (``main_process``) writes and evaluates; the others get
    ``manifest=None`` and no evaluations.
    """

    folder: Path
    manifest: Manifest | None
    evaluations: list[Evaluation]
    baseline: list[Evaluation]
    history: list[dict[str, float]] = field(default_factory=list)
    main_process: bool = True


def checkpoint_path(output: str | os.PathLike) -> Path:
    """Where the checkpoint of a run writing ``output`` lives."""
    output = Path(output)
    return output.parent / f".{output.name}.checkpoint.pt"


def build_method(config: CondenseConfig, real: RealDataset, generator: torch.Generator) -> Method:
    """Instantiate the configured method on ``real``."""
    cls = get_method(config.method)
    method_config = cls.config_class.from_dict(dict(config.options))
    return cls(real, ipc=config.ipc, config=method_config, device=config.device, generator=generator)


def _identity(config: CondenseConfig, method: Method, iterations: int) -> dict[str, Any]:
    """What a checkpoint must match to be resumed."""
    return {
        "method": config.method,
        "dataset": config.dataset,
        "ipc": config.ipc,
        "seed": config.seed,
        "iterations": iterations,
        "options": method.config.to_dict(),
        "precision": config.precision,
    }


_CHECKPOINT_KEYS = ("identity", "iteration", "method", "optimizer", "generator", "history")


def _save_checkpoint(
    path: Path, identity: dict, iteration: int, method: Method, optimizer, generator, history: list[dict[str, float]]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    state = {
        "identity": json.dumps(identity, sort_keys=True),
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
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _read_checkpoint(path: Path, identity: dict) -> dict[str, Any]:
    """The checkpoint's contents, refused (with what to do) if unreadable, incomplete or from another run."""
    advice = "delete it to start over, or rerun without --resume"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise CondensationError(f"checkpoint {path} cannot be read ({exc}); {advice}") from None
    missing = [k for k in _CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state]
    if missing:
        raise CondensationError(f"checkpoint {path} is incomplete (missing {', '.join(missing)}); {advice}")
    try:
        saved = json.loads(state["identity"])
    except (TypeError, ValueError):
        raise CondensationError(f"checkpoint {path} has an unreadable identity; {advice}") from None
    if saved != identity:
        diff = sorted(k for k in identity if saved.get(k) != identity[k])
        raise CondensationError(
            f"checkpoint {path} belongs to another run (differs in: {', '.join(diff)}); "
            "delete it or rerun with the same settings to resume"
        )
    return state


def _restore(path: Path, state: dict[str, Any], method: Method, optimizer, generator) -> tuple[int, list]:
    try:
        method.load_state_dict(state["method"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        return int(state["iteration"]), json.loads(state["history"])
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise CondensationError(
            f"checkpoint {path} does not fit this method's state ({exc}); delete it to start over"
        ) from None


def _load_checkpoint(path: Path, identity: dict, method: Method, optimizer, generator) -> tuple[int, list]:
    return _restore(path, _read_checkpoint(path, identity), method, optimizer, generator)


def _sync_shards(processes: Processes, method: Method, optimizer) -> None:
    """Give every process every class's rows (parameters and same-shaped optimizer state) from their owners.

    Only needed for ``sharding == "classes"``: a process's own optimizer steps leave other classes' rows unchanged
    or drifting (momentum), never reading them, so overwriting them is harmless.
    """
    k = method.real.num_classes
    blocks = [class_block(k, r, processes.count) for r in range(processes.count)]
    for p in method.parameters():
        state = optimizer.state.get(p, {})
        tensors = [p] + [
            state[key] for key in sorted(state) if torch.is_tensor(state[key]) and state[key].shape == p.shape
        ]
        for t in tensors:
            rows = t.shape[0] // k
            parts = processes.gather(t.detach())
            merged = torch.cat([part[b.start * rows : b.stop * rows] for part, b in zip(parts, blocks, strict=True)])
            with torch.no_grad():
                t.copy_(merged)


class _StopSignals:
    """While active, SIGINT/SIGTERM only set :attr:`received`; a second one acts as the previous handler would."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
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


def _manifest(config: CondenseConfig, method: Method, real: RealDataset, evaluations: list[Evaluation]) -> Manifest:
    info = {m.name: m for m in method_info()}.get(config.method.lower())
    cfg = config.eval
    recorded = {**method.config.to_dict(), "iterations": config.iterations}
    objective = getattr(method, "objective", None)
    if "objective" in recorded and objective is not None:  # what ran, also when build_objective was overridden
        recorded["objective"] = getattr(objective, "name", type(objective).__name__)
    return Manifest(
        kind=method.kind,
        method=MethodSpec(
            name=config.method.lower(),
            config=recorded,
            distribution=info.distribution if info else "",
            version=info.version if info else "",
        ),
        source=SourceInfo(name=real.name, split=real.split, num_samples=len(real), fingerprint=real.fingerprint()),
        classes=tuple(real.classes),
        images_per_class=config.ipc,
        image_shape=tuple(real.image_shape),
        recipe=Recipe(
            mean=tuple(real.mean),
            std=tuple(real.std),
            augmentation="none" if cfg.augmentation == "none" else f"dsa:{cfg.augmentation}",
            arch=cfg.arch,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            lr=cfg.lr,
            momentum=cfg.momentum,
            weight_decay=cfg.weight_decay,
        ),
        value_space=ValueSpace(pixel_range=(0.0, 1.0), clamped=False),
        evaluation=tuple(evaluations),
        seed=config.seed,
    )


def _diverged(what: str, iteration: int, last_good: int | None, ckpt: Path) -> CondensationError:
    kept = (
        f"the last good state (iteration {last_good}) is kept in {ckpt}"
        if last_good is not None
        else "no checkpoint was written yet"
    )
    return CondensationError(
        f"{what} at iteration {iteration}; {kept}. Lower the learning rate (e.g. --set lr_img=0.1) and rerun "
        "(with --resume to continue from the checkpoint)"
    )


def condense(
    config: CondenseConfig,
    output: str | os.PathLike,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    real: RealDataset | None = None,
    test: RealDataset | None = None,
    data_root: str | os.PathLike | None = None,
    download: bool = False,
    accelerator: Any | None = None,
) -> CondenseResult:
    """Condense ``config.dataset`` with ``config.method`` and write the artifact to ``output``.

    Started by ``torchrun`` or ``accelerate launch`` (or inside an initialized process group), the run is split over
    the processes as the method's :attr:`~condensed_data.condense.method.Method.sharding` says; started plainly, it is one
    process.

    Args:
        config: The run.
        output: Artifact folder to create (refused if it exists, unless ``overwrite``).
        overwrite: Replace an existing artifact (only once the new one is complete).
        resume: Continue from this output's checkpoint if one exists.
        progress: Show progress bars (on the main process).
        real, test: Real training/test data (loaded by name from ``config.dataset`` when omitted).
        data_root, download: Passed to :func:`condensed_data.data.load_dataset`.
        accelerator: An ``accelerate.Accelerator`` to run under (default: one is created when launched as several
            processes).

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false (checked before any work).
        CondensationError: The loss became NaN/inf (the last good checkpoint is kept), or a bad checkpoint.
        CondensationInterrupted: SIGINT/SIGTERM stopped the run; its checkpoint is written.

    Example:
        >>> cfg = CondenseConfig(method="dm", dataset="digits", ipc=1, iterations=10, evaluate=False)  # doctest: +SKIP
        >>> condense(cfg, "out/digits-dm-ipc1").manifest.images_per_class  # doctest: +SKIP
        1
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} already exists; choose another --output or pass --overwrite to replace it")
    processes = Processes.from_environment(config.device, accelerator)
    main, multi = processes.is_main, processes.count > 1
    config = dataclasses.replace(config, device=str(processes.device(config.device)))
    if real is None or (config.evaluate and test is None and main):
        if multi and download and not main:
            processes.wait()  # the main process downloads first
        real = real if real is not None else load_dataset(config.dataset, "train", root=data_root, download=download)
        if config.evaluate and test is None and main:
            test = load_dataset(config.dataset, "test", root=data_root, download=download)
        if multi and download and main:
            processes.wait()
    generator = make_generator(derive_seed(config.seed, "condense", config.method.lower()))
    method = build_method(config, real.to(config.device), generator)
    iterations = config.iterations if config.iterations is not None else method.default_iterations
    config = dataclasses.replace(config, iterations=iterations)
    if multi:
        try:
            method.shard(processes.index, processes.count)
        except ValueError as exc:
            raise CondensationError(str(exc)) from None
        if main:
            logger.info("%d processes, split by %s, on %s", processes.count, method.sharding, config.device)
    optimizer = method.make_optimizer()
    ckpt = checkpoint_path(output)
    identity = _identity(config, method, iterations)
    start, history = 0, []
    if resume:
        state, error = None, None
        if main and ckpt.exists():
            try:
                state = _read_checkpoint(ckpt, identity)
            except CondensationError as exc:
                error = str(exc)
        # The main process reads the checkpoint and every process resumes from its copy (no shared disk needed).
        state, error = processes.broadcast((state, error)) if multi else (state, error)
        if error is not None:
            raise CondensationError(error)
        if state is not None:
            start, history = _restore(ckpt, state, method, optimizer, generator)
            if main:
                logger.info("resumed %s from iteration %d", ckpt, start)
    last_good = start if start > 0 else None
    recipe = (real.mean, real.std)  # what the set is condensed under, recorded as the recipe; evaluations use it
    by_classes = multi and method.sharding == "classes"

    def checkpoint(done: int) -> None:
        if by_classes:
            _sync_shards(processes, method, optimizer)
        if main:
            _save_checkpoint(ckpt, identity, done, method, optimizer, generator, history)

    bar = tqdm(
        range(start, iterations),
        initial=start,
        total=iterations,
        desc=f"condense {config.method} ipc={config.ipc}",
        disable=not (progress and main),
        mininterval=1.0,
    )
    with _StopSignals() as stop:
        for it in bar:
            with autocast(config.precision, config.device):
                loss = method.loss(iteration=it, generator=generator)
            value = float(loss.detach())
            if not multi and not math.isfinite(value):
                raise _diverged(f"loss became {value}", it, last_good, ckpt)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if multi and method.sharding == "data":
                for p in method.parameters():
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
                    processes.average_(p.grad)
            optimizer.step()
            bad = not all(torch.isfinite(p).all() for p in method.parameters())
            stopping = stop.received is not None
            if multi:  # one small reduction: every process takes the same decisions
                value, bad_count, stop_count = processes.sum([value, float(bad), float(stopping)])
                if not math.isfinite(value):
                    raise _diverged(f"loss became {value}", it, last_good, ckpt)
                bad, stopping = bad_count > 0, stop_count > 0
            if bad:
                raise _diverged("synthetic parameters became NaN/inf", it, last_good, ckpt)
            done = it + 1
            if config.eval_every and config.evaluate and done % config.eval_every == 0 and done < iterations:
                if by_classes:
                    _sync_shards(processes, method, optimizer)
                if main:
                    images, labels = method.synthetic()
                    [e] = evaluate(
                        images,
                        labels,
                        test,
                        config=dataclasses.replace(config.eval, models=1),
                        seed=config.seed,
                        device=config.device,
                        normalization=recipe,
                    )
                    history.append({"iteration": done, "accuracy": e.accuracy_mean, "loss": value})
                    logger.info("iteration %d: test accuracy %.4f (%s, 1 model)", done, e.accuracy_mean, e.arch)
            postfix = {"loss": f"{value:.4g}"}
            if history:
                postfix["acc"] = f"{100 * history[-1]['accuracy']:.2f}% @{history[-1]['iteration']}"
            bar.set_postfix(postfix, refresh=False)
            periodic = config.checkpoint_every and (done % config.checkpoint_every == 0 or done == iterations)
            if periodic or stopping:
                checkpoint(done)
                last_good = done
            if stopping:
                bar.close()
                name = signal.Signals(stop.received or signal.SIGTERM).name
                raise CondensationInterrupted(
                    f"stopped by {name} after iteration {done} of {iterations}; the run is saved in {ckpt}. "
                    "Rerun the same command with --resume to continue (in Python: condense(..., resume=True))",
                    signum=int(stop.received or signal.SIGTERM),
                    iteration=done,
                )
    bar.close()

    if by_classes:
        _sync_shards(processes, method, optimizer)
    if not main:
        return CondenseResult(
            folder=output, manifest=None, evaluations=[], baseline=[], history=history, main_process=False
        )
    images, labels = method.synthetic()
    evaluations: list[Evaluation] = []
    baseline: list[Evaluation] = []
    if config.evaluate:
        archs = list(config.eval_archs) or None
        evaluations = evaluate(
            images, labels, test, config=config.eval, archs=archs, seed=config.seed, device=config.device,
            normalization=recipe,
            progress=progress,
        )  # fmt: skip
        if config.baseline:
            baseline = evaluate_random_real(
                real,
                test,
                ipc=config.ipc,
                config=config.eval,
                archs=archs,
                seed=config.seed,
                device=config.device,
                normalization=recipe,
                progress=progress,
            )

    manifest = _manifest(config, method, real, evaluations + baseline)

    def write(folder: Path) -> None:
        method.export(folder)
        save_preview(folder / "preview.png", images, labels, real.classes)

    manifest = save_artifact(output, manifest, write, overwrite=overwrite, card=render_card)
    ckpt.unlink(missing_ok=True)
    return CondenseResult(folder=output, manifest=manifest, evaluations=evaluations, baseline=baseline, history=history)
