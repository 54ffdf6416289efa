"""Fashion-MNIST from its IDX files, found without downloading whenever a copy is already on the machine.

Search order (the first folder holding both files of the split wins):

1. ``root``, ``root/fashion-mnist`` and ``root/FashionMNIST/raw`` when ``root`` is given;
2. ``$CONDENSED_DATA_HOME/fashion-mnist``;
3. ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``);
4. torchvision's layout ``<data home>/FashionMNIST/raw`` (data home: ``$CONDENSED_DATA_HOME`` or
   ``~/.cache/condensed-data``).

With ``download=True`` and nothing found, torchvision downloads into ``root`` (or the data home) and the raw IDX
files it leaves are read the same way. Parsed arrays are cached in-process, keyed by file path, size and mtime.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
import torch

from condensed_data.data.idx import read_idx
from condensed_data.data.paths import DATA_HOME_ENV, data_home
from condensed_data.data.real import RealDataset

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "SPLITS",
    "SYSTEM_DIR",
    "candidate_dirs",
    "find_split_files",
    "load_fashion_mnist",
]

logger = logging.getLogger(__name__)

NAME = "fashion-mnist"
SPLITS = ("train", "test")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
# The reference protocol's constants (not recomputed, so normalized inputs match published numbers).
FASHION_MNIST_MEAN = (0.2861,)
FASHION_MNIST_STD = (0.3530,)
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_FILE_PREFIX = {"train": "train", "test": "t10k"}


def load_fashion_mnist(
    split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = False
) -> RealDataset:
    """Load a Fashion-MNIST split as a :class:`RealDataset` of ``(1, 28, 28)`` images in [0, 1].

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        root: a folder to look in first (and to download into).
        download: when the files are nowhere to be found, download them with torchvision.

    Raises:
        ValueError: unknown split, or a corrupt file (the message names it).
        FileNotFoundError: no copy found and ``download`` is false; the message lists where it looked and the fixes.

    Example:
        >>> ds = load_fashion_mnist("test")  # doctest: +SKIP
        >>> len(ds), ds.image_shape, ds.classes[0]  # doctest: +SKIP
        (10000, (1, 28, 28), 'T-shirt/top')
    """
    if split not in SPLITS:
        raise ValueError(f"unknown Fashion-MNIST split {split!r}; valid splits: {', '.join(SPLITS)}")
    directories = candidate_dirs(root)
    found = next((files for d in directories if (files := find_split_files(d, split)) is not None), None)
    if found is None and download:
        found = _download(split, Path(root).expanduser() if root is not None else data_home())
    if found is None:
        raise FileNotFoundError(_not_found_message(split, directories))
    images_path, labels_path = found
    # The cached uint8 arrays are never modified: the float conversion below makes the dataset's own copy.
    images, labels = _read_split(str(images_path), str(labels_path), _stamp(images_path), _stamp(labels_path))
    logger.info("loaded Fashion-MNIST %s split (%d images) from %s", split, len(labels), images_path.parent)
    return RealDataset(
        torch.from_numpy(images).unsqueeze(1).to(torch.float32).div_(255),
        torch.from_numpy(labels.astype(np.int64)),
        classes=list(FASHION_MNIST_CLASSES),
        name=NAME,
        split=split,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
    )


def candidate_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for Fashion-MNIST's IDX files, in order, without duplicates.

    Example:
        >>> candidate_dirs("/data")[:3]
        [PosixPath('/data'), PosixPath('/data/fashion-mnist'), PosixPath('/data/FashionMNIST/raw')]
    """
    directories: list[Path] = []
    if root is not None:
        base = Path(root).expanduser()
        directories += [base, base / NAME, base / "FashionMNIST" / "raw"]
    configured = os.environ.get(DATA_HOME_ENV)
    if configured:
        directories.append(Path(configured).expanduser() / NAME)
    directories += [SYSTEM_DIR, data_home() / "FashionMNIST" / "raw"]
    return list(dict.fromkeys(directories))


def find_split_files(directory: Path, split: str) -> tuple[Path, Path] | None:
    """``(images file, labels file)`` of ``split`` in ``directory`` (plain files preferred over ``.gz``), or None.

    Example:
        >>> find_split_files(Path("/nonexistent"), "train") is None
        True
    """
    images = _find_file(directory, f"{_FILE_PREFIX[split]}-images-idx3-ubyte")
    labels = _find_file(directory, f"{_FILE_PREFIX[split]}-labels-idx1-ubyte")
    return (images, labels) if images is not None and labels is not None else None


def _find_file(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stamp(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_size, info.st_mtime_ns


@functools.lru_cache(maxsize=4)
def _read_split(
    images_path: str, labels_path: str, images_stamp: tuple[int, int], labels_stamp: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    # The stamps are part of the cache key so a replaced file is read again.
    images = read_idx(images_path, expected_ndim=3, expected_dtype=np.uint8)
    labels = read_idx(labels_path, expected_ndim=1, expected_dtype=np.uint8)
    if images.shape[1:] != (28, 28):
        raise ValueError(
            f"{images_path} holds {images.shape[1]}x{images.shape[2]} images, Fashion-MNIST's are 28x28; "
            "point root= at the Fashion-MNIST files"
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels; "
            "the two files come from different sets, fetch both again"
        )
    if labels.size and int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise ValueError(
            f"{labels_path} has label {int(labels.max())}, Fashion-MNIST has {len(FASHION_MNIST_CLASSES)} classes; "
            "point root= at the Fashion-MNIST files"
        )
    return images, labels


def _download(split: str, target: Path) -> tuple[Path, Path] | None:
    try:
        import torchvision  # optional: needed only to download
    except ImportError as err:
        raise ImportError(
            "download=True needs torchvision: pip install condensed-data[torchvision] "
            "(or sudo apt-get install dataset-fashion-mnist)"
        ) from err
    logger.info("downloading Fashion-MNIST %s split into %s with torchvision", split, target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        torchvision.datasets.FashionMNIST(str(target), train=split == "train", download=True)
    except Exception as err:  # network errors come in many types; all mean the same to the user
        raise RuntimeError(
            f"downloading Fashion-MNIST into {target} failed ({err}); without internet install the Debian package "
            f"dataset-fashion-mnist or copy the IDX files into ${DATA_HOME_ENV}/{NAME}"
        ) from err
    return find_split_files(target / "FashionMNIST" / "raw", split)


def _not_found_message(split: str, directories: list[Path]) -> str:
    prefix = _FILE_PREFIX[split]
    lines = [
        f"Fashion-MNIST ({split} split) was not found: looked for {prefix}-images-idx3-ubyte[.gz] and "
        f"{prefix}-labels-idx1-ubyte[.gz] in:"
    ]
    lines += [f"  - {d}{'' if d.is_dir() else ' (does not exist)'}" for d in directories]
    lines += [
        "Fix it with one of:",
        "  - sudo apt-get install dataset-fashion-mnist   (Debian/Ubuntu; installs into "
        "/usr/share/datasets/fashion-mnist)",
        f"  - put the IDX files in a folder <dir>/{NAME}/ and set {DATA_HOME_ENV}=<dir>, or pass root=<folder>",
        "  - download them: load_dataset('fashion-mnist', download=True), or --download on the command line "
        "(needs torchvision and internet)",
    ]
    return "\n".join(lines)
