"""DD-Ranking's two metrics: improvement over random real images (IOR) and hard-label recovery (HLR).

For a condensed set on one architecture (definitions of DD-Ranking v0.2.0, ``ddranking/metrics/soft_label.py``;
here as fractions, with fixed derived seeds):

* **IOR** = acc(set, its labels) - acc(random real images at the same images per class, trained the same way).
  For a soft-label set both runs train on soft labels: the random images are labelled by the set's own teacher at
  its temperature (:func:`condensed_data.condense.soft_labels.teacher_network`); for a hard-label set both use hard
  labels. Higher is better.
* **HLR** = acc(the whole real train split, hard labels) - acc(set, hard labels). For a soft-label set the hard
  labels are the class each item was made for (class-major, as DD-Ranking rebuilds them). Lower is better.

The four evaluations behind them are ordinary :class:`~condensed_data.artifact.manifest.Evaluation` records
(``subject`` ``condensed`` / ``random-real`` / ``full-real``, ``labels`` ``hard`` / ``soft``), recorded in the
manifest like any other, so the metrics can always be recomputed from what is recorded
(:meth:`Ranking.from_evaluations`). Training on the whole real split is the expensive one: it has its own number of
epochs, and its result is cached on disk (JSON under ``$CONDENSED_DATA_HOME/evaluations``) by the real data's
fingerprint, the protocol, the number of models, the seed and the device type, so every set condensed from the same
data shares it.

>>> from condensed_data.artifact.manifest import Evaluation
>>> def run(subject, labels, acc):
...     return Evaluation(arch="convnet", test_set="digits/test", models=1, accuracy_mean=acc, accuracy_std=0.0,
...                       subject=subject, labels=labels)
>>> found = [run("condensed", "soft", 0.9), run("random-real", "soft", 0.8), run("condensed", "hard", 0.85),
...          run("full-real", "hard", 0.97), run("random-real", "hard", 0.7)]
>>> r = Ranking.from_evaluations(found, arch="convnet", labels="soft")
>>> round(r.ior, 4), round(r.hlr, 4)
(0.1, 0.12)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from condensed_data.artifact.manifest import Evaluation, Recipe
from condensed_data.condense.soft_labels import item_classes
from condensed_data.data import RealSource, require_in_memory
from condensed_data.data.paths import data_home
from condensed_data.evaluate.protocol import EvalConfig, Normalization, _mean_std, _run, evaluate, evaluate_random_real

__all__ = ["Ranking", "RankingError", "rank", "evaluate_full_real", "recipe_labels"]

logger = logging.getLogger(__name__)


class RankingError(ValueError):
    """The metrics cannot be computed as asked; the message says which run is missing or why."""


@dataclass(frozen=True)
class Ranking:
    """DD-Ranking's metrics for one set on one architecture, and the four evaluations they are computed from.

    Attributes:
        labels: The set's labels kind (``"hard"`` or ``"soft"``): what ``condensed`` and ``random_real`` trained on.
        condensed: The set with its labels.
        random_real: Random real images at the same images per class, with labels of the same kind.
        condensed_hard: The set with hard labels (the same record as ``condensed`` for a hard-label set).
        full_real: The whole real train split, hard labels.
    """

    labels: str
    condensed: Evaluation
    random_real: Evaluation
    condensed_hard: Evaluation
    full_real: Evaluation

    @property
    def ior(self) -> float:
        """Improvement over random: acc(set) - acc(random real), both with :attr:`labels` (a fraction)."""
        return self.condensed.accuracy_mean - self.random_real.accuracy_mean

    @property
    def hlr(self) -> float:
        """Hard-label recovery: acc(whole real train split) - acc(set, hard labels) (a fraction)."""
        return self.full_real.accuracy_mean - self.condensed_hard.accuracy_mean

    def evaluations(self) -> list[Evaluation]:
        """The distinct evaluations behind the metrics, to record in a manifest."""
        runs = [self.condensed, self.random_real, self.condensed_hard, self.full_real]
        return [e for i, e in enumerate(runs) if all(e is not other for other in runs[:i])]

    @classmethod
    def from_evaluations(cls, evaluations: Sequence[Evaluation], *, arch: str, labels: str) -> Ranking:
        """The metrics of a set with ``labels`` on ``arch``, from recorded evaluations (e.g. ``manifest.evaluation``).

        Raises:
            RankingError: A run is missing or recorded more than once; the message names it.
        """
        if labels not in ("hard", "soft"):
            raise RankingError(f"labels must be 'hard' or 'soft', got {labels!r}")

        def pick(subject: str, kind: str) -> Evaluation:
            found = [e for e in evaluations if (e.arch, e.subject, e.labels) == (arch, subject, kind)]
            if len(found) != 1:
                what = "no" if not found else f"{len(found)}"
                raise RankingError(
                    f"{what} evaluation of {subject} with {kind} labels on {arch} recorded (exactly one is needed): "
                    "run `condensed-data evaluate PATH --ranking --write`"
                )
            return found[0]

        condensed = pick("condensed", labels)
        return cls(
            labels=labels,
            condensed=condensed,
            random_real=pick("random-real", labels),
            condensed_hard=condensed if labels == "hard" else pick("condensed", "hard"),
            full_real=pick("full-real", "hard"),
        )


def recipe_labels(labels: torch.Tensor, recipe: Recipe, num_classes: int) -> torch.Tensor:
    """The labels a set is trained with under its recipe: as stored, or for ``recipe.targets == "hard"`` on a
    soft-label set, the class each item was made for (class-major)."""
    if labels.dim() == 2 and recipe.targets == "hard":
        return item_classes(labels.shape[0], num_classes)
    if labels.dim() == 1 and recipe.targets == "soft":
        raise RankingError("recipe.targets is 'soft' but the set stores hard labels: fix the manifest's recipe")
    return labels


def _cache_key(train: RealSource, test: RealSource, config: EvalConfig, seed: int, device, normalization) -> str:
    key = {
        "train": train.fingerprint(),
        "test": test.fingerprint(),
        "protocol": config.protocol(device),
        "models": config.models,
        "seed": seed,
        "normalization": [list(v) for v in normalization],
        "device": torch.device(device).type,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]


def _read_cached(path: Path) -> Evaluation | None:
    try:
        data = json.loads(path.read_text())
        return Evaluation(**{**data, "accuracies": tuple(data["accuracies"])})
    except (OSError, ValueError, TypeError, KeyError) as exc:
        if path.exists():
            logger.warning("ignoring the unreadable cached evaluation %s (%s); it is computed again", path, exc)
        return None


def _write_cached(path: Path, evaluation: Evaluation) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(evaluation), indent=2) + "\n")
    os.replace(tmp, path)


def evaluate_full_real(
    train: RealSource,
    test: RealSource,
    *,
    config: EvalConfig,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
    normalization: Normalization | Recipe | None = None,
    cache: bool = True,
) -> Evaluation:
    """``config.models`` networks of ``config.arch`` trained on the whole of ``train`` with hard labels, tested on
    ``test`` (subject ``"full-real"``); read from / written to the on-disk cache unless ``cache`` is false.

    >>> from condensed_data.testing import tiny_real_dataset
    >>> cfg = EvalConfig(arch="convnet-d1", epochs=2, models=1, augmentation="none", precision="fp32")
    >>> evaluate_full_real(tiny_real_dataset(), tiny_real_dataset(seed=1), config=cfg, cache=False).subject
    'full-real'
    """
    normalization = _mean_std(normalization, test)
    config = config.for_images(test.image_shape)  # the cache is keyed by the network actually trained
    path = (
        data_home() / "evaluations" / f"full-real-{_cache_key(train, test, config, seed, device, normalization)}.json"
    )
    if cache and (found := _read_cached(path)) is not None:
        logger.info("full-real accuracy of %s/%s on %s from the cache %s", train.name, train.split, config.arch, path)
        return found
    whole = require_in_memory(train, "the full-real run of the ranking (--ranking)", "evaluate without --ranking")
    [result] = _run(
        lambda m: (whole.images, whole.labels),
        test,
        config=config,
        archs=None,
        seed=seed,
        device=device,
        progress=progress,
        subject="full-real",
        normalization=normalization,
    )
    if cache:
        _write_cached(path, result)
    return result


def _known(
    known: Sequence[Evaluation], subject: str, labels: str, config: EvalConfig, device, test: RealSource
) -> Evaluation | None:
    """The evaluation in ``known`` made exactly as asked (same subject, labels, protocol, models and test set)."""
    for e in known:
        same = (e.subject, e.labels, e.arch, e.models) == (subject, labels, config.arch, config.models)
        if same and e.protocol == config.protocol(device) and e.test_set == f"{test.name}/{test.split}":
            return e
    return None


def rank(
    images: torch.Tensor,
    labels: torch.Tensor,
    train: RealSource,
    test: RealSource,
    *,
    ipc: int,
    config: EvalConfig = EvalConfig(),
    real_epochs: int = 50,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
    normalization: Normalization | Recipe | None = None,
    labeller: Callable[[torch.Tensor], torch.Tensor] | None = None,
    known: Sequence[Evaluation] = (),
    cache: bool = True,
) -> Ranking:
    """DD-Ranking's metrics of a pixel-space set with ``labels`` (hard ``(N,)`` or soft ``(N, K)``) on
    ``config.arch``, training whatever is not in ``known``.

    Args:
        images, labels: The set and the labels it is trained with (its labels kind sets :attr:`Ranking.labels`).
        train, test: The real train split (random subsets and the full-real run) and the test split.
        ipc: Images per class of the random real subsets (the set's).
        config: The protocol of the set's and the random subsets' runs.
        real_epochs: Training epochs of the full-real run (its other options are ``config``'s).
        seed: Base seed of every run (the same derived seeds as :func:`~condensed_data.evaluate.protocol.evaluate`).
        normalization: The set's recipe, or ``(mean, std)``.
        labeller: For a soft-label set, labels random real pixel images the way the set was labelled (its teacher
            at its temperature: :func:`condensed_data.condense.soft_labels.soft_labels`); required then.
        known: Evaluations already made with this ``seed`` (e.g. those :func:`condensed_data.condense.condense`
            returned); one made under exactly the same protocol is reused instead of trained again.
        cache: Read and write the full-real run's on-disk cache.

    Raises:
        RankingError: A soft-label set without a ``labeller``.
    """
    if isinstance(real_epochs, bool) or not isinstance(real_epochs, int) or real_epochs < 1:
        raise RankingError(f"real_epochs (epochs of the full-real run) must be an integer >= 1, got {real_epochs!r}")
    kind = "soft" if labels.dim() == 2 else "hard"
    if kind == "soft" and labeller is None:
        raise RankingError(
            "a soft-label set's random real images must be labelled the same way (by its teacher, at its "
            "temperature): pass labeller=..., e.g. from condensed_data.condense.soft_labels"
        )
    if kind == "hard" and labeller is not None:
        raise RankingError("labeller is for soft-label sets; a hard-label set's random images keep their classes")
    config = config.for_images(test.image_shape)  # so `known` evaluations (recorded resolved) are recognized
    common = {"config": config, "seed": seed, "device": device, "progress": progress, "normalization": normalization}

    def get(subject: str, labels_kind: str, make: Callable[[], list[Evaluation]]) -> Evaluation:
        return _known(known, subject, labels_kind, config, device, test) or make()[0]

    condensed = get("condensed", kind, lambda: evaluate(images, labels, test, **common))
    random_real = get(
        "random-real", kind, lambda: evaluate_random_real(train, test, ipc=ipc, labeller=labeller, **common)
    )
    if kind == "soft":
        hard = item_classes(labels.shape[0], test.num_classes)
        condensed_hard = get("condensed", "hard", lambda: evaluate(images, hard, test, **common))
    else:
        condensed_hard = condensed
    full_config = dataclasses.replace(config, epochs=real_epochs)
    full_real = _known(known, "full-real", "hard", full_config, device, test) or evaluate_full_real(
        train, test, **{**common, "config": full_config}, cache=cache
    )
    return Ranking(kind, condensed, random_real, condensed_hard, full_real)
