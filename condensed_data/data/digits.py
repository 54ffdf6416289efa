"""scikit-learn's bundled 8x8 handwritten digits (1,797 images), with a fixed stratified train/test split.

The split is part of the protocol, so it is deterministic and independent of any global seed: for each class in
order, one permutation drawn from ``torch.Generator().manual_seed(0)`` (a single generator, advanced class by
class); the first 80% (rounded down) of each class are train, the rest test. Both splits are normalized with the
train split's statistics.
"""

from __future__ import annotations

import functools
import logging
from typing import NamedTuple

import numpy as np
import torch

from condensed_data.data.real import RealDataset

__all__ = ["DIGITS_CLASSES", "SPLITS", "load_digits"]

logger = logging.getLogger(__name__)

NAME = "digits"
SPLITS = ("train", "test")
DIGITS_CLASSES = tuple(str(d) for d in range(10))
_SPLIT_SEED = 0
_TRAIN_NUMERATOR, _TRAIN_DENOMINATOR = 4, 5  # 80%, in integers so no class count rounds differently by platform
_MAX_PIXEL = 16.0


class _Splits(NamedTuple):
    images: torch.Tensor  # (1797, 1, 8, 8) float32 in [0, 1]
    labels: torch.Tensor  # (1797,) int64
    split_index: dict[str, torch.Tensor]  # split -> sorted indices into images/labels
    mean: tuple[float, ...]
    std: tuple[float, ...]


def load_digits(split: str = "train") -> RealDataset:
    """Load a split of the 8x8 digits as a :class:`RealDataset` of ``(1, 8, 8)`` images in [0, 1].

    Args:
        split: ``"train"`` (1,433 images) or ``"test"`` (364).

    Raises:
        ValueError: unknown split.
        ImportError: scikit-learn is not installed.

    Example:
        >>> ds = load_digits("train")
        >>> len(ds), ds.image_shape, ds.classes[:3]
        (1433, (1, 8, 8), ['0', '1', '2'])
    """
    if split not in SPLITS:
        raise ValueError(f"unknown digits split {split!r}; valid splits: {', '.join(SPLITS)}")
    splits = _splits()
    index = splits.split_index[split]
    return RealDataset(
        splits.images.index_select(0, index),
        splits.labels.index_select(0, index),
        classes=list(DIGITS_CLASSES),
        name=NAME,
        split=split,
        mean=splits.mean,
        std=splits.std,
    )


@functools.lru_cache(maxsize=1)
def _splits() -> _Splits:
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits  # optional dependency: imported lazily
    except ImportError as err:
        raise ImportError("the digits dataset needs scikit-learn: pip install condensed-data[digits]") from err
    bunch = sklearn_load_digits()
    pixels = np.asarray(bunch.data, dtype=np.float32).reshape(-1, 1, 8, 8) / np.float32(_MAX_PIXEL)
    images = torch.from_numpy(np.ascontiguousarray(pixels))
    labels = torch.from_numpy(np.asarray(bunch.target, dtype=np.int64))
    generator = torch.Generator().manual_seed(_SPLIT_SEED)
    train_parts, test_parts = [], []
    for digit in range(len(DIGITS_CLASSES)):
        members = torch.nonzero(labels == digit).flatten()
        shuffled = members[torch.randperm(members.numel(), generator=generator)]
        cut = members.numel() * _TRAIN_NUMERATOR // _TRAIN_DENOMINATOR
        train_parts.append(shuffled[:cut])
        test_parts.append(shuffled[cut:])
    index = {"train": torch.cat(train_parts).sort().values, "test": torch.cat(test_parts).sort().values}
    var, mean = torch.var_mean(images.index_select(0, index["train"]), dim=(0, 2, 3), correction=0)
    logger.debug("digits split: %d train / %d test", index["train"].numel(), index["test"].numel())
    return _Splits(images, labels, index, tuple(mean.tolist()), tuple(var.sqrt().tolist()))
