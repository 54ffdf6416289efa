"""The 8x8 digits: values, the fixed stratified split, statistics, and the missing-sklearn error."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from helpers import require

from condensed_data.data import digits, load_dataset

sklearn_datasets = require("sklearn.datasets")


@pytest.fixture(scope="module")
def bunch():
    return sklearn_datasets.load_digits()


def expected_split(target: np.ndarray) -> dict[str, list[int]]:
    """The documented protocol: one generator seeded 0, a permutation per class in order, first 80% train."""
    generator = torch.Generator().manual_seed(0)
    train, test = [], []
    for digit in range(10):
        members = np.flatnonzero(target == digit)
        order = torch.randperm(len(members), generator=generator).numpy()
        cut = len(members) * 4 // 5
        train += members[order[:cut]].tolist()
        test += members[order[cut:]].tolist()
    return {"train": sorted(train), "test": sorted(test)}


def test_shapes_values_and_classes(bunch) -> None:
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1433, 364)
    assert train.image_shape == (1, 8, 8) and train.images.dtype == torch.float32
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert train.classes == [str(d) for d in range(10)] and (train.name, test.split) == ("digits", "test")
    totals = np.bincount(bunch.target, minlength=10)
    assert train.class_counts() == [int(n) * 4 // 5 for n in totals]
    assert [a + b for a, b in zip(train.class_counts(), test.class_counts(), strict=True)] == totals.tolist()


def test_split_follows_the_protocol_exactly(bunch) -> None:
    expected = expected_split(bunch.target)
    assert not set(expected["train"]) & set(expected["test"])
    for split in ("train", "test"):
        ds = load_dataset("digits", split)
        index = expected[split]
        assert torch.equal(ds.images.flatten(1), torch.from_numpy(bunch.data[index]).float() / 16)
        assert ds.labels.tolist() == bunch.target[index].tolist()


def test_deterministic_and_independent_of_global_seed() -> None:
    torch.manual_seed(1234)
    first = load_dataset("digits")
    digits._splits.cache_clear()
    torch.manual_seed(99)
    second = load_dataset("digits")
    assert first.fingerprint() == second.fingerprint()
    first.images.zero_()  # each load is its own copy
    assert float(load_dataset("digits").images.max()) == 1.0


def test_stats_are_those_of_the_train_split() -> None:
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert train.mean == pytest.approx((float(train.images.mean()),), abs=1e-6)
    assert train.std == pytest.approx((float(train.images.std(correction=0)),), abs=1e-6)
    assert (test.mean, test.std) == (train.mean, train.std)


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="unknown digits split 'val'; valid splits: train, test"):
        digits.load_digits("val")


def test_missing_sklearn_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    digits._splits.cache_clear()
    try:
        with pytest.raises(ImportError, match=r"pip install condensed-data\[digits\]"):
            digits.load_digits()
    finally:
        digits._splits.cache_clear()
