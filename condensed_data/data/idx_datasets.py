"""Datasets stored as two IDX files per split (images, labels), as MNIST and Fashion-MNIST are: finding a split's
files in a folder, reading and checking them, and wrapping them as a :class:`RealDataset`.

Parsed arrays are cached in-process, keyed by file path, size and modification time, so a replaced file is read
again.

Example:
    >>> find_split_files(Path("/nonexistent"), "train") is None
    True
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from condensed_data.data.idx import read_idx
from condensed_data.data.real import RealDataset

__all__ = ["IDXDataset", "find_in", "find_split_files", "read_split", "wanted_files"]

logger = logging.getLogger(__name__)

FILE_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class IDXDataset:
    """What is fixed about one IDX dataset: its name, its title in messages, classes and normalization."""

    name: str
    title: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    image_size: tuple[int, int] = (28, 28)


def wanted_files(split: str) -> str:
    """The file names of ``split``, as messages list them."""
    prefix = FILE_PREFIX[split]
    return f"{prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz]"


def find_split_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """``(images file, labels file)`` of ``split`` in ``directory`` (plain files preferred over ``.gz``), or None."""
    images = _find_file(directory, f"{FILE_PREFIX[split]}-images-idx3-ubyte")
    labels = _find_file(directory, f"{FILE_PREFIX[split]}-labels-idx1-ubyte")
    return (images, labels) if images is not None and labels is not None else None


def find_in(directories: Sequence[Path], split: str) -> tuple[Path, Path] | None:
    """The files of ``split`` in the first of ``directories`` that holds both, or None."""
    return next((files for d in directories if (files := find_split_files(d, split)) is not None), None)


def read_split(spec: IDXDataset, split: str, files: tuple[Path, Path]) -> RealDataset:
    """The split in ``files`` as a :class:`RealDataset` of ``(1, H, W)`` images in [0, 1].

    Raises:
        ValueError: a corrupt file, a wrong image size, mismatched counts, or a label out of range (the message
            names the file).
    """
    images_path, labels_path = files
    # The cached uint8 arrays are never modified: the float conversion below makes the dataset's own copy.
    images, labels = _read_arrays(str(images_path), str(labels_path), _stamp(images_path), _stamp(labels_path))
    _check(spec, images, labels, images_path, labels_path)
    logger.info("loaded %s %s split (%d images) from %s", spec.title, split, len(labels), images_path.parent)
    return RealDataset(
        torch.from_numpy(images).unsqueeze(1).to(torch.float32).div_(255),
        torch.from_numpy(labels.astype(np.int64)),
        classes=list(spec.classes),
        name=spec.name,
        split=split,
        mean=spec.mean,
        std=spec.std,
    )


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_arrays(
    images_path: str,
    labels_path: str,
    images_stamp: tuple[int, int],
    labels_stamp: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    # The stamps are part of the cache key so a replaced file is read again.
    images = read_idx(images_path, expected_ndim=3, expected_dtype=np.uint8)
    labels = read_idx(labels_path, expected_ndim=1, expected_dtype=np.uint8)
    return images, labels


def _check(spec: IDXDataset, images: np.ndarray, labels: np.ndarray, images_path: Path, labels_path: Path) -> None:
    height, width = spec.image_size
    if images.shape[1:] != (height, width):
        raise ValueError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, {spec.title}'s are {height}x{width}; "
            f"point root= at the {spec.title} files"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels; "
            "the two files come from different sets, fetch both again"
        )
    if labels.size and int(labels.max()) >= len(spec.classes):
        raise ValueError(
            f"{labels_path} has label {int(labels.max())}, {spec.title} has {len(spec.classes)} classes; "
            f"point root= at the {spec.title} files"
        )
