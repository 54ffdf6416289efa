"""Class-bucketed webdataset shards of a real split: the layout, the index, and :func:`write_real_shards`.

A real split too large for memory is written once into shards that each hold images of ONE class (a class spans
as many shards as it needs), so a draw of ``n`` images per class reads only members of that class's shards, and a
class-sharded process never opens another class's files::

    fashion-mnist-shards/train/
      real-shards.json                 # the index (below)
      c00-00000.tar  c00-00001.tar     # class 0's images, in the split's order
      c01-00000.tar  ...               # class 1's, ...

Each shard is a plain uncompressed tar (what ``webdataset`` and ``tar`` read) of ``KEY.npy`` (float32 ``C x H x W``,
exact) or ``KEY.png`` (8-bit: ``round(x * 255)``; exact for 8-bit images such as Fashion-MNIST's) and ``KEY.cls``
(the label as decimal text); ``KEY`` is the image's zero-padded position in the split, so a shard can be traced
back. Tar headers are normalized, so the same data gives byte-identical shards.

The index lists the classes and, per class, its shards (file, samples, size, sha256) and image count; the image
shape and format; the normalization ``mean``/``std``; the ``source_fingerprint`` of the split the shards were
written from (provenance); and ``fingerprint``: a sha256 over the classes, counts, shape, format and the shards'
checksums, which is what :meth:`ShardedRealSource.fingerprint <condensed_data.data.ShardedRealSource.fingerprint>`
returns.

Example:
    >>> import tempfile, pathlib
    >>> from condensed_data.testing import tiny_real_dataset
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "tiny"
    >>> index = write_real_shards(tiny_real_dataset(), folder, shard_size=5)
    >>> index.counts, [len(s) for s in index.shards]
    ([12, 12, 12], [3, 3, 3])
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from condensed_data.artifact.folder import write_folder_atomically
from condensed_data.artifact.strict_json import load_json
from condensed_data.data._checks import check_count, check_stats
from condensed_data.data.source import RealSource
from condensed_data.interop.webdataset import IMAGE_FORMATS, ShardError, encode_image, key_width

__all__ = ["INDEX_NAME", "ClassShard", "RealShardIndex", "read_real_index", "write_real_shards"]

INDEX_NAME = "real-shards.json"
INDEX_FORMAT = "condensed-data/real-shards"
REWRITE = "write the shards again with condensed_data.data.write_real_shards(source, folder)"
_RECORD = tarfile.RECORDSIZE


@dataclass(frozen=True)
class ClassShard:
    """One shard of one class: its file name (in the split's folder), images, size in bytes and sha256."""

    file: str
    samples: int
    size: int
    sha256: str


@dataclass(frozen=True)
class RealShardIndex:
    """The content of ``real-shards.json``: one split's classes, shards per class, shape, format and statistics."""

    name: str
    split: str
    classes: tuple[str, ...]
    image_shape: tuple[int, int, int]
    image_format: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    shards: tuple[tuple[ClassShard, ...], ...]  # per class, in label order
    source_fingerprint: str

    @property
    def counts(self) -> list[int]:
        """Images per class."""
        return [sum(s.samples for s in shards) for shards in self.shards]

    @property
    def fingerprint(self) -> str:
        """``"sha256:<hex>"`` of the classes, counts, image shape and format, and every shard's checksum."""
        content = {
            "format": INDEX_FORMAT,
            "classes": list(self.classes),
            "image_shape": list(self.image_shape),
            "image_format": self.image_format,
            "shards": [[[s.file, s.samples, s.sha256] for s in shards] for shards in self.shards],
        }
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> str:
        """JSON text of the index."""
        data = {
            "format": INDEX_FORMAT,
            "version": 1,
            "name": self.name,
            "split": self.split,
            "classes": list(self.classes),
            "counts": self.counts,
            "samples": sum(self.counts),
            "image_shape": list(self.image_shape),
            "image_format": self.image_format,
            "mean": list(self.mean),
            "std": list(self.std),
            "shards": [[vars(s) for s in shards] for shards in self.shards],
            "source_fingerprint": self.source_fingerprint,
            "fingerprint": self.fingerprint,
        }
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _parse(data: Any) -> RealShardIndex:
    if data.get("format") != INDEX_FORMAT or data.get("version") != 1:
        raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}, expected {INDEX_FORMAT} v1")
    shape = tuple(int(v) for v in data["image_shape"])
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"image_shape must be [C, H, W] of positive sizes, got {data['image_shape']}")
    shards = tuple(
        tuple(ClassShard(str(s["file"]), int(s["samples"]), int(s["size"]), str(s["sha256"])) for s in per_class)
        for per_class in data["shards"]
    )
    return RealShardIndex(
        name=str(data["name"]),
        split=str(data["split"]),
        classes=tuple(str(c) for c in data["classes"]),
        image_shape=shape,  # type: ignore[arg-type]
        image_format=str(data["image_format"]),
        mean=check_stats(data["mean"], shape[0], "mean"),
        std=check_stats(data["std"], shape[0], "std", positive=True),
        shards=shards,
        source_fingerprint=str(data["source_fingerprint"]),
    )


def read_real_index(folder: str | os.PathLike) -> RealShardIndex:
    """Read and check ``folder/real-shards.json``.

    Raises:
        FileNotFoundError: There is no index in ``folder`` (the message says how to write one).
        ShardError: The index is invalid or disagrees with itself (counts, fingerprint, file names).
    """
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {folder} holds no class-bucketed shards; write them with "
            "condensed_data.data.write_real_shards(source, folder), e.g. from data.load_dataset('folder:PATH')"
        )
    try:
        data = load_json(path.read_text(encoding="utf-8"), INDEX_NAME)
        index = _parse(data)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ShardError(f"{path} is not a valid shard index ({type(exc).__name__}: {exc}); {REWRITE}") from None
    problem = _inconsistency(index, data)
    if problem:
        raise ShardError(f"{path}: {problem}; {REWRITE}")
    return index


def _inconsistency(index: RealShardIndex, data: dict) -> str | None:
    """What is wrong with a parsed index, or ``None``."""
    if index.image_format not in IMAGE_FORMATS:
        return f"image_format must be one of {list(IMAGE_FORMATS)}, got {index.image_format!r}"
    if not index.classes or len(set(index.classes)) != len(index.classes):
        return "classes must be a non-empty list of distinct names"
    if len(index.shards) != len(index.classes) or len(data.get("counts", ())) != len(index.classes):
        return f"'shards' and 'counts' must have one entry per class ({len(index.classes)})"
    if list(data["counts"]) != index.counts:
        return f"'counts' {list(data['counts'])} disagree with the shards' samples {index.counts}"
    if data.get("samples") != sum(index.counts):
        return f"'samples' is {data.get('samples')}, but the classes hold {sum(index.counts)}"
    files = [s.file for shards in index.shards for s in shards]
    bad = [f for f in files if Path(f).name != f or not f.endswith(".tar") or f.startswith(".")]
    if bad or len(set(files)) != len(files):
        return f"shard files must be distinct plain .tar names in the index's folder, got {bad or files}"
    if any(s.samples < 1 or s.size < 0 for shards in index.shards for s in shards):
        return "every shard must hold at least one image"
    if data.get("fingerprint") != index.fingerprint:
        return f"'fingerprint' {data.get('fingerprint')!r} does not match the index's content ({index.fingerprint})"
    return None


# -- writing ----------------------------------------------------------------------------------------------------


def _member(name: str, data: bytes) -> bytes:
    """A tar member (normalized ustar header, data, padding), as ``tarfile`` writes it."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    padding = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(tarfile.USTAR_FORMAT, tarfile.ENCODING, "surrogateescape") + data + bytes(padding)


class _ClassWriter:
    """Appends one class's images to its current shard; starts the next shard at ``shard_size`` images."""

    def __init__(self, folder: Path, label: int, width: int, shard_size: int) -> None:
        self.folder, self.label, self.width, self.shard_size = folder, label, width, shard_size
        self.done: list[ClassShard] = []
        self._file: str | None = None
        self._samples, self._size, self._hash = 0, 0, hashlib.sha256()

    def add(self, members: Sequence[bytes]) -> None:
        """Append the members of images (one ``bytes`` of image + label members each), one open per shard."""
        start = 0
        while start < len(members):
            if self._file is None:
                self._file = f"c{self.label:0{self.width}d}-{len(self.done):05d}.tar"
            take = members[start : start + self.shard_size - self._samples]
            self._write(b"".join(take))
            self._samples += len(take)
            start += len(take)
            if self._samples == self.shard_size:
                self.finish()

    def _write(self, data: bytes) -> None:
        with open(self.folder / self._file, "ab") as f:  # type: ignore[operator]
            f.write(data)
        self._size += len(data)
        self._hash.update(data)

    def finish(self) -> None:
        """Close the current shard: end-of-archive blocks, padded to a tar record, as ``tarfile`` closes one."""
        if self._file is None:
            return
        end = bytes(2 * tarfile.BLOCKSIZE)
        self._write(end + bytes(-(self._size + len(end)) % _RECORD))
        self.done.append(ClassShard(self._file, self._samples, self._size, "sha256:" + self._hash.hexdigest()))
        self._file, self._samples, self._size, self._hash = None, 0, 0, hashlib.sha256()


def write_real_shards(
    source: RealSource,
    folder: str | os.PathLike,
    *,
    shard_size: int = 1000,
    image_format: str = "npy",
    batch_size: int = 256,
    overwrite: bool = False,
) -> RealShardIndex:
    """Write every image of ``source`` (any :class:`~condensed_data.data.RealSource` split) as class-bucketed shards.

    The split is read with ``source.batches(batch_size)``, so it is never held whole; the shards and the index are
    written into a temporary sibling folder that is renamed to ``folder`` when complete.

    Args:
        source: The split to write (its name, split, classes, mean and std go into the index).
        folder: The new folder (e.g. ``out/fashion-mnist-shards/train``).
        shard_size: Images per shard at most (a class's last shard may hold fewer).
        image_format: ``"npy"`` (float32, exact; default) or ``"png"`` (8-bit; 1, 3 or 4 channels; exact for images
            that are 8-bit to begin with).
        batch_size: Images read from ``source`` at a time.
        overwrite: Replace an existing ``folder``.

    Returns:
        The index written to ``folder/real-shards.json``.

    Raises:
        FileExistsError: ``folder`` exists and ``overwrite`` is false.
        ValueError: A bad option, or a source whose batches disagree with its class counts.
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {list(IMAGE_FORMATS)}, got {image_format!r}")
    shard_size, batch_size = check_count(shard_size), check_count(batch_size)
    shape = tuple(source.image_shape)
    if image_format == "png" and shape[0] not in (1, 3, 4):
        raise ValueError(f"PNG holds 1, 3 or 4 channels, {source.name} has {shape[0]}: use image_format='npy'")
    result: list[RealShardIndex] = []

    def write(tmp: Path) -> None:
        classes = list(source.classes)
        digits = max(2, len(str(len(classes) - 1)))
        writers = [_ClassWriter(tmp, c, digits, shard_size) for c in range(len(classes))]
        width, key = key_width(len(source)), 0
        for images, labels in source.batches(batch_size):
            pending: dict[int, list[bytes]] = {}
            for image, label in zip(images.detach().cpu(), labels.tolist(), strict=True):
                if not 0 <= label < len(classes):
                    raise ValueError(f"{source.name}/{source.split}: label {label} is not a class index")
                name = f"{key:0{width}d}"
                data = encode_image(image, image_format, (0.0, 1.0))
                cls = _member(f"{name}.cls", str(label).encode())
                pending.setdefault(int(label), []).append(_member(f"{name}.{image_format}", data) + cls)
                key += 1
            for label, members in pending.items():
                writers[label].add(members)
        for w in writers:
            w.finish()
        index = RealShardIndex(
            name=source.name,
            split=source.split,
            classes=tuple(classes),
            image_shape=shape,  # type: ignore[arg-type]
            image_format=image_format,
            mean=tuple(source.mean),
            std=tuple(source.std),
            shards=tuple(tuple(w.done) for w in writers),
            source_fingerprint=source.fingerprint(),
        )
        expected = list(source.class_counts())
        if index.counts != expected:
            raise ValueError(
                f"{source.name}/{source.split}: batches() gave {index.counts} images per class, but class_counts() "
                f"says {expected}; the source is inconsistent, nothing was written"
            )
        (tmp / INDEX_NAME).write_text(index.to_json(), encoding="utf-8")
        result.append(index)

    write_folder_atomically(folder, write, overwrite=overwrite)
    return result[0]
