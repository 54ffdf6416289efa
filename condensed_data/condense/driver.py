"""The condensation driver: :func:`condense` runs any method and writes its artifact.

Methods (plugins) only provide parameters, an optimizer and a loss (:class:`condensed_data.condense.method.Method`); the
driver runs them, so every method gets the same progress bar, NaN guard, checkpoints and artifact format. A run is a
few named steps: load the real data, build the method (looked up once in the registry, which also says which
distribution it comes from), resume from a checkpoint, optimize (:class:`~condensed_data.condense.loop.Run`: the
loop, periodic evaluations and checkpoints, stop signals), gather the shards, evaluate, write the artifact.

Checkpoints (:mod:`condensed_data.condense.checkpoint`) go to ``.<output name>.checkpoint.pt`` beside the output
folder, written atomically every ``checkpoint_every`` iterations and after the last one. ``resume=True`` continues
from it (same config required; a checkpoint of another run or an unreadable one is refused with a message), so a run
killed at any point, even with SIGKILL, ends with the same artifact as an uninterrupted one. SIGINT and SIGTERM
during the loop finish the current iteration, write a checkpoint and raise :class:`CondensationInterrupted` (a
second signal acts as it did before). The checkpoint is removed once the artifact is written.

Several processes (``torchrun`` or ``accelerate launch``, see :mod:`condensed_data.condense.processes`): each process
optimizes its share (its classes for per-class representations), draws the same random stream as a single process
would, and takes part in one small reduction per iteration (loss, NaN and stop flags). The main process alone
reads and writes the checkpoint (holding every class), shows progress, evaluates and writes the artifact; the
others return once the condensed set is gathered.

The normalization the set is condensed under (the real data's mean and std) travels as the :class:`Recipe` recorded
in the manifest; evaluations during and after the run use that same recipe.

With ``labels="soft"`` (any method), the condensed items are labelled once the optimization is over by a teacher
trained on the real train split (:mod:`condensed_data.condense.soft_labels`): the artifact stores the (N, K)
probabilities as kind ``tensors``, records the teacher, and the final evaluation and the random-real baseline both
train on soft labels (the baseline's images labelled by the same teacher). Evaluations during the run
(``eval_every``) track the optimization with hard labels.

>>> cfg = CondenseConfig(method="dm", dataset="digits", ipc=1, iterations=10)  # doctest: +SKIP
>>> result = condense(cfg, "out/digits-dm-ipc1")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch

import condensed_data.condense.soft_labels as labelling
from condensed_data.artifact.card import render_card, save_preview
from condensed_data.artifact.folder import save_artifact
from condensed_data.artifact.manifest import (
    Evaluation,
    Holdout,
    Manifest,
    MethodSpec,
    Recipe,
    SourceInfo,
    ValueSpace,
)
from condensed_data.condense.checkpoint import CondensationError, CondensationInterrupted, checkpoint_path
from condensed_data.condense.config import CondenseConfig, CondenseResult
from condensed_data.condense.loop import Run, make_method
from condensed_data.condense.method import Method
from condensed_data.condense.processes import Processes
from condensed_data.condense.registry import Registered, lookup
from condensed_data.data import RealSource, load_dataset
from condensed_data.evaluate.protocol import evaluate, evaluate_random_real
from condensed_data.sources.tensors import IMAGES_FILE, save_tensors

__all__ = [
    "CondenseConfig",
    "CondenseResult",
    "CondensationError",
    "CondensationInterrupted",
    "condense",
    "checkpoint_path",
    "build_method",
]

HOLDOUT_SEED = 0  # one validation split for every run, whatever its seed: sweeps compare runs on the same images


def build_method(config: CondenseConfig, real: RealSource, generator: torch.Generator) -> Method:
    """Instantiate the configured method on ``real``.

    Example:
        >>> from condensed_data.seeding import make_generator
        >>> from condensed_data.testing import tiny_real_dataset
        >>> method = build_method(CondenseConfig(method="dm", ipc=2), tiny_real_dataset(), make_generator(0))
        >>> method.synthetic()[0].shape
        torch.Size([6, 1, 8, 8])
    """
    return make_method(lookup(config.method).cls, config, real, generator)


def condense(
    config: CondenseConfig,
    output: str | os.PathLike,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress: bool = True,
    real: RealSource | None = None,
    test: RealSource | None = None,
    data_root: str | os.PathLike | None = None,
    download: bool = False,
    accelerator: Any | None = None,
    teacher: torch.nn.Module | None = None,
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
        real, test: Real training/test data (loaded by name from ``config.dataset`` when omitted). With
            ``config.validation`` the run condenses ``real`` minus a held-out validation split and tests on that
            split, so ``test`` must be omitted.
        data_root, download: Passed to :func:`condensed_data.data.load_dataset`.
        accelerator: An ``accelerate.Accelerator`` to run under (default: one is created when launched as several
            processes).
        teacher: For ``config.labels == "soft"``, the network that labels the set (default: the one
            ``config.teacher`` describes, from :func:`~condensed_data.condense.soft_labels.teacher_network`); it
            must be the network the manifest's teacher record describes.

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
    if teacher is not None and config.labels != "soft":
        raise ValueError("a teacher labels soft-label sets: pass labels='soft' (CLI: --labels soft) or no teacher")
    processes = Processes.from_environment(config.device, accelerator)
    config = dataclasses.replace(config, device=str(processes.device(config.device)))
    real, test = _load_data(config, processes, real, test, data_root=data_root, download=download)
    config = config.for_images(real.image_shape)  # networks recorded as built: convnet -> convnet-d4 at 64 px
    found = lookup(config.method)
    run = Run.build(config, found.cls, real, processes, checkpoint_path(output))
    config = run.config  # with the method's default number of iterations filled in
    recipe = _recipe(config, real)
    if resume:
        run.resume()
    run.optimize(test, recipe, progress=progress)
    run.gather()
    if not processes.is_main:
        return CondenseResult(
            folder=output, manifest=None, evaluations=[], baseline=[], history=run.history, main_process=False
        )
    images, labels = run.method.synthetic()
    labeller = _labeller(config, real, teacher)
    targets = labels if labeller is None else labeller(images)
    evaluations, baseline = _final_evaluations(
        config, images, targets, real, test, recipe, progress=progress, labeller=labeller
    )
    validation = test if config.validation else None
    manifest = _manifest(config, found, run.method, real, validation, recipe, evaluations + baseline)
    manifest = _write_artifact(
        output,
        manifest,
        run.method,
        images,
        labels,
        real.classes,
        overwrite=overwrite,
        soft=targets if labeller else None,
    )
    run.checkpoint.remove()
    return CondenseResult(
        folder=output,
        manifest=manifest,
        evaluations=evaluations,
        baseline=baseline,
        history=run.history,
        diagnostics=run.diagnostics,
    )


def _load_data(
    config: CondenseConfig,
    processes: Processes,
    real: RealSource | None,
    test: RealSource | None,
    *,
    data_root: str | os.PathLike | None,
    download: bool,
) -> tuple[RealSource, RealSource | None]:
    """The real training data, and the test data where this process evaluates (the main one).

    With a validation hold-out: the train split minus the held-out images, and the held-out images.
    """
    main, multi = processes.is_main, processes.count > 1
    if config.validation and test is not None:
        raise ValueError(
            "condense() got a test set and a validation hold-out: with validation the evaluations test on the "
            "held-out images; pass test=None, or validation=0 to test on the given test set"
        )
    needs_test = config.evaluate and test is None and main and not config.validation
    if real is None or needs_test:
        if multi and download and not main:
            processes.wait()  # the main process downloads first
        if real is None:
            real = load_dataset(config.dataset, "train", root=data_root, download=download)
        if needs_test:
            test = load_dataset(config.dataset, "test", root=data_root, download=download)
        if multi and download and main:
            processes.wait()
    if config.validation:
        return real.holdout(config.validation, seed=HOLDOUT_SEED)
    return real, test


def _labeller(config: CondenseConfig, real: RealSource, teacher: torch.nn.Module | None):
    """For soft labels, the function labelling pixel images with the teacher's tempered probabilities (else None)."""
    if config.labels != "soft":
        return None
    net = teacher if teacher is not None else labelling.teacher_network(real, config.teacher, device=config.device)
    options = {"temperature": config.temperature, "mean": real.mean, "std": real.std, "device": config.device}
    return lambda images: labelling.soft_labels(net, images, **options)


def _recipe(config: CondenseConfig, real: RealSource) -> Recipe:
    """The training recipe the set is made for: the real data's normalization and the evaluation protocol."""
    cfg = config.eval
    return Recipe(
        mean=tuple(real.mean),
        std=tuple(real.std),
        augmentation="none" if cfg.augmentation == "none" else f"dsa:{cfg.augmentation}",
        arch=cfg.arch,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        targets=config.labels,
    )


def _final_evaluations(
    config: CondenseConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    real: RealSource,
    test: RealSource | None,
    recipe: Recipe,
    *,
    progress: bool,
    labeller=None,
) -> tuple[list[Evaluation], list[Evaluation]]:
    """The set's evaluations and the random-real baseline's (empty when switched off); ``labeller`` labels the
    baseline's images as the set's were labelled (soft labels)."""
    if not config.evaluate:
        return [], []
    archs = list(config.eval_archs) or None
    common = {"config": config.eval, "archs": archs, "seed": config.eval_seed, "device": config.device}
    common.update(normalization=recipe, progress=progress)
    evaluations = evaluate(images, labels, test, **common)
    baseline = []
    if config.baseline:
        baseline = evaluate_random_real(real, test, ipc=config.ipc, draw_seed=config.seed, labeller=labeller, **common)
    return evaluations, baseline


def _source(config: CondenseConfig, real: RealSource, validation: RealSource | None) -> SourceInfo:
    """What the set was condensed from: ``real`` (the train part when images were held out for validation)."""
    held = None
    if config.validation:
        held = Holdout(
            per_class=config.validation,
            seed=HOLDOUT_SEED,
            num_samples=len(validation),
            fingerprint=validation.fingerprint(),
        )
    return SourceInfo(
        name=real.name, split=real.split, num_samples=len(real), fingerprint=real.fingerprint(), validation=held
    )


def _manifest(
    config: CondenseConfig,
    found: Registered,
    method: Method,
    real: RealSource,
    validation: RealSource | None,
    recipe: Recipe,
    evaluations: list[Evaluation],
) -> Manifest:
    recorded = {**method.config.to_dict(), "iterations": config.iterations}
    objective = getattr(method, "objective", None)
    if "objective" in recorded and objective is not None:  # what ran, also when build_objective was overridden
        recorded["objective"] = getattr(objective, "name", type(objective).__name__)
    return Manifest(
        kind="tensors" if config.labels == "soft" else method.kind,
        method=MethodSpec(
            name=config.method.lower(), config=recorded, distribution=found.distribution, version=found.version
        ),
        source=_source(config, real, validation),
        classes=tuple(real.classes),
        images_per_class=config.ipc,
        image_shape=tuple(real.image_shape),
        recipe=recipe,
        value_space=ValueSpace(pixel_range=(0.0, 1.0), clamped=False),
        evaluation=tuple(evaluations),
        seed=config.seed,
        decode=method.decode,
        label_kind=config.labels,
        teacher=config.teacher,
    )


def _write_artifact(
    output: Path,
    manifest: Manifest,
    method: Method,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: list[str],
    *,
    overwrite: bool,
    soft: torch.Tensor | None = None,
) -> Manifest:
    """Write the artifact folder atomically: the method's files, the preview, the card and the manifest.

    With ``soft`` labels, a method of kind ``tensors`` exports as usual and its stored labels are replaced by the
    soft ones (one row per item); any other kind is materialized (``images``) as kind ``tensors``.
    """

    def write(folder: Path) -> None:
        if soft is None:
            method.export(folder)
        elif method.kind == "tensors":
            method.export(folder)
            _replace_labels(folder / IMAGES_FILE, soft)
        else:
            save_tensors(folder, images, soft)
        save_preview(folder / "preview.png", images, labels, classes)

    return save_artifact(output, manifest, write, overwrite=overwrite, card=render_card)


def _replace_labels(path: Path, labels: torch.Tensor) -> None:
    """Replace the ``labels`` tensor of a tensors file by ``labels`` (same rows), keeping every other tensor and the
    metadata."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        tensors = {key: f.get_tensor(key) for key in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
        metadata = f.metadata()
    if tensors["labels"].shape[0] != labels.shape[0]:
        raise ValueError(
            f"{path}: the method stores {tensors['labels'].shape[0]} labels but {labels.shape[0]} items were labelled"
        )
    tensors["labels"] = labels.detach().to("cpu", torch.float32).contiguous()
    save_file(tensors, str(path), metadata=metadata)
