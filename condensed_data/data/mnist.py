"""MNIST from its IDX files (read as Fashion-MNIST's are: :mod:`condensed_data.data.idx_datasets`).

Search order (the first folder holding both files of the split wins): ``root``, ``root/mnist`` and
``root/MNIST/raw`` (torchvision's layout) when ``root`` is given; ``$CONDENSED_DATA_HOME/mnist``;
``/usr/share/datasets/mnist``; ``<data home>/mnist`` and ``<data home>/MNIST/raw``. With ``download=True`` and
nothing found, the four ``.gz`` files are downloaded (md5-checked, through torchvision's helpers) into ``root`` (or
``<data home>/mnist``).
"""

from __future__ import annotations

import os
from pathlib import Path

from condensed_data.data.idx_datasets import IDXDataset, find_in, find_split_files, read_split, wanted_files
from condensed_data.data.locate import SYSTEM_ROOT, Resource, download, not_found_message, search_dirs
from condensed_data.data.paths import data_home
from condensed_data.data.real import RealDataset

__all__ = ["MNIST_CLASSES", "MNIST_MEAN", "MNIST_STD", "SPLITS", "load_mnist"]

NAME = "mnist"
SPLITS = ("train", "test")
MNIST_CLASSES = tuple(str(d) for d in range(10))
# The reference protocol's constants (DC/DSA/DM), as for Fashion-MNIST.
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)
_SPEC = IDXDataset(NAME, "MNIST", MNIST_CLASSES, MNIST_MEAN, MNIST_STD)
_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}


def load_mnist(
    split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = False
) -> RealDataset:
    """Load an MNIST split as a :class:`RealDataset` of ``(1, 28, 28)`` images in [0, 1].

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: a folder to look in first (and to download into).
        download: when the files are nowhere to be found, download them (needs torchvision).

    Raises:
        ValueError: unknown split, or a corrupt file (the message names it).
        FileNotFoundError: no copy found and ``download`` is false; the message lists where it looked and the fixes.

    Example:
        >>> ds = load_mnist("test")  # doctest: +SKIP
        >>> len(ds), ds.image_shape, ds.classes[:3]  # doctest: +SKIP
        (10000, (1, 28, 28), ['0', '1', '2'])
    """
    if split not in SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}; valid splits: {', '.join(SPLITS)}")
    directories = search_dirs(NAME, root, system_dir=SYSTEM_ROOT / NAME, layouts=(NAME, "MNIST/raw"))
    found = find_in(directories, split)
    if found is None and download:
        target = Path(root).expanduser() if root is not None else data_home() / NAME
        _fetch(split, target)
        found = find_split_files(target, split)
    if found is None:
        raise FileNotFoundError(not_found_message("MNIST", split, wanted_files(split), directories, name=NAME))
    return read_split(_SPEC, split, found)


def _fetch(split: str, target: Path) -> None:
    prefix = "train" if split == "train" else "t10k"
    files = (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")
    download("MNIST", [Resource(_MIRROR + f, f, _MD5[f]) for f in files], target)
