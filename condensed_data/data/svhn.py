"""SVHN (cropped digits, 32x32) from its MATLAB files, ``train_32x32.mat`` and ``test_32x32.mat``.

The files are read with ``scipy.io.loadmat`` (the MATLAB format: arrays, no pickles): ``X`` holds the images as
``(32, 32, 3, N)`` uint8 and ``y`` the labels ``(N, 1)``, 1..10, where 10 stands for the digit 0 (so label ``d`` is
digit ``d``). Searched in ``root``, ``root/svhn``, ``$CONDENSED_DATA_HOME/svhn``, ``/usr/share/datasets/svhn`` and
``<data home>/svhn`` (:mod:`condensed_data.data.locate`); ``download=True`` fetches the split's file (md5-checked).
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

import numpy as np
import torch

from condensed_data.data.locate import SYSTEM_ROOT, Resource, download, not_found_message, search_dirs
from condensed_data.data.paths import data_home
from condensed_data.data.real import RealDataset

__all__ = ["SPLITS", "SVHN_CLASSES", "SVHN_MEAN", "SVHN_STD", "load_svhn"]

logger = logging.getLogger(__name__)

NAME = "svhn"
SPLITS = ("train", "test")
SVHN_CLASSES = tuple(str(d) for d in range(10))
# The reference protocol's constants (DC/DSA/DM).
SVHN_MEAN = (0.4377, 0.4438, 0.4728)
SVHN_STD = (0.1980, 0.2010, 0.1970)
_URL = "http://ufldl.stanford.edu/housenumbers/"
_MD5 = {"train": "e26dedcc434d2e4c54c9b2d4a06d8373", "test": "eb5a983be6a315427106f1b164d9cef3"}


def load_svhn(
    split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = False
) -> RealDataset:
    """Load an SVHN split as a :class:`RealDataset` of ``(3, 32, 32)`` images in [0, 1], classes ``"0"``..``"9"``.

    Args:
        split: ``"train"`` (73,257 images) or ``"test"`` (26,032).
        root: A folder to look in first (and to download into).
        download: When the file is nowhere to be found, download it (needs torchvision).

    Raises:
        ValueError: Unknown split, or a file that is not SVHN's (the message names it).
        ImportError: scipy, which reads MATLAB files, is not installed.
        FileNotFoundError: No copy found and ``download`` is false; the message lists where it looked and the fixes.

    Example:
        >>> ds = load_svhn("test")  # doctest: +SKIP
        >>> len(ds), ds.image_shape  # doctest: +SKIP
        (26032, (3, 32, 32))
    """
    if split not in SPLITS:
        raise ValueError(f"unknown SVHN split {split!r}; valid splits: {', '.join(SPLITS)}")
    filename = f"{split}_32x32.mat"
    directories = search_dirs(NAME, root, system_dir=SYSTEM_ROOT / NAME, layouts=(NAME,))
    found = next((d / filename for d in directories if (d / filename).is_file()), None)
    if found is None and download:
        target = Path(root).expanduser() if root is not None else data_home() / NAME
        _fetch(split, target)
        found = target / filename if (target / filename).is_file() else None
    if found is None:
        raise FileNotFoundError(not_found_message("SVHN", split, filename, directories, name=NAME))
    info = found.stat()
    images, labels = _read(str(found), (info.st_size, info.st_mtime_ns))
    logger.info("loaded SVHN %s split (%d images) from %s", split, len(labels), found)
    return RealDataset(
        torch.from_numpy(images).to(torch.float32).div_(255),
        torch.from_numpy(labels),
        classes=list(SVHN_CLASSES),
        name=NAME,
        split=split,
        mean=SVHN_MEAN,
        std=SVHN_STD,
    )


def _fetch(split: str, target: Path) -> None:
    filename = f"{split}_32x32.mat"
    download("SVHN", [Resource(_URL + filename, filename, _MD5[split])], target)


@functools.lru_cache(maxsize=2)
def _read(path: str, stamp: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    # The stamp is part of the cache key so a replaced file is read again.
    try:
        from scipy.io import loadmat  # the MATLAB reader; scipy comes with scikit-learn (the digits extra)
    except ImportError as err:
        raise ImportError("reading SVHN's .mat files needs scipy: pip install scipy") from err
    try:
        content = loadmat(path, variable_names=("X", "y"))
    except Exception as err:  # noqa: BLE001 - scipy raises many kinds (MatReadError, IndexError, ...) on a bad file
        raise ValueError(f"could not read {path} as a MATLAB file ({err}); delete it and fetch it again") from err
    x, y = content.get("X"), content.get("y")
    if x is None or y is None or x.ndim != 4 or x.shape[:3] != (32, 32, 3) or y.size != x.shape[3]:
        shapes = {k: getattr(v, "shape", None) for k, v in (("X", x), ("y", y))}
        raise ValueError(
            f"{path} does not hold SVHN's arrays (X: (32, 32, 3, N) images, y: N labels), found {shapes}; "
            "point root= at the SVHN cropped-digits files"
        )
    labels = y.reshape(-1).astype(np.int64)
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) > 10):
        raise ValueError(f"{path} has labels {int(labels.min())}..{int(labels.max())}; SVHN's are 1..10")
    labels[labels == 10] = 0  # SVHN writes the digit 0 as label 10
    images = np.ascontiguousarray(np.asarray(x, dtype=np.uint8).transpose(3, 2, 0, 1))
    return images, labels
