"""CIFAR-10 and CIFAR-100 from their *binary* versions, read with numpy: never from the Python (pickle) version.

The binary version (``cifar-10-binary.tar.gz`` / ``cifar-100-binary.tar.gz`` on the dataset's page) stores each
image as one record: the label byte(s) then 3,072 bytes of pixels (1,024 red, 1,024 green, 1,024 blue, row-major).
CIFAR-10 records carry one label byte (files ``data_batch_1.bin`` .. ``data_batch_5.bin``, ``test_batch.bin``; class
names in ``batches.meta.txt``); CIFAR-100 records carry two, coarse then fine (``train.bin``, ``test.bin``; the fine
labels are used, named in ``fine_label_names.txt``). The torchvision classes read the Python version, whose batches
are pickles, so they are not used: nothing downloaded is ever unpickled.

Each folder searched (``root``, ``root/<name>``, ``$CONDENSED_DATA_HOME/<name>``, ``/usr/share/datasets/<name>``,
``<data home>/<name>``, see :mod:`condensed_data.data.locate`) may hold the extracted folder
(``cifar-10-batches-bin/``, ``cifar-100-binary/``), its files directly, or the ``.tar.gz`` itself, which is read
without extracting it. ``download=True`` fetches the archive (md5-checked) and reads it the same way.
"""

from __future__ import annotations

import functools
import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from condensed_data.data.locate import SYSTEM_ROOT, Resource, download, not_found_message, search_dirs
from condensed_data.data.paths import data_home
from condensed_data.data.real import RealDataset

__all__ = ["CIFAR10", "CIFAR100", "SPLITS", "CifarVersion", "load_cifar"]

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarVersion:
    """The binary version of one CIFAR dataset: its files, record layout, normalization and download."""

    name: str
    title: str
    folder: str  # the archive's top folder
    archive: str
    md5: str
    files: dict[str, tuple[str, ...]]  # split -> the record files, in order
    names_file: str
    label_bytes: int  # the fine (or only) label is the last of them
    num_classes: int
    mean: tuple[float, ...]  # the reference protocol's constants (DC/DSA/DM)
    std: tuple[float, ...]
    python_version: tuple[str, ...]  # names that mark the pickle version in a folder

    @property
    def url(self) -> str:
        return f"https://www.cs.toronto.edu/~kriz/{self.archive}"


CIFAR10 = CifarVersion(
    name="cifar10",
    title="CIFAR-10",
    folder="cifar-10-batches-bin",
    archive="cifar-10-binary.tar.gz",
    md5="c32a1d4ab5d03f1284b67883e8d87530",
    files={"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)},
    names_file="batches.meta.txt",
    label_bytes=1,
    num_classes=10,
    mean=(0.4914, 0.4822, 0.4465),
    std=(0.2023, 0.1994, 0.2010),
    python_version=("cifar-10-batches-py", "cifar-10-python.tar.gz", "data_batch_1"),
)
CIFAR100 = CifarVersion(
    name="cifar100",
    title="CIFAR-100",
    folder="cifar-100-binary",
    archive="cifar-100-binary.tar.gz",
    md5="03b5dce01913d631647c71ecec9e9cb8",
    files={"train": ("train.bin",), "test": ("test.bin",)},
    names_file="fine_label_names.txt",
    label_bytes=2,
    num_classes=100,
    mean=(0.5071, 0.4866, 0.4409),
    std=(0.2673, 0.2564, 0.2762),
    python_version=("cifar-100-python", "cifar-100-python.tar.gz"),
)
_VERSIONS = {v.name: v for v in (CIFAR10, CIFAR100)}


def load_cifar(
    version: CifarVersion,
    split: str = "train",
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
) -> RealDataset:
    """Load a split of ``version`` (:data:`CIFAR10` or :data:`CIFAR100`) as ``(3, 32, 32)`` images in [0, 1].

    Args:
        version: Which dataset.
        split: ``"train"`` (50,000 images) or ``"test"`` (10,000).
        root: A folder to look in first (and to download into).
        download: When the binary version is nowhere to be found, download its archive (needs torchvision).

    Raises:
        ValueError: Unknown split, or a corrupt file (the message names it).
        FileNotFoundError: No binary version found and ``download`` is false; the message lists where it looked
            and the fixes, and says so when only the Python (pickle) version was found.

    Example:
        >>> ds = load_cifar(CIFAR10, "test")  # doctest: +SKIP
        >>> len(ds), ds.image_shape, ds.classes[:2]  # doctest: +SKIP
        (10000, (3, 32, 32), ['airplane', 'automobile'])
    """
    if split not in SPLITS:
        raise ValueError(f"unknown {version.title} split {split!r}; valid splits: {', '.join(SPLITS)}")
    directories = search_dirs(version.name, root, system_dir=SYSTEM_ROOT / version.name, layouts=(version.name,))
    found = next((s for d in directories if (s := _find(version, d)) is not None), None)
    if found is None and download:
        target = Path(root).expanduser() if root is not None else data_home() / version.name
        _download(version, target)
        found = _find(version, target)
    if found is None:
        raise FileNotFoundError(_not_found(version, split, directories))
    images, labels, classes = _read(version.name, str(found), split, _stamp(version, found, split))
    logger.info("loaded %s %s split (%d images) from %s", version.title, split, len(labels), found)
    return RealDataset(
        torch.from_numpy(images).to(torch.float32).div_(255),
        torch.from_numpy(labels.astype(np.int64)),
        classes=list(classes),
        name=version.name,
        split=split,
        mean=version.mean,
        std=version.std,
    )


def _find(version: CifarVersion, directory: Path) -> Path | None:
    """The binary version in ``directory``: its extracted folder, the folder itself, or the archive (else None)."""
    first = version.files["train"][0]
    for folder in (directory / version.folder, directory):
        if (folder / first).is_file():
            return folder
    archive = directory / version.archive
    return archive if archive.is_file() else None


def _stamp(version: CifarVersion, found: Path, split: str) -> tuple[tuple[int, int], ...]:
    paths = [found] if found.is_file() else [found / n for n in (*version.files[split], version.names_file)]
    infos = [p.stat() for p in paths if p.exists()]
    return tuple((i.st_size, i.st_mtime_ns) for i in infos)


@functools.lru_cache(maxsize=2)
def _read(
    name: str, source: str, split: str, stamp: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    # The stamp is part of the cache key so a replaced archive or folder is read again.
    version = _VERSIONS[name]
    names = [*version.files[split], version.names_file]
    raw = _read_tar(version, Path(source), names) if source.endswith(".tar.gz") else _read_folder(Path(source), names)
    parts = [_records(version, raw[n], where=f"{source}: {n}") for n in version.files[split]]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    classes = tuple(line.strip() for line in raw[version.names_file].decode("utf-8").splitlines() if line.strip())
    if len(classes) != version.num_classes:
        raise ValueError(
            f"{source}: {version.names_file} names {len(classes)} classes, {version.title} has "
            f"{version.num_classes}; fetch {version.archive} again"
        )
    return images, labels, classes


def _read_folder(folder: Path, names: list[str]) -> dict[str, bytes]:
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} holds part of the CIFAR binary version: {', '.join(missing)} missing; extract the whole "
            "archive again (or put the .tar.gz itself there)"
        )
    return {n: (folder / n).read_bytes() for n in names}


def _read_tar(version: CifarVersion, archive: Path, names: list[str]) -> dict[str, bytes]:
    """The members ``names`` of the archive's top folder, read in memory (nothing is extracted to disk)."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                head, _, base = member.name.rpartition("/")
                if member.isfile() and base in names and head.rstrip("/").endswith(version.folder):
                    stream = tar.extractfile(member)
                    if stream is not None:
                        out[base] = stream.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(
            f"could not read {archive} ({err}): it is corrupt or truncated; delete it and fetch it again"
        ) from err
    missing = [n for n in names if n not in out]
    if missing:
        raise ValueError(
            f"{archive} lacks {version.folder}/{', '.join(missing)}; it is not {version.title}'s binary version "
            f"({version.url}): fetch that archive"
        )
    return out


def _records(version: CifarVersion, data: bytes, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    size = version.label_bytes + _PIXELS
    if len(data) == 0 or len(data) % size:
        raise ValueError(
            f"{where} is {len(data)} bytes, not a whole number of {size}-byte {version.title} records; it is "
            "corrupt or truncated (or another dataset's file): fetch it again"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    labels = records[:, version.label_bytes - 1].copy()
    if int(labels.max()) >= version.num_classes:
        raise ValueError(
            f"{where} has label {int(labels.max())}, {version.title} has {version.num_classes} classes; it is "
            "another dataset's file"
        )
    return records[:, version.label_bytes :].reshape(-1, 3, 32, 32).copy(), labels


def _download(version: CifarVersion, target: Path) -> None:
    download(version.title, [Resource(version.url, version.archive, version.md5)], target)


def _not_found(version: CifarVersion, split: str, directories: list[Path]) -> str:
    wanted = f"{version.folder}/ ({', '.join(version.files[split])}, {version.names_file}) or {version.archive}"
    message = not_found_message(version.title, split, wanted, directories, name=version.name)
    pickled = [d / n for d in directories for n in version.python_version if (d / n).exists()]
    if not pickled:
        return message
    return (
        f"Only the Python version of {version.title} was found ({pickled[0]}): its batches are pickles, and "
        f"condensed-data never unpickles downloaded files. Get the binary version, {version.url} (md5 "
        f"{version.md5}), and put it (or its extracted {version.folder}/) in {pickled[0].parent}, or pass "
        f"download=True (--download).\n{message}"
    )
