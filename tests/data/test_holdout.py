"""The validation hold-out: disjoint, class-stratified, deterministic parts, and named errors."""

from __future__ import annotations

import pytest
import torch

from condensed_data.data import RealDataset
from condensed_data.data.holdout import holdout_counts


def image_ids(part: RealDataset) -> list[int]:
    """The toy images' ids (pixel [1, 0, 0] = i / 100)."""
    return torch.round(part.images[:, 1, 0, 0] * 100).long().tolist()


def test_parts_are_disjoint_and_cover_the_split(toy: RealDataset) -> None:
    train, validation = toy.holdout(2, seed=0)
    ids, train_ids, val_ids = image_ids(toy), image_ids(train), image_ids(validation)
    assert not set(train_ids) & set(val_ids)
    assert sorted(train_ids + val_ids) == sorted(ids)
    # Each part keeps the dataset's order, and every image keeps its label.
    assert train_ids == [i for i in ids if i in set(train_ids)]
    by_id = dict(zip(ids, toy.labels.tolist(), strict=True))
    assert all(by_id[i] == y for i, y in zip(val_ids, validation.labels.tolist(), strict=True))


def test_stratified_by_class(toy: RealDataset) -> None:
    train, validation = toy.holdout(2, seed=0)
    assert validation.class_counts() == [2, 2, 2]
    assert train.class_counts() == [2, 3, 4]  # toy has 4, 5, 6 images per class
    train, validation = toy.holdout(0.5, seed=0)
    assert validation.class_counts() == [2, 2, 3]  # round(0.5 * 5) == 2 (round half to even)
    assert train.class_counts() == [2, 3, 3]


def test_deterministic_and_seeded(toy: RealDataset) -> None:
    first = [image_ids(p) for p in toy.holdout(2, seed=3)]
    assert [image_ids(p) for p in toy.holdout(2, seed=3)] == first
    assert any(image_ids(toy.holdout(2, seed=s)[1]) != first[1] for s in range(4, 10))


def test_parts_keep_names_classes_and_statistics(toy: RealDataset) -> None:
    train, validation = toy.holdout(1)
    assert (train.name, train.split) == (toy.name, toy.split)
    assert (validation.name, validation.split) == (toy.name, "validation")
    for part in (train, validation):
        assert part.classes == toy.classes and part.mean == toy.mean and part.std == toy.std
    assert train.fingerprint() != toy.fingerprint() != validation.fingerprint()


def test_too_large_a_holdout_is_a_named_error(toy: RealDataset) -> None:
    with pytest.raises(ValueError, match=r"class 0 .* has only 4.* hold out at most 3 per class"):
        toy.holdout(4)
    with pytest.raises(ValueError, match=r"at most 3 per class"):
        toy.holdout(0.9)  # round(0.9 * 4) == 4 images of class 0


@pytest.mark.parametrize(
    ("per_class", "error", "match"),
    [
        (0, ValueError, ">= 1 image per class"),
        (-2, ValueError, ">= 1 image per class"),
        (1.0, ValueError, r"fraction must be in \(0, 1\)"),
        (0.0, ValueError, r"fraction must be in \(0, 1\)"),
        (True, TypeError, "integer .* or a fraction"),
        ("10", TypeError, "integer .* or a fraction"),
    ],
)
def test_bad_holdouts_are_named_errors(per_class, error, match) -> None:
    with pytest.raises(error, match=match):
        holdout_counts(per_class, [10, 10])
