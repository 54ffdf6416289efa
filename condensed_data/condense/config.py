"""What a condensation run is (:class:`CondenseConfig`) and what it produced (:class:`CondenseResult`).

Both are re-exported by :mod:`condensed_data.condense.driver` and :mod:`condensed_data.condense`, where
:func:`~condensed_data.condense.driver.condense` takes the one and returns the other.

>>> CondenseConfig(method="dm", dataset="digits", ipc=1).iterations is None  # the method's default
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from condensed_data.artifact.manifest import Evaluation, Manifest
from condensed_data.data.holdout import check_holdout
from condensed_data.evaluate.protocol import EvalConfig

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
        precision: Autocast for the method's forward passes: ``"fp32"`` (default), ``"bf16"`` or ``"auto"``.
        checkpoint_every: Iterations between checkpoints, also written after the last iteration (0 disables the
            periodic ones; SIGINT/SIGTERM still write one).
        eval_every: Iterations between evaluations during the run (0: only the final one); each trains one
            network with the ``eval`` protocol and is logged, shown in the progress bar and kept in the history.
        eval: The final evaluation protocol; ``eval.models == 0`` is not allowed, use ``evaluate=False``.
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
    eval_seed: int = 0
    validation: int | float = 0
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
        if self.validation != 0:
            check_holdout(self.validation)  # the sizes are checked against the data when it is loaded


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
