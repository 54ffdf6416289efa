"""Tiny ImageNet (200 classes, 64x64), read lazily from its standard folder as an :class:`ImageFolderSource`.

The layout of ``tiny-imagenet-200.zip``: ``wnids.txt`` (the 200 WordNet ids), ``words.txt`` (id -> names),
``train/<wnid>/images/*.JPEG`` (500 per class) and ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt``
(``<file>\\t<wnid>\\t<box>``, 50 per class). The test split is ``val`` (the official test split has no labels), as
in the dataset-condensation literature. Classes are the WordNet ids, sorted (the order an image-folder reader of
``train/`` gives); :func:`class_words` gives their names. Both splits are normalized with the reference protocol's
constants (ImageNet's), so no pass over 100,000 images is needed to open the set.

Searched (:mod:`condensed_data.data.locate`) in ``root``, ``root/tiny-imagenet``, ``$CONDENSED_DATA_HOME/tiny-imagenet``,
``/usr/share/datasets/tiny-imagenet`` and ``<data home>/tiny-imagenet``, each either holding ``tiny-imagenet-200/``
or being it. ``download=True`` fetches and unpacks the zip (md5-checked).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from condensed_data.data.folder import ImageFolderSource
from condensed_data.data.locate import SYSTEM_ROOT, Resource, download, not_found_message, search_dirs
from condensed_data.data.paths import data_home

__all__ = ["SPLITS", "TINY_IMAGENET_MEAN", "TINY_IMAGENET_STD", "class_words", "load_tiny_imagenet"]

logger = logging.getLogger(__name__)

NAME = "tiny-imagenet"
FOLDER = "tiny-imagenet-200"
SPLITS = ("train", "test")
# The reference protocol's constants for Tiny ImageNet (ImageNet's statistics, as DC/DM/MTT use).
TINY_IMAGENET_MEAN = (0.485, 0.456, 0.406)
TINY_IMAGENET_STD = (0.229, 0.224, 0.225)
_RESOURCE = Resource("http://cs231n.stanford.edu/tiny-imagenet-200.zip", "tiny-imagenet-200.zip",
                     "90528d7ca1a48142e341f4ef8d21d0de")  # fmt: skip
_EXTENSIONS = (".jpeg", ".jpg", ".png")


def load_tiny_imagenet(
    split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = False, **options: Any
) -> ImageFolderSource:
    """A Tiny ImageNet split as an :class:`ImageFolderSource` of ``(3, 64, 64)`` images, read lazily.

    Args:
        split: ``"train"`` (100,000 images) or ``"test"`` (the 10,000 ``val`` images).
        root: A folder to look in first (and to download into).
        download: When the folder is nowhere to be found, download and unpack the zip (needs torchvision).
        **options: Passed to :class:`ImageFolderSource` (``workers``, ``cache``, ``on_error``, ...).

    Raises:
        ValueError: Unknown split, or a malformed ``val_annotations.txt`` / ``wnids.txt`` (the message names it).
        FileNotFoundError: No copy found and ``download`` is false (the message lists where it looked and the
            fixes), or a file the annotations list is missing.

    Example:
        >>> ds = load_tiny_imagenet("test")  # doctest: +SKIP
        >>> len(ds), ds.image_shape, ds.num_classes  # doctest: +SKIP
        (10000, (3, 64, 64), 200)
    """
    if split not in SPLITS:
        raise ValueError(f"unknown Tiny ImageNet split {split!r}; valid splits: {', '.join(SPLITS)}")
    directories = search_dirs(NAME, root, system_dir=SYSTEM_ROOT / NAME, layouts=(NAME,))
    base = next((b for d in directories if (b := _find(d)) is not None), None)
    if base is None and download:
        target = Path(root).expanduser() if root is not None else data_home() / NAME
        _fetch(target)
        base = _find(target)
    if base is None:
        wanted = f"{FOLDER}/ (wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG, val/val_annotations.txt)"
        raise FileNotFoundError(not_found_message("Tiny ImageNet", split, wanted, directories, name=NAME))
    classes = _wnids(base)
    folder, files = (base / "train", _train_files(base, classes)) if split == "train" else _val_files(base, classes)
    logger.info("Tiny ImageNet %s split from %s", split, folder)
    options = {"mean": TINY_IMAGENET_MEAN, "std": TINY_IMAGENET_STD, **options}
    return ImageFolderSource(folder, split=split, name=NAME, classes=classes, files=files, **options)


def class_words(base: str | os.PathLike[str]) -> dict[str, str]:
    """WordNet id -> its names (e.g. ``"n01443537" -> "goldfish, Carassius auratus"``) from ``base/words.txt``.

    Example:
        >>> import tempfile, pathlib
        >>> base = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (base / "words.txt").write_text("n01443537\\tgoldfish, Carassius auratus\\n")
        >>> class_words(base)["n01443537"]
        'goldfish, Carassius auratus'
    """
    words: dict[str, str] = {}
    for line in (Path(base) / "words.txt").read_text(encoding="utf-8").splitlines():
        wnid, _, names = line.partition("\t")
        if wnid.strip():
            words[wnid.strip()] = names.strip()
    return words


def _find(directory: Path) -> Path | None:
    for base in (directory / FOLDER, directory):
        if (base / "wnids.txt").is_file() and (base / "train").is_dir():
            return base
    return None


def _wnids(base: Path) -> list[str]:
    wnids = sorted({line.strip() for line in (base / "wnids.txt").read_text(encoding="utf-8").splitlines()} - {""})
    if not wnids:
        raise ValueError(f"{base / 'wnids.txt'} lists no classes; unpack {_RESOURCE.filename} again")
    return wnids


def _is_image(name: str) -> bool:
    return name.lower().endswith(_EXTENSIONS)


def _train_files(base: Path, classes: list[str]) -> dict[str, list[str]]:
    files = {}
    for wnid in classes:
        folder = base / "train" / wnid / "images"
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{folder} is missing (class {wnid} of wnids.txt); unpack {_RESOURCE.filename} again"
            )
        files[wnid] = [f"{wnid}/images/{e.name}" for e in os.scandir(folder) if e.is_file() and _is_image(e.name)]
    return files


def _val_files(base: Path, classes: list[str]) -> tuple[Path, dict[str, list[str]]]:
    annotations = base / "val" / "val_annotations.txt"
    if not annotations.is_file():
        raise FileNotFoundError(
            f"{annotations} is missing: it labels the val images; unpack {_RESOURCE.filename} again"
        )
    files: dict[str, list[str]] = {wnid: [] for wnid in classes}
    for number, line in enumerate(annotations.read_text(encoding="utf-8").splitlines(), 1):
        fields = line.split("\t")
        if not line.strip():
            continue
        if len(fields) < 2 or fields[1] not in files:
            raise ValueError(
                f"{annotations}, line {number}: expected '<file>\\t<wnid>\\t...' with a wnid of wnids.txt, got "
                f"{line[:80]!r}"
            )
        files[fields[1]].append(f"images/{fields[0]}")
    return base / "val", files


def _fetch(target: Path) -> None:
    download("Tiny ImageNet", [_RESOURCE], target, extract=True)
