"""What a condensation run is (:class:`CondenseConfig`) and what it produced (:class:`CondenseResult`).

Both are re-exported by :mod:`condensed_data.condense.driver` and :mod:`condensed_data.condense`, where
:func:`~condensed_data.condense.driver.condense` takes the one and returns the other.

>>> CondenseConfig(method="dm", dataset="digits", ipc=1).iterations is None  # the method's default
True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from condensed_data.artifact.manifest import Evaluation, Manifest, Teacher
from condensed_data.condense.soft_labels import check_temperature
from condensed_data.data.holdout import check_holdout
from condensed_data.evaluate.protocol import EvalConfig
from condensed_data.nn import resolve_network
from condensed_data.runtime import PRECISIONS

__all__ = ["CondenseConfig", "CondenseResult"]


@dataclass(frozen=True)
class CondenseConfig:
    """One condensation run.

    Attributes:
        method: Registered method name (``condensed-data methods`` lists them).
        dataset: Real dataset name (``fashion-mnist``, ``digits``).
        ipc: Images per class.
        iterations: Optimization iterations (``None``: the method's default, e.g. 20,000 for DM).
        seed: Base seed of the condensation: the initial images (the same for every method at one seed) and the
            random stream of the run (real batches, networks, augmentation) derive from it; the evaluation does not
            (``eval_seed``), so runs at several seeds differ only in their condensation.
        options: Overrides of the method's configuration (e.g. ``{"lr_img": 0.5}``).
        precision: ``"auto"`` (default): the real images' no-grad embeddings run in the fastest kernels measured for
            the device, the synthetic side in float32 (:func:`condensed_data.runtime.inference_kernels`: bf16 where
            the hardware has it natively, else faster float32 kernels on CPUs: NNPACK convolutions, fused normalization
            and pooling); ``"fp32"``: PyTorch's stock
            kernels throughout (what every record before 2026-12-03 used); ``"bf16"``: autocast over the whole
            loss.
        checkpoint_every: Iterations between checkpoints, also written after the last iteration (0 disables the
            periodic ones; SIGINT/SIGTERM still write one).
        eval_every: Iterations between evaluations during the run (0: only the final one); each trains one
            network with the ``eval`` protocol and is logged, shown in the progress bar and kept in the history.
        eval: The final evaluation protocol; ``eval.models == 0`` is not allowed, use ``evaluate=False``. Its
            ``arch`` (and ``eval_archs``, ``teacher_arch``, the method's ``net``): a ConvNet name without a depth
            takes the depth of the data's image size (3 up to 32 pixels, 4 at 64, 5 at 128), and the run records
            the resolved name (:meth:`for_images`).
        eval_archs: Architectures of the final evaluation (cross-architecture); empty means ``(eval.arch,)``.
        eval_seed: Seed of the evaluation networks (initialization, batches, augmentation), fixed across runs by
            default. The random-real baseline's images are drawn from ``seed``, its networks from ``eval_seed``.
        validation: Hold this many images per class (an integer) or this fraction of each class (a float in
            (0, 1)) out of the training split (:meth:`~condensed_data.data.RealDataset.holdout`, seed 0): the run
            condenses the rest and every evaluation tests on the held-out images instead of the test split, which
            is how hyperparameters are chosen. 0: no hold-out, evaluations test on the test split.
        evaluate: Evaluate the result (and the random-real baseline) and record it in the manifest.
        baseline: Also evaluate ``ipc`` random real images per class under the same protocol.
        device: ``"cpu"``, ``"cuda"``, ...
        labels: ``"hard"`` (default: each item's class) or ``"soft"``: once condensed, every item is labelled with
            the probabilities ``softmax(logits / temperature)`` of a teacher network trained on the real train
            split (:mod:`condensed_data.condense.soft_labels`), for any method; the artifact stores them (kind
            ``tensors``: a generator- or diffusion-backed set is materialized once, since its items must be fixed
            to carry labels), records the teacher, and its recipe trains on soft targets. The random-real baseline
            is labelled by the same teacher.
        temperature: The teacher's softmax temperature (soft labels only).
        teacher_arch: The teacher's architecture (soft labels only).
        teacher_epochs: The teacher's training epochs on the real train split (soft labels only); its seed is
            ``seed``.
    """

    method: str = "dm"
    dataset: str = "fashion-mnist"
    ipc: int = 10
    iterations: int | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    precision: str = "auto"
    checkpoint_every: int = 100
    eval_every: int = 0
    eval: EvalConfig = EvalConfig()
    eval_archs: tuple[str, ...] = ()
    eval_seed: int = 0
    validation: int | float = 0
    evaluate: bool = True
    baseline: bool = True
    device: str = "cpu"
    labels: str = "hard"
    temperature: float = 4.0
    teacher_arch: str = "convnet"
    teacher_epochs: int = 20

    def __post_init__(self) -> None:
        if not isinstance(self.ipc, int) or self.ipc < 1:
            raise ValueError(f"ipc (images per class) must be an integer >= 1, got {self.ipc!r}")
        if self.iterations is not None and self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.checkpoint_every < 0 or self.eval_every < 0:
            raise ValueError("checkpoint_every and eval_every must be >= 0")
        if self.validation != 0:
            check_holdout(self.validation)  # the sizes are checked against the data when it is loaded
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.labels not in ("hard", "soft"):
            raise ValueError(f"labels must be 'hard' or 'soft', got {self.labels!r}")
        check_temperature(self.temperature)
        if isinstance(self.teacher_epochs, bool) or not isinstance(self.teacher_epochs, int) or self.teacher_epochs < 1:
            raise ValueError(f"teacher_epochs must be an integer >= 1, got {self.teacher_epochs!r}")

    def for_images(self, image_size: tuple[int, ...]) -> CondenseConfig:
        """This config with its networks (``eval.arch``, ``eval_archs``, ``teacher_arch``) resolved for
        ``(C, H, W)`` or ``(H, W)`` images, as runs record them: a ConvNet name without a depth gets the image
        size's (``convnet`` -> ``convnet-d4`` at 64 pixels, :func:`condensed_data.nn.resolve_network`); itself up
        to 32 pixels.

        >>> CondenseConfig(dataset="tiny-imagenet").for_images((3, 64, 64)).eval.arch
        'convnet-d4'
        """
        size = tuple(image_size)[-2:]
        resolved = dataclasses.replace(
            self,
            eval=self.eval.for_images(size),
            eval_archs=tuple(resolve_network(a, size) for a in self.eval_archs),
            teacher_arch=resolve_network(self.teacher_arch, size),
        )
        return self if resolved == self else resolved

    @property
    def teacher(self) -> Teacher | None:
        """The teacher that labels the set (``None`` for hard labels), as the manifest records it."""
        if self.labels != "soft":
            return None
        return Teacher(
            arch=self.teacher_arch, epochs=self.teacher_epochs, seed=self.seed, temperature=float(self.temperature)
        )


@dataclass
class CondenseResult:
    """What a run produced: the artifact folder and its manifest, plus the evaluations.

    In a multi-process run only the main process (``main_process``) writes and evaluates; the others get
    ``manifest=None`` and no evaluations. ``diagnostics`` holds what the method logged during the run
    (:meth:`~condensed_data.condense.method.Method.diagnostics`, one record per logged iteration, main process
    only; not kept across a resume).
    """

    folder: Path
    manifest: Manifest | None
    evaluations: list[Evaluation]
    baseline: list[Evaluation]
    history: list[dict[str, float]] = field(default_factory=list)
    main_process: bool = True
    diagnostics: list[dict[str, float]] = field(default_factory=list)
