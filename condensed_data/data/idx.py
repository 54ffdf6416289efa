"""A reader for IDX files, the format of MNIST and Fashion-MNIST (plain or gzip-compressed).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one big-endian
uint32 per dimension, then the values in C order. The reader checks all of it, so a truncated download or a file
with trailing garbage fails loudly with the file's name instead of yielding a silently wrong array.
"""

from __future__ import annotations

import gzip
import io
import logging
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx"]

logger = logging.getLogger(__name__)

# IDX type code -> dtype as stored on disk (multi-byte values are big-endian).
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_REFETCH_HINT = (
    "delete it and fetch it again (download=True, or apt-get reinstall dataset-fashion-mnist for Fashion-MNIST)"
)


class _IDXFormatError(ValueError):
    """Raised inside the reader; re-raised with the file name by :func:`read_idx`."""


def read_idx(
    path: str | os.PathLike[str],
    *,
    expected_ndim: int | None = None,
    expected_dtype: np.dtype | type | None = None,
) -> np.ndarray:
    """Read one IDX file (``.gz`` files are decompressed on the fly) into a native-endian numpy array.

    Args:
        path: the file; a name ending in ``.gz`` is read through gzip.
        expected_ndim: when given, a file with another number of dimensions is rejected.
        expected_dtype: when given, a file holding another element type is rejected.

    Returns:
        An array of the shape stored in the header, in native byte order.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a valid IDX file (bad magic number, wrong type or rank, truncated data,
            extra bytes, or a corrupt gzip stream); the message names the file.

    Example:
        >>> import struct, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels-idx1-ubyte"
        >>> _ = p.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 3) + bytes([7, 1, 2]))
        >>> read_idx(p).tolist()
        [7, 1, 2]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {path} does not exist")
    try:
        with _open(path) as stream:
            array = _read_stream(stream, expected_ndim, expected_dtype)
    except _IDXFormatError as err:
        raise ValueError(f"{path} is not a valid IDX file: {err}; {_REFETCH_HINT}") from None
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(
            f"could not read IDX file {path} ({err}): it is corrupt or truncated; {_REFETCH_HINT}"
        ) from err
    logger.debug("read IDX file %s: shape %s, dtype %s", path, array.shape, array.dtype)
    return array


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.GzipFile(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _read_stream(
    stream: io.BufferedIOBase, expected_ndim: int | None, expected_dtype: np.dtype | type | None
) -> np.ndarray:
    magic = _read_exact(stream, 4, "the 4-byte magic number")
    if magic[0] != 0 or magic[1] != 0 or magic[2] not in IDX_DTYPES:
        raise _IDXFormatError(f"bad magic number 0x{magic.hex()} (expected 0x0000<type><ndim>)")
    dtype, ndim = IDX_DTYPES[magic[2]], magic[3]
    if expected_ndim is not None and ndim != expected_ndim:
        raise _IDXFormatError(f"it has {ndim} dimensions (magic 0x{magic.hex()}) but {expected_ndim} were expected")
    if expected_dtype is not None and dtype.newbyteorder("=") != np.dtype(expected_dtype).newbyteorder("="):
        raise _IDXFormatError(
            f"it holds {dtype} values (magic 0x{magic.hex()}) but {np.dtype(expected_dtype)} were expected"
        )
    shape = struct.unpack(f">{ndim}I", _read_exact(stream, 4 * ndim, f"the {ndim} dimension sizes"))
    values = np.empty(math.prod(shape), dtype=dtype)
    _fill(stream, values.view(np.uint8), shape)
    if stream.read(1):
        raise _IDXFormatError(
            f"it has extra bytes after the {values.nbytes} data bytes its header {list(shape)} announces"
        )
    return values.astype(dtype.newbyteorder("="), copy=False).reshape(shape)


def _read_exact(stream: io.BufferedIOBase, size: int, what: str) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise _IDXFormatError(f"it ends before {what} ({len(data)} of {size} bytes)")
    return data


def _fill(stream: io.BufferedIOBase, buffer: np.ndarray, shape: tuple[int, ...]) -> None:
    # readinto straight into the array's memory: no intermediate bytes object for a 47 MB file.
    view, done = buffer.data, 0
    while done < buffer.size:
        got = stream.readinto(view[done:])
        if not got:
            raise _IDXFormatError(
                f"it is truncated: its header {list(shape)} announces {buffer.size} data bytes, found {done}"
            )
        done += got
