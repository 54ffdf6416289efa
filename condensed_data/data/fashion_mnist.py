"""Fashion-MNIST from its IDX files, found without downloading whenever a copy is already on the machine.

Search order (the first folder holding both files of the split wins):

1. ``root``, ``root/fashion-mnist`` and ``root/FashionMNIST/raw`` when ``root`` is given;
2. ``$CONDENSED_DATA_HOME/fashion-mnist``;
3. ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package ``dataset-fashion-mnist``);
4. torchvision's layout ``<data home>/FashionMNIST/raw`` (data home: ``$CONDENSED_DATA_HOME`` or
   ``~/.cache/condensed-data``).

With ``download=True`` and nothing found, torchvision downloads into ``root`` (or the data home) and the raw IDX
files it leaves are read the same way (:mod:`condensed_data.data.idx_datasets`, shared with MNIST).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from condensed_data.data.idx_datasets import IDXDataset, find_in, find_split_files, read_split, wanted_files
from condensed_data.data.locate import search_dirs
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
_SPEC = IDXDataset(NAME, "Fashion-MNIST", FASHION_MNIST_CLASSES, FASHION_MNIST_MEAN, FASHION_MNIST_STD)


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
    found = find_in(directories, split)
    if found is None and download:
        found = _download(split, Path(root).expanduser() if root is not None else data_home())
    if found is None:
        raise FileNotFoundError(_not_found_message(split, directories))
    return read_split(_SPEC, split, found)


def candidate_dirs(root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for Fashion-MNIST's IDX files, in order, without duplicates.

    Example:
        >>> candidate_dirs("/data")[:3]
        [PosixPath('/data'), PosixPath('/data/fashion-mnist'), PosixPath('/data/FashionMNIST/raw')]
    """
    return search_dirs(NAME, root, system_dir=SYSTEM_DIR, layouts=("FashionMNIST/raw",))


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
    lines = [f"Fashion-MNIST ({split} split) was not found: looked for {wanted_files(split)} in:"]
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
