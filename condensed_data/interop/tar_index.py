"""The member index of an uncompressed tar file (names, data offsets, sizes), parsed once, and positioned reads.

Listing a shard with :mod:`tarfile` builds a full ``TarInfo`` per member (about 50 us each), which dominated
streaming a sharded set. :func:`list_members` parses the plain POSIX ustar headers that shard writers produce
(regular files, octal sizes, checksums checked for all headers at once) in a few microseconds a member; anything
else in the file (pax or GNU extension headers, links, directories, base-256 numbers, a bad checksum, a truncated
file) hands the whole file to :mod:`tarfile`, so an unusual tar is read exactly as before, errors included.

After the listing, a member's bytes are one positioned read (:func:`read_at`), never ``tarfile.extractfile``; evenly
spaced members of one size are one array over the mapped file (:class:`StridedImages`).

>>> import io, tarfile, tempfile
>>> path = tempfile.mktemp(suffix=".tar")
>>> with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
...     info = tarfile.TarInfo("000000.cls"); info.size = 1
...     tar.addfile(info, io.BytesIO(b"7"))
>>> [(m.name, m.size, m.offset_data, m.regular) for m in list_members(path)]
[('000000.cls', 1, 512, True)]
"""

from __future__ import annotations

import mmap
import os
import tarfile
from typing import BinaryIO, NamedTuple

import numpy as np

__all__ = ["StridedImages", "TarMember", "list_members", "read_at"]

# A tar file's bytes, as strided reads take them (a read-only mmap above all).
Buffer = bytes | bytearray | memoryview | mmap.mmap

_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_WINDOW = 1 << 16
_REGULAR = (b"0", b"\0")  # what tarfile writes for a file (and the old spelling), without a trailing "/"


class TarMember(NamedTuple):
    """One member of a tar file: its name, its data size and offset in the file, and whether it is a plain file."""

    name: str
    size: int
    offset_data: int
    regular: bool


class StridedImages(NamedTuple):
    """The images of a shard whose ``.npy`` members are uniform
    (:meth:`~condensed_data.interop.webdataset.ShardReader.strided`): image ``p``'s data starts at byte
    ``offset + p * stride`` of the shard file."""

    offset: int
    stride: int
    samples: int
    dtype: np.dtype
    shape: tuple[int, ...]

    def view(self, buffer: Buffer) -> np.ndarray:
        """Every image, ``(samples, *shape)``, as one array over ``buffer`` (the shard file's bytes; nothing is
        copied, and a read-only buffer gives a read-only array)."""
        strides, step = [], self.dtype.itemsize
        for extent in reversed(self.shape):
            strides.insert(0, step)
            step *= extent
        return np.ndarray(
            (self.samples, *self.shape),
            dtype=self.dtype,
            buffer=buffer,
            offset=self.offset,
            strides=(self.stride, *strides),
        )


def read_at(file: BinaryIO, offset: int, size: int) -> bytes:
    """``size`` bytes of an open binary ``file`` from ``offset`` (fewer at the end of the file)."""
    try:
        return os.pread(file.fileno(), size, offset)
    except (AttributeError, OSError):  # no pread on this platform, or not a plain file
        file.seek(offset)
        return file.read(size)


def list_members(path: str | os.PathLike) -> list[TarMember]:
    """Every member of the tar file at ``path``, in file order.

    Raises:
        tarfile.TarError, OSError: The file is not a readable tar (as :mod:`tarfile` reports it).
    """
    with open(path, "rb", buffering=0) as file:
        members = _scan_ustar(file)
    if members is not None:
        return members
    with tarfile.open(path, "r:") as tar:
        return [TarMember(i.name, i.size, i.offset_data, i.isreg()) for i in tar.getmembers()]


def _octal(field: bytes) -> int | None:
    try:
        return int(field.rstrip(b"\0 ") or b"0", 8)
    except ValueError:  # base-256, a NUL inside the digits, or garbage: tarfile decides
        return None


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode(tarfile.ENCODING, "surrogateescape")


def _scan_ustar(file: BinaryIO) -> list[TarMember] | None:
    """The members of a tar holding only plain ustar file headers, or ``None`` when :mod:`tarfile` must read it."""
    end = os.fstat(file.fileno()).st_size
    headers: list[bytes] = []
    sizes: list[int] = []
    offsets: list[int] = []  # where each member's data starts
    offset, closed = 0, False
    window, window_start = b"", 0  # headers of small members share one read of _WINDOW bytes
    # The walk from header to header needs each size; everything else is checked on all headers at once below.
    while offset + _BLOCK <= end:
        if not window_start <= offset <= window_start + len(window) - _BLOCK:
            window, window_start = read_at(file, offset, max(_WINDOW, _BLOCK)), offset
        at = offset - window_start
        header = window[at : at + _BLOCK]
        if not header[0] and header == _ZERO_BLOCK:
            closed = True
            break
        try:
            size = int(header[124:136].rstrip(b"\0 ") or b"0", 8)
        except ValueError:  # base-256, a NUL inside the digits, or garbage: tarfile decides
            return None
        if offset + _BLOCK + size > end:  # truncated: tarfile decides (it stops early or raises)
            return None
        headers.append(header)
        sizes.append(size)
        offsets.append(offset + _BLOCK)
        offset += _BLOCK + -(-size // _BLOCK) * _BLOCK
    if not headers or (not closed and offset != end):
        return None  # an empty archive, or a partial header at the end: tarfile says what is wrong
    blocks = np.frombuffer(b"".join(headers), dtype=np.uint8).reshape(len(headers), _BLOCK)
    kinds = blocks[:, 156]
    if not np.isin(kinds, (ord("0"), 0)).all():
        return None  # a link, a directory, a pax or GNU extension header...: tarfile knows them all
    # The checksum: the unsigned sum of the header's bytes, with the checksum field counted as spaces.
    sums = blocks.sum(axis=1, dtype=np.int64) - blocks[:, 148:156].sum(axis=1, dtype=np.int64) + 8 * 32
    field = blocks[:, 148:156].astype(np.int64)
    # tarfile writes six octal digits, a NUL and a space: read those at once, any other spelling one by one
    plain = ((field[:, :6] >= 48) & (field[:, :6] <= 55)).all(axis=1) & (field[:, 6] == 0) & (field[:, 7] == 32)
    recorded = np.where(plain, (field[:, :6] - 48) @ (8 ** np.arange(5, -1, -1)), -1)
    for row in np.flatnonzero(recorded != sums).tolist():
        if _octal(headers[row][148:156]) != sums[row]:
            return None  # tarfile also accepts the signed sum of old writers, and reports a real mismatch
    encoding = tarfile.ENCODING
    names = [h[:100].split(b"\0", 1)[0].decode(encoding, "surrogateescape") for h in headers]
    if blocks[:, 345].any():  # long names: tarfile joins the ustar prefix
        names = [f"{_text(h[345:500])}/{n}" if h[345] else n for h, n in zip(headers, names, strict=True)]
    if not kinds.all() and any(n.endswith("/") for n, k in zip(names, kinds.tolist(), strict=True) if not k):
        return None  # the old spelling of a directory
    return list(map(TarMember._make, zip(names, sizes, offsets, [True] * len(names), strict=True)))
