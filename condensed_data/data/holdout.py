"""A validation split held out of a training split: where hyperparameters are chosen, never on the test set.

:func:`holdout` splits a :class:`~condensed_data.data.real.RealDataset` class by class: each class gives the same
number of images (or the same fraction of its images) to the validation part, chosen by a permutation drawn from a
seed derived from ``(seed, class index)``, so a class's split depends only on the seed and on that class's images,
and the same call always returns the same parts. Both parts keep the dataset's order, its classes and its
normalization statistics (the protocol's, not recomputed on a part), so a set condensed on the train part is
evaluated under the same recipe as one condensed on the whole split.

>>> import torch
>>> from condensed_data.data import RealDataset
>>> ds = RealDataset(torch.rand(8, 1, 2, 2), torch.tensor([0, 1] * 4), classes=["a", "b"], name="toy", split="train")
>>> train, validation = holdout(ds, 1, seed=0)
>>> train.class_counts(), validation.class_counts(), validation.split
([3, 3], [1, 1], 'validation')
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

import torch

from condensed_data.seeding import derive_seed, make_generator

if TYPE_CHECKING:
    from condensed_data.data.real import RealDataset

__all__ = ["VALIDATION_SPLIT", "holdout", "holdout_counts"]

VALIDATION_SPLIT = "validation"  # the split name of the held-out part (evaluations name it in ``test_set``)


def holdout_counts(per_class: int | float, class_counts: list[int], *, what: str = "the dataset") -> list[int]:
    """How many images of each class :func:`holdout` moves to the validation part.

    Args:
        per_class: An integer ``>= 1`` (that many images of every class) or a fraction in ``(0, 1)`` (that share of
            each class, rounded, at least one image).
        class_counts: The number of images of each class.
        what: How errors name the dataset.

    Raises:
        TypeError: ``per_class`` is neither an integer nor a float.
        ValueError: ``per_class`` is out of range, or some class would keep no training image; the message names
            the class and the largest hold-out it allows.

    >>> holdout_counts(2, [5, 6]), holdout_counts(0.5, [5, 6])
    ([2, 2], [2, 3])
    """
    if isinstance(per_class, bool) or not isinstance(per_class, (int, float)):
        raise TypeError(
            f"the validation hold-out must be an integer (images per class) or a fraction, got {per_class!r}"
        )
    if isinstance(per_class, float):
        if not 0 < per_class < 1:
            raise ValueError(
                f"a validation fraction must be in (0, 1), got {per_class}; or give an integer number of images per "
                "class"
            )
        counts = [max(1, round(per_class * n)) for n in class_counts]
    else:
        n = operator.index(per_class)
        if n < 1:
            raise ValueError(f"the validation hold-out must be >= 1 image per class, got {n}; 0 means no hold-out")
        counts = [n] * len(class_counts)
    for c, (held, available) in enumerate(zip(counts, class_counts, strict=True)):
        if held >= available:
            most = available - 1
            raise ValueError(
                f"cannot hold out {held} validation images of class {c} of {what}: it has only {available}, and "
                f"condensation needs at least one left to train on; hold out at most {most} per class"
                + (f" (or a fraction below {most / available:.3g})" if most >= 1 else "")
            )
    return counts


def holdout(real: RealDataset, per_class: int | float, *, seed: int = 0) -> tuple[RealDataset, RealDataset]:
    """Split ``real`` into ``(train_part, validation)``: disjoint, class-stratified and deterministic.

    Args:
        real: The split to hold images out of (usually ``"train"``).
        per_class: Images per class held out (an integer), or a fraction of each class (a float in ``(0, 1)``).
        seed: Chooses which images; the same seed gives the same parts.

    Returns:
        The train part (``real``'s name and split) and the validation part (split ``"validation"``), both with
        ``real``'s classes and normalization statistics, each in ``real``'s order.

    Raises:
        TypeError, ValueError: see :func:`holdout_counts`.
    """
    counts = holdout_counts(per_class, real.class_counts(), what=f"{real.name}/{real.split}")
    held = []
    for c, n in enumerate(counts):
        pool = real.indices_of(c)
        order = torch.randperm(pool.numel(), generator=make_generator(derive_seed(seed, "holdout", c)))
        held.append(pool[order[:n]])
    mask = torch.zeros(len(real), dtype=torch.bool)
    mask[torch.cat(held)] = True
    validation = torch.nonzero(mask).flatten()
    train = torch.nonzero(~mask).flatten()
    return _part(real, train, real.split), _part(real, validation, VALIDATION_SPLIT)


def _part(real: RealDataset, rows: torch.Tensor, split: str) -> RealDataset:
    rows = rows.to(real.images.device)
    part = type(real).__new__(type(real))
    part._set_fields(
        real.images.index_select(0, rows),
        real.labels.index_select(0, rows.to(real.labels.device)),
        classes=list(real.classes),
        name=real.name,
        split=split,
        mean=real.mean,
        std=real.std,
    )
    return part
