"""The index of an image folder: its classes and files, checked once and cached next to the data.

:class:`~condensed_data.data.folder.ImageFolderSource` reads ``root/<class>/<image>`` lazily. What it needs before
the first draw (the class list, each class's files, the image size, which files are unreadable, the normalization
statistics) comes from one pass over the folder, recorded as JSON in ``root/.condensed-data-index.json`` (or, when
``root`` is not writable, under ``$CONDENSED_DATA_HOME/folder-index/``). Every open lists the folder again (names,
sizes and modification times: a ``stat`` per file, no reads) and hashes that listing; the cached index is used
only when the hash matches, so adding, removing, replacing or touching a file invalidates it.

A dataset whose layout is not ``root/<class>/<image>`` (Tiny ImageNet's ``train/<wnid>/images/*.JPEG``, or a
validation folder whose labels live in an annotation file) passes its listing instead: ``load_index(root,
files={class: [path relative to root, ...]})``; everything else (checks, cache, statistics) is the same.

The listing hash is the source's fingerprint. It identifies the files, not their pixels: a file rewritten with the
same size and modification time (a deliberate ``touch -r``) goes unnoticed. Hashing every pixel would need the
full read this index avoids.

Example:
    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for c in ("cat", "dog"):
    ...     (root / c).mkdir()
    ...     Image.new("RGB", (4, 4)).save(root / c / "0.png")
    >>> index = load_index(root)
    >>> index.classes, [len(f) for f in index.files], index.sizes
    (['cat', 'dog'], [1, 1], {'4x4': 'cat/0.png'})
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from condensed_data.data.adapters import IMAGE_EXTENSIONS
from condensed_data.data.paths import data_home

__all__ = ["INDEX_FILE", "FolderIndex", "check_unchanged", "load_index", "save_index", "stats_key"]

logger = logging.getLogger(__name__)

INDEX_FILE = ".condensed-data-index.json"
_FORMAT = "condensed-data/folder-index/v1"


@dataclass
class FolderIndex:
    """What one pass over ``root`` found.

    Attributes:
        root: The folder (``root/<class>/<image>``).
        listing: sha256 hex of the listing (class names, file names, sizes, modification times).
        classes: Class folder names, sorted (or the classes of an explicit listing, in its order).
        files: Per class, its image file names (relative to the class's folder), sorted.
        stamps: Per class, ``[size, mtime_ns]`` of each file (checked again when a file is read).
        sizes: ``"WxH"`` -> an example file (``class/name``), one entry per image size found.
        bad: ``class/name`` -> why the file cannot be read (unreadable or truncated).
        stats: Normalization statistics per reading option (:func:`stats_key`): ``{"mean": [...], "std": [...]}``.
        folders: Per class, the folder (relative to ``root``, POSIX) its file names are relative to: the class name
            for a scanned folder, ``""`` (``root`` itself) for an explicit listing.
    """

    root: Path
    listing: str
    classes: list[str]
    files: list[list[str]]
    stamps: list[list[list[int]]]
    sizes: dict[str, str] = field(default_factory=dict)
    bad: dict[str, str] = field(default_factory=dict)
    stats: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.folders:  # a scanned folder, or an index cached before explicit listings existed
            self.folders = list(self.classes)

    def relpath(self, c: int, i: int) -> str:
        """File ``i`` of class ``c``, relative to ``root`` (POSIX): the key of :attr:`bad`."""
        folder = self.folders[c]
        return f"{folder}/{self.files[c][i]}" if folder else self.files[c][i]


def stats_key(image_size: tuple[int, int] | None, grayscale: bool) -> str:
    """The key of the statistics of one way of reading the images, e.g. ``"native/RGB"`` or ``"32x32/L"``."""
    size = "native" if image_size is None else f"{image_size[1]}x{image_size[0]}"
    return f"{size}/{'L' if grayscale else 'RGB'}"


def load_index(
    root: str | os.PathLike[str], *, workers: int = 0, files: Mapping[str, Sequence[str]] | None = None
) -> FolderIndex:
    """The index of ``root``: from its cache when the listing is unchanged, else built (one checking pass) and
    cached.

    Args:
        root: The folder.
        workers: Threads checking files in parallel when the index is built (0: in this thread).
        files: An explicit listing instead of class folders: class name -> image paths relative to ``root``
            (POSIX); the classes keep the mapping's order.

    Raises:
        FileNotFoundError: ``root`` is not a folder, has no class folders, or lacks a listed file.
    """
    root = Path(root).expanduser().resolve()
    if files is None:
        classes, folders, names, stamps, listing = _scan(root)
    else:
        classes, folders, names, stamps, listing = _listed(root, files)
    cached = _read_cache(root)
    if cached is not None and cached.listing == listing:
        logger.debug("image folder index of %s from its cache", root)
        return cached
    logger.info("indexing image folder %s (%d files)", root, sum(map(len, names)))
    index = FolderIndex(root=root, listing=listing, classes=classes, files=names, stamps=stamps, folders=folders)
    paths = [index.relpath(c, i) for c in range(len(classes)) for i in range(len(names[c]))]
    for rel, (size, error) in zip(paths, _map(_check_file, [root / p for p in paths], workers), strict=True):
        if error is not None:
            index.bad[rel] = error
        else:
            index.sizes.setdefault(size, rel)
    save_index(index)
    return index


def save_index(index: FolderIndex) -> None:
    """Write ``index`` to its cache file atomically (beside the data, or in the data home if that is read-only)."""
    record = asdict(index)
    record["root"] = str(index.root)
    text = json.dumps({"format": _FORMAT, **record}, separators=(",", ":"))
    for path in (index.root / INDEX_FILE, _home_cache(index.root)):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            return
        except OSError as exc:
            logger.debug("cannot write the folder index to %s (%s)", path, exc)
    logger.warning("cannot cache the index of %s anywhere; it will be rebuilt at the next open", index.root)


def check_unchanged(index: FolderIndex, c: int, i: int) -> Path:
    """The path of file ``i`` of class ``c``, after checking it still has the size and mtime it was indexed with.

    Raises:
        RuntimeError: The file is gone or was modified since the index was built.
    """
    path = index.root / index.relpath(c, i)
    try:
        st = path.stat()
    except OSError:
        st = None
    if st is None or [st.st_size, st.st_mtime_ns] != index.stamps[c][i]:
        raise RuntimeError(
            f"{path} changed after {index.root} was indexed ({'removed' if st is None else 'modified'}): the folder "
            "must not change while it is read; restart the run (a resumed run will be refused: its data changed)"
        )
    return path


# ---------------------------------------------------------------------- internals
_Listing = tuple[list[str], list[str], list[list[str]], list[list[list[int]]], str]


def _scan(root: Path) -> _Listing:
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise FileNotFoundError(f"{root} has no class sub-folders; expected the layout {root}/<class name>/<image>")
    digest = hashlib.sha256(_FORMAT.encode())
    classes, files, stamps = [], [], []
    for class_dir in class_dirs:
        entries = sorted(
            (e.name, e.stat())
            for e in os.scandir(class_dir)
            if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
        )
        classes.append(class_dir.name)
        files.append([name for name, _ in entries])
        stamps.append([[st.st_size, st.st_mtime_ns] for _, st in entries])
        digest.update(json.dumps([class_dir.name, [[n, st.st_size, st.st_mtime_ns] for n, st in entries]]).encode())
    return classes, list(classes), files, stamps, digest.hexdigest()


def _listed(root: Path, listing: Mapping[str, Sequence[str]]) -> _Listing:
    """What :func:`_scan` finds, for an explicit ``class -> paths relative to root`` listing."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    if not listing:
        raise FileNotFoundError(f"the listing of {root} names no classes")
    digest = hashlib.sha256(f"{_FORMAT}/listed".encode())
    classes, files, stamps = [], [], []
    for name, paths in listing.items():
        entries = []
        for rel in sorted(paths):
            try:
                entries.append((rel, (root / rel).stat()))
            except OSError:
                raise FileNotFoundError(f"{root / rel} (class {name!r}) is listed but missing") from None
        classes.append(str(name))
        files.append([rel for rel, _ in entries])
        stamps.append([[st.st_size, st.st_mtime_ns] for _, st in entries])
        digest.update(json.dumps([str(name), [[n, st.st_size, st.st_mtime_ns] for n, st in entries]]).encode())
    return classes, [""] * len(classes), files, stamps, digest.hexdigest()


def _check_file(path: Path) -> tuple[str, str | None]:
    """``("WxH", None)`` for a readable image, ``("", why)`` for one PIL cannot open or finds truncated."""
    try:
        with Image.open(path) as image:
            size = f"{image.width}x{image.height}"
            image.verify()  # reads the file through and checks its structure (e.g. PNG checksums), no decoding
        return size, None
    except Exception as exc:  # noqa: BLE001 - any failure makes the file unreadable; the reason is kept
        return "", f"{type(exc).__name__}: {exc}"


def _map(fn: Callable[[Any], Any], items: list[Any], workers: int) -> Iterable[Any]:
    if workers <= 0 or len(items) < 2:
        return map(fn, items)
    with ThreadPoolExecutor(workers) as pool:  # PIL releases the GIL while it reads and decodes
        return list(pool.map(fn, items))


def _home_cache(root: Path) -> Path:
    return data_home() / "folder-index" / f"{hashlib.sha256(str(root).encode()).hexdigest()[:24]}.json"


def _read_cache(root: Path) -> FolderIndex | None:
    for path in (root / INDEX_FILE, _home_cache(root)):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.pop("format", None) != _FORMAT or record.get("root") != str(root):
            continue
        try:
            return FolderIndex(**{**record, "root": root})
        except TypeError:
            continue
    return None
