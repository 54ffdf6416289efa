"""The webdataset shard format of artifacts of kind ``webdataset``: writing, the shard index, safe reading.

A sharded artifact is an ordinary artifact folder whose manifest has ``kind: "webdataset"``::

    set-webdataset/
      condensed.json              # kind "webdataset"; lists every file below with sha256 and size
      shards.json                 # the shard index: shard files in order, samples per shard, image format
      data/train-000000.tar       # webdataset shards: per sample KEY.npy (or KEY.png), KEY.cls, KEY.json
      data/train-000001.tar
      README.md  preview.png

Keys are the zero-padded index of the sample in the whole set (``000000``, ``000001``, ...). With ``S`` shards, sample
``i`` lies in shard ``i % S`` at position ``i // S`` (strided, not contiguous): condensed sets are stored class by
class, and striding gives every shard every class, so streaming shard by shard still yields class-mixed batches.
Shard sizes differ by at most one; ``S = ceil(N / shard_size)``. Each sample is three tar members: the image (``.npy``: float32 ``C x H x W``
exactly as stored in a ``tensors`` artifact; or ``.png``: 8-bit, see below), ``.cls`` (the label as decimal text)
and ``.json`` (``{"index", "label", "class"}``). Nothing else is ever written, and a reader refuses any other
member (a pickle-family file such as ``.pth`` or ``.pkl`` above all) before reading its bytes. Tar headers are
normalized (mtime 0, uid/gid 0, mode 0644), so the same data gives byte-identical shards and checksums.

Reading is cheap per sample: a reader lists a shard's members once (:mod:`condensed_data.interop.tar_index`), reads
a member with one positioned read, parses the ``.npy`` header once per shard (every other member's header bytes must
equal it, else that member is decoded and checked on its own), and takes the label from ``.cls`` (``.json`` is for
other tools and is never parsed).

The layout is what plain webdataset (``wds.WebDataset(urls).decode()``) and the Hugging Face Hub's dataset viewer
expect: ``.tar`` files under ``data/`` named ``train-NNNNNN.tar``.

PNG quantizes: a value ``x`` in ``value_space.pixel_range = (lo, hi)`` is stored as
``round((x - lo) / (hi - lo) * 255)`` (values outside the range are clipped first) and read back as
``lo + q / 255 * (hi - lo)``; the round trip is within ``(hi - lo) / 510`` for in-range values. ``.npy`` is exact and
is the default.

>>> sorted(MEMBER_EXTENSIONS)
['cls', 'json', 'npy', 'png']
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import torch
from PIL import Image

from condensed_data.artifact.folder import ArtifactError
from condensed_data.artifact.manifest import PICKLE_SUFFIXES, Manifest
from condensed_data.artifact.strict_json import load_json
from condensed_data.interop.tar_index import Buffer, StridedImages, TarMember, list_members, read_at

__all__ = [
    "INDEX_NAME",
    "IMAGE_FORMATS",
    "MEMBER_EXTENSIONS",
    "ShardError",
    "ShardIndex",
    "ShardInfo",
    "write_shards",
    "read_index",
    "ShardReader",
    "encode_image",
    "decode_image",
]

INDEX_NAME = "shards.json"
INDEX_FORMAT = "condensed-data/webdataset"
IMAGE_FORMATS = ("npy", "png")
MEMBER_EXTENSIONS = frozenset({"npy", "png", "cls", "json"})
# webdataset decodes these with pickle (or torch.load) unless told otherwise; they are named in the refusal.
_PICKLE_EXTENSIONS = frozenset({s.lstrip(".") for s in PICKLE_SUFFIXES} | {"pyd", "npz", "pth.tar"})
SHARD_PATTERN = "data/train-{:06d}.tar"


class ShardError(ArtifactError):
    """A shard or shard index that cannot be used; the message names the shard, the member and the fix."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard: its file (relative to the artifact folder) and how many samples it holds."""

    file: str
    samples: int


@dataclass(frozen=True)
class ShardIndex:
    """The content of ``shards.json``: the shards in key order and the image format of their samples."""

    image_format: str
    shards: tuple[ShardInfo, ...]

    @property
    def samples(self) -> int:
        """Total number of samples."""
        return sum(s.samples for s in self.shards)

    def key(self, shard: int, position: int) -> int:
        """The sample index (key) at ``position`` of shard number ``shard`` (strided layout)."""
        return shard + position * len(self.shards)

    def to_json(self) -> str:
        """JSON text of the index."""
        data = {
            "format": INDEX_FORMAT,
            "version": 1,
            "image_format": self.image_format,
            "samples": self.samples,
            "shards": [{"file": s.file, "samples": s.samples} for s in self.shards],
        }
        return json.dumps(data, indent=2) + "\n"


# -- images -----------------------------------------------------------------------------------------------------


def encode_image(image: torch.Tensor, image_format: str, pixel_range: tuple[float, float]) -> bytes:
    """Bytes of one ``C x H x W`` image as ``.npy`` (float32, exact) or ``.png`` (8-bit, see the module docstring)."""
    if image_format == "npy":
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, image.detach().cpu().to(torch.float32).numpy(), allow_pickle=False)
        return buffer.getvalue()
    lo, hi = pixel_range
    q = ((image.detach().cpu().float() - lo) / (hi - lo)).clamp(0, 1).mul(255).round().to(torch.uint8)
    array = q[0].numpy() if q.shape[0] == 1 else q.permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def decode_image(data: bytes, image_format: str, pixel_range: tuple[float, float], *, where: str) -> torch.Tensor:
    """A float32 ``C x H x W`` tensor from ``.npy`` or ``.png`` bytes (never unpickles: ``allow_pickle=False``)."""
    try:
        if image_format == "npy":
            array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
            if not np.issubdtype(array.dtype, np.floating):
                raise ValueError(f"dtype {array.dtype} is not floating point")
            return torch.from_numpy(np.array(array, dtype=np.float32))
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:  # nothing but PNG is probed
            array = np.asarray(img)
    except (ValueError, OSError) as exc:
        raise ShardError(
            f"{where}: not a readable .{image_format} image ({exc}); download or export it again"
        ) from None
    if array.dtype != np.uint8:
        raise ShardError(f"{where}: PNG images must be 8-bit, got {array.dtype}; export the set again")
    array = array[np.newaxis] if array.ndim == 2 else array.transpose(2, 0, 1)
    lo, hi = pixel_range
    # float32 arithmetic in numpy: the same IEEE operations (hence bits) as torch's, without its per-call overhead
    scaled = array.astype(np.float32, order="C") / np.float32(255) * np.float32(hi - lo) + np.float32(lo)
    return torch.from_numpy(scaled)


# -- writing ----------------------------------------------------------------------------------------------------


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def key_width(total: int) -> int:
    """Digits of the zero-padded keys of a set of ``total`` samples (at least 6)."""
    return max(6, len(str(max(total - 1, 0))))


def write_shards(
    folder: str | os.PathLike,
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: Sequence[str],
    *,
    shard_size: int,
    image_format: str = "npy",
    pixel_range: tuple[float, float] = (0.0, 1.0),
) -> ShardIndex:
    """Write ``images`` (N, C, H, W) and hard ``labels`` (N,) as shards plus ``shards.json`` into ``folder``.

    Args:
        folder: The (temporary) artifact folder; shards go to ``folder/data/``.
        images: Float images in pixel space.
        labels: Integer class labels.
        classes: Class names (written to each sample's ``.json``).
        shard_size: Samples per shard (the last shard may hold fewer).
        image_format: ``"npy"`` (exact) or ``"png"`` (8-bit; 1, 3 or 4 channels).
        pixel_range: The manifest's ``value_space.pixel_range`` (PNG quantization maps it to 0..255).

    Returns:
        The index that was written to ``shards.json``.
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image format must be one of {list(IMAGE_FORMATS)}, got {image_format!r}")
    if shard_size < 1:
        raise ValueError(f"shard size must be >= 1 sample, got {shard_size}")
    if labels.dim() != 1 or labels.is_floating_point():
        raise ValueError(
            "only hard (integer) labels can be written as webdataset shards (.cls); this set has soft labels "
            f"{list(labels.shape)}: keep it as a tensors artifact"
        )
    if image_format == "png" and images.shape[1] not in (1, 3, 4):
        raise ValueError(f"PNG holds 1, 3 or 4 channels, these images have {images.shape[1]}: use --format npy")
    folder = Path(folder)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    total, width = images.shape[0], key_width(images.shape[0])
    shards = []
    count = -(-total // shard_size)
    for number in range(count):
        name = SHARD_PATTERN.format(number)
        keys = range(number, total, count)  # strided: see the module docstring
        with tarfile.open(folder / name, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in keys:
                key, label = f"{i:0{width}d}", int(labels[i])
                _add(tar, f"{key}.{image_format}", encode_image(images[i], image_format, pixel_range))
                _add(tar, f"{key}.cls", str(label).encode())
                meta = {"index": i, "label": label, "class": classes[label]}
                _add(tar, f"{key}.json", json.dumps(meta, ensure_ascii=False).encode())
        shards.append(ShardInfo(file=name, samples=len(keys)))
    index = ShardIndex(image_format=image_format, shards=tuple(shards))
    (folder / INDEX_NAME).write_text(index.to_json(), encoding="utf-8")
    return index


# -- reading ----------------------------------------------------------------------------------------------------


def read_index(folder: str | os.PathLike, manifest: Manifest) -> ShardIndex:
    """Read and validate ``shards.json`` against the manifest (every shard must be a listed, checksummed file)."""
    path = Path(folder) / INDEX_NAME
    again = "export the set again with `condensed-data export SET --to webdataset`"
    if INDEX_NAME not in manifest.files:
        raise ShardError(f"{path}: an artifact of kind 'webdataset' lists {INDEX_NAME} in condensed.json; {again}")
    try:
        data = load_json(path.read_text(encoding="utf-8"), INDEX_NAME)  # nesting too deep: a ValueError too
        if data.get("format") != INDEX_FORMAT or data.get("version") != 1:
            raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
        shards = tuple(ShardInfo(file=str(s["file"]), samples=int(s["samples"])) for s in data["shards"])
        index = ShardIndex(image_format=str(data["image_format"]), shards=shards)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ShardError(f"{path} is not a valid shard index ({type(exc).__name__}: {exc}); {again}") from None
    if index.image_format not in IMAGE_FORMATS:
        raise ShardError(f"{path}: image_format must be one of {list(IMAGE_FORMATS)}, got {index.image_format!r}")
    unlisted = [s.file for s in index.shards if s.file not in manifest.files]
    if unlisted:
        raise ShardError(f"{path} names shard(s) {unlisted} that condensed.json does not list (so not checksummed)")
    if not index.shards or any(s.samples < 1 for s in index.shards):
        raise ShardError(f"{path}: every shard must hold at least one sample, and there must be at least one shard")
    if index.samples != data.get("samples"):
        raise ShardError(f"{path}: 'samples' is {data.get('samples')}, but the shards hold {index.samples}")
    return index


def _member_extension(name: str) -> tuple[str, str]:
    """``(key, extension)`` of a member name, split at the first dot of the base name as webdataset does."""
    base = name.rsplit("/", 1)[-1]
    key, _, ext = base.partition(".")
    return key, ext.lower()


class _NpyLayout(NamedTuple):
    """The header bytes shared by the ``.npy`` members of one dtype and shape, and how to read the data after it."""

    header: bytes
    dtype: np.dtype
    shape: tuple[int, ...]
    size: int  # header plus data, in bytes


def _npy_layout(data: bytes) -> _NpyLayout | None:
    """The layout of ``.npy`` bytes that :func:`decode_image` accepted, or ``None`` if it is not a plain one."""
    buffer = io.BytesIO(data)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    read_header = readers.get(np.lib.format.read_magic(buffer))
    if read_header is None:
        return None
    shape, fortran_order, dtype = read_header(buffer)  # numpy's safe header parser, as read_array uses
    if fortran_order or dtype.hasobject or not np.issubdtype(dtype, np.floating):
        return None
    header = data[: buffer.tell()]
    return _NpyLayout(header, dtype, tuple(shape), len(header) + int(np.prod(shape)) * dtype.itemsize)


_EXPORT_AGAIN = "export the set again"


def _check_member(shard: Path, info: TarMember, remedy: str = _EXPORT_AGAIN) -> tuple[str, str]:
    key, ext = _member_extension(info.name)
    if ext in MEMBER_EXTENSIONS and info.regular and key and "/" not in info.name:
        return key, ext  # the common case, decided at once (no member extension is pickle-family)
    fix = (
        f"only `condensed-data export` writes condensed-data shards: {remedy}"
        if remedy == _EXPORT_AGAIN
        else f"only condensed-data writes these shards: {remedy}"
    )
    if ext in _PICKLE_EXTENSIONS or any(part in _PICKLE_EXTENSIONS for part in ext.split(".")):
        raise ShardError(
            f"{shard}: member {info.name!r} is a pickle-family file (.{ext}); it is refused unread, because "
            f"unpickling a downloaded file can run arbitrary code. Shards hold only .npy/.png/.cls/.json; {fix}"
        )
    if ext not in MEMBER_EXTENSIONS:
        raise ShardError(
            f"{shard}: member {info.name!r} has an unknown extension {('.' + ext) if ext else '(none)'}; "
            f"condensed-data shards hold only {', '.join('.' + e for e in sorted(MEMBER_EXTENSIONS))}; {fix}"
        )
    if not info.regular or "/" in info.name or not key:
        raise ShardError(f"{shard}: member {info.name!r} is not a plain top-level file; {fix}")
    return key, ext


class ShardReader:
    """Random access to the samples of one shard, after checking every member name.

    Args:
        path: The shard file.
        image_format: The index's image format (``npy`` or ``png``).
        pixel_range: The manifest's pixel range (for PNG).
        image_shape: The manifest's ``[C, H, W]``; every image is checked against it.
        num_classes: Labels must lie in ``[0, num_classes)``.
        samples: The number of samples the index records for this shard.
        first_key, key_stride: If given, sample ``p`` must have key ``first_key + p * key_stride``.
        remedy: What an error tells the user to do about a bad shard (default: export the set again).

    The member index is parsed once, when the reader is made; the file is opened at the first read, and
    :meth:`close` closes it until the next read (so a caller may keep many readers without holding their files).

    >>> with ShardReader(path, "npy", (0.0, 1.0), (1, 8, 8), 10, samples=4) as shard:  # doctest: +SKIP
    ...     image, label = shard.sample(0)
    """

    def __init__(
        self,
        path: str | os.PathLike,
        image_format: str,
        pixel_range: tuple[float, float],
        image_shape: Sequence[int],
        num_classes: int,
        *,
        samples: int,
        first_key: int | None = None,
        key_stride: int = 1,
        remedy: str = _EXPORT_AGAIN,
    ) -> None:
        self.path = Path(path)
        self.remedy = remedy
        self.image_format = image_format
        self.pixel_range = pixel_range
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        try:
            members = list_members(self.path)  # parsed once per reader: offsets and sizes of every member
        except (tarfile.TarError, OSError) as exc:
            again = "download or export it again" if remedy == _EXPORT_AGAIN else remedy
            raise ShardError(f"{self.path} is not a readable tar shard ({exc}); {again}") from None
        self._samples: list[tuple[str, dict[str, TarMember]]] = []
        for info in members:  # every name is checked before any member's bytes are read
            key, ext = _check_member(self.path, info, remedy)
            if not self._samples or self._samples[-1][0] != key:
                self._samples.append((key, {}))
            self._samples[-1][1][ext] = info
        for key, parts in self._samples:
            if image_format not in parts or "cls" not in parts:
                raise ShardError(
                    f"{self.path}: sample {key!r} lacks its .{image_format} image or .cls label (members: "
                    f"{sorted(parts)}); {remedy}"
                )
        if first_key is not None:
            for position, (key, _) in enumerate(self._samples):
                if not key.isdigit() or int(key) != first_key + position * key_stride:
                    raise ShardError(
                        f"{self.path}: sample {position} has key {key!r}, expected {first_key + position * key_stride} "
                        f"(keys are sample indices, strided over the shards); {remedy}"
                    )
        if len(self._samples) != samples:
            raise ShardError(
                f"{self.path} holds {len(self._samples)} samples, but its index records {samples}; {remedy}"
            )
        self._npy: _NpyLayout | None = None  # learnt from the first .npy member; the others are checked against it
        self._file: BinaryIO | None = None

    def __len__(self) -> int:
        return len(self._samples)

    def _read(self, info: TarMember) -> bytes:
        # One positioned read of the member's bytes (tarfile.extractfile costs ~10x more per small member).
        if self._file is None:
            try:
                self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
            except OSError as exc:
                raise ShardError(f"cannot open shard {self.path} ({exc}); {self.remedy}") from None
        data = read_at(self._file, info.offset_data, info.size)
        if len(data) != info.size:
            raise ShardError(f"{self.path}: member {info.name!r} is truncated; {self.remedy}")
        return data

    def _image(self, data: bytes, key: str) -> torch.Tensor:
        layout = self._npy
        if layout is not None and len(data) == layout.size and data.startswith(layout.header):
            # Same header bytes as an already validated member: same float dtype and shape, so read the data after it.
            array = np.frombuffer(data, dtype=layout.dtype, offset=len(layout.header)).reshape(layout.shape)
            return torch.from_numpy(array.astype(np.float32))  # a writable copy, as decode_image returns
        image = decode_image(data, self.image_format, self.pixel_range, where=f"{self.path}::{key}")
        if tuple(image.shape) != self.image_shape:
            raise ShardError(
                f"{self.path}::{key}: image shape {list(image.shape)}, but the set's images are {list(self.image_shape)}"
            )
        if self.image_format == "npy" and layout is None:
            self._npy = _npy_layout(data)  # a layout is learnt only from an image of the right shape
        return image

    def _label(self, data: bytes, key: str) -> int:
        text = data.strip()  # bytes: isdigit() accepts ASCII digits only
        if not text.isdigit() or int(text) >= self.num_classes:
            label = text.decode("ascii", errors="replace")
            raise ShardError(f"{self.path}::{key}: label {label!r} is not a class index in [0, {self.num_classes - 1}]")
        return int(text)

    def sample(self, local: int) -> tuple[torch.Tensor, int]:
        """Sample ``local`` (0-based position in this shard) as ``(float image C x H x W, int label)``."""
        key, parts = self._samples[local]
        image = self._image(self._read(parts[self.image_format]), key)
        return image, self._label(self._read(parts["cls"]), key)

    def strided(self, buffer: Buffer) -> StridedImages | None:
        """Where every image lies in ``buffer`` (the shard file's bytes, e.g. a read-only ``mmap``), when the shard's
        ``.npy`` members are uniform: the same size and header bytes (so the same float dtype and shape), at evenly
        spaced offsets, as :func:`~condensed_data.data.write_real_shards` and :func:`export_webdataset` write them.

        The first image is decoded and checked in full (raising as :meth:`sample` would); ``None`` (a PNG shard, or
        members that differ) means: read the samples one by one.
        """
        if self.image_format != "npy":
            return None
        infos = [parts["npy"] for _, parts in self._samples]
        first, size, count = infos[0].offset_data, infos[0].size, len(infos)
        stride = infos[1].offset_data - first if count > 1 else size
        offsets = np.fromiter((i.offset_data for i in infos), dtype=np.int64, count=count)
        if (
            stride < size
            or any(i.size != size for i in infos)
            or not np.array_equal(offsets, first + stride * np.arange(count, dtype=np.int64))
            or len(memoryview(buffer)) < offsets[-1] + size
        ):
            return None
        self._image(bytes(memoryview(buffer)[first : first + size]), self._samples[0][0])
        layout = self._npy
        if layout is None or layout.size != size or layout.shape != self.image_shape:
            return None
        header = np.frombuffer(layout.header, dtype=np.uint8)
        headers = np.ndarray((count, len(header)), dtype=np.uint8, buffer=buffer, offset=first, strides=(stride, 1))
        if not (headers == header).all():
            return None  # some member has its own header: each is decoded and checked on its own
        return StridedImages(first + len(header), stride, count, layout.dtype, layout.shape)

    def labels(self, buffer: Buffer) -> list[int]:
        """Every sample's label, read from ``buffer`` (the shard file's bytes) and checked as :meth:`sample` checks
        it."""
        view, labels = memoryview(buffer), []
        for key, parts in self._samples:
            member = parts["cls"]
            labels.append(self._label(bytes(view[member.offset_data : member.offset_data + member.size]), key))
        return labels

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int]]:
        return (self.sample(i) for i in range(len(self)))

    def close(self) -> None:
        """Close the shard file (a later read opens it again)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ShardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
