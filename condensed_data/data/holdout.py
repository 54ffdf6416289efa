"""A validation split held out of a training split: where hyperparameters are chosen, never on the test set.

:meth:`RealDataset.holdout <condensed_data.data.real.RealDataset.holdout>` splits a dataset class by class: each
class gives the same number of images (or the same fraction of its images) to the validation part, chosen by a
permutation drawn from a seed derived from ``(seed, class index)``, so a class's split depends only on the seed and on that class's images,
and the same call always returns the same parts. Both parts keep the dataset's order, its classes and its
normalization statistics (the protocol's, not recomputed on a part), so a set condensed on the train part is
evaluated under the same recipe as one condensed on the whole split.

>>> import torch
>>> from condensed_data.data import RealDataset
>>> ds = RealDataset(torch.rand(8, 1, 2, 2), torch.tensor([0, 1] * 4), classes=["a", "b"], name="toy", split="train")
>>> train, validation = ds.holdout(1, seed=0)
>>> train.class_counts(), validation.class_counts(), validation.split
([3, 3], [1, 1], 'validation')
"""

from __future__ import annotations

import operator

import torch

from condensed_data.seeding import derive_seed, make_generator

__all__ = ["VALIDATION_SPLIT", "check_holdout", "holdout_counts", "holdout_rows"]

VALIDATION_SPLIT = "validation"  # the split name of the held-out part (evaluations name it in ``test_set``)


def check_holdout(per_class: int | float) -> int | float:
    """``per_class`` if it is a valid hold-out: an integer ``>= 1`` or a fraction in ``(0, 1)``.

    Raises:
        TypeError: neither an integer nor a float.
        ValueError: out of range.

    >>> check_holdout(100), check_holdout(0.1)
    (100, 0.1)
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
    elif operator.index(per_class) < 1:
        raise ValueError(f"the validation hold-out must be >= 1 image per class, got {per_class}; 0 means no hold-out")
    return per_class


def holdout_counts(per_class: int | float, class_counts: list[int], *, what: str = "the dataset") -> list[int]:
    """How many images of each class the hold-out moves to the validation part.

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
    if isinstance(check_holdout(per_class), float):
        counts = [max(1, round(per_class * n)) for n in class_counts]
    else:
        counts = [operator.index(per_class)] * len(class_counts)
    for c, (held, available) in enumerate(zip(counts, class_counts, strict=True)):
        if held >= available:
            most = available - 1
            raise ValueError(
                f"cannot hold out {held} validation images of class {c} of {what}: it has only {available}, and "
                f"condensation needs at least one left to train on; hold out at most {most} per class"
                + (f" (or a fraction below {most / available:.3g})" if most >= 1 else "")
            )
    return counts


def holdout_rows(
    by_class: list[torch.Tensor], per_class: int | float, *, seed: int = 0, what: str = "the dataset"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows of the train part and of the validation part, each in increasing order.

    Args:
        by_class: The row indices of each class's images (a CPU LongTensor per class).
        per_class: See :func:`holdout_counts`.
        seed: Chooses which images; class ``c``'s choice comes from a seed derived from ``(seed, c)``.
        what: How errors name the dataset.

    >>> train, validation = holdout_rows([torch.tensor([0, 2, 4]), torch.tensor([1, 3])], 1, seed=0)
    >>> sorted(train.tolist() + validation.tolist()), len(validation)
    ([0, 1, 2, 3, 4], 2)
    """
    counts = holdout_counts(per_class, [int(rows.numel()) for rows in by_class], what=what)
    held = []
    for c, (rows, n) in enumerate(zip(by_class, counts, strict=True)):
        order = torch.randperm(rows.numel(), generator=make_generator(derive_seed(seed, "holdout", c)))
        held.append(rows[order[:n]])
    total = sum(int(rows.numel()) for rows in by_class)
    mask = torch.zeros(total, dtype=torch.bool)
    mask[torch.cat(held)] = True
    return torch.nonzero(~mask).flatten(), torch.nonzero(mask).flatten()
