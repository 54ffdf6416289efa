"""Fixtures for the real-dataset tests: a tiny labelled dataset and an IDX-file writer."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from condensed_data.data import RealDataset

IDX_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}  # fmt: skip

TOY_COUNTS = (4, 5, 6)


def write_idx(path: Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in .gz)."""
    header = struct.pack(">BBBB", 0, 0, IDX_CODES[array.dtype], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if path.name.endswith(".gz") else payload)
    return path


@pytest.fixture
def idx_writer() -> Callable[[Path, np.ndarray], Path]:
    return write_idx


def make_toy() -> RealDataset:
    """3 classes with 4/5/6 images of shape (2, 3, 3); pixel [0, 0, 0] = label / 10, pixel [1, 0, 0] = i / 100."""
    labels = torch.tensor([c for c, n in enumerate(TOY_COUNTS) for _ in range(n)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    images = torch.full((len(labels), 2, 3, 3), 0.5)
    images[:, 0, 0, 0] = labels.float() / 10
    images[:, 1, 0, 0] = torch.arange(len(labels)).float() / 100
    return RealDataset(images, labels, classes=["ant", "bee", "cat"], name="toy", split="train")


@pytest.fixture
def toy() -> RealDataset:
    return make_toy()


@pytest.fixture
def toy_factory() -> Callable[[], RealDataset]:
    return make_toy
