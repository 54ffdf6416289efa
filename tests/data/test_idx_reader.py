"""The IDX reader: values, dtypes, gzip, and every way a file can be broken."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from condensed_data.data.idx import read_idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reads_uint8_images_plain_and_gz(tmp_path: Path, idx_writer, suffix: str) -> None:
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    result = read_idx(idx_writer(tmp_path / f"images-idx3-ubyte{suffix}", array))
    assert result.dtype == np.uint8 and result.shape == (2, 3, 4)
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_multi_byte_types_come_back_native_endian(tmp_path: Path, idx_writer, dtype: type) -> None:
    array = np.array([[-3, 2], [1000 if dtype != np.int8 else 100, 7]], dtype=dtype)
    result = read_idx(idx_writer(tmp_path / "values.idx", array))
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, array)


def test_expected_ndim_and_dtype(tmp_path: Path, idx_writer) -> None:
    path = idx_writer(tmp_path / "labels-idx1-ubyte", np.array([1, 2, 3], dtype=np.uint8))
    assert read_idx(path, expected_ndim=1, expected_dtype=np.uint8).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match=r"labels-idx1-ubyte.*1 dimensions.*3 were expected"):
        read_idx(path, expected_ndim=3)
    with pytest.raises(ValueError, match=r"labels-idx1-ubyte.*uint8 values.*float32 were expected"):
        read_idx(path, expected_dtype=np.float32)


def _valid_bytes(idx_writer, tmp_path: Path) -> bytes:
    return idx_writer(tmp_path / "src", np.zeros((2, 2, 2), dtype=np.uint8)).read_bytes()


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda b: b"\x08\x03" + b[2:], "bad magic number 0x0803"),
        (lambda b: b[:2] + b"\x42" + b[3:], "bad magic number 0x00004203"),
        (lambda b: b[:2], r"ends before the 4-byte magic number \(2 of 4 bytes\)"),
        (lambda b: b[:9], "ends before the 3 dimension sizes"),
        (lambda b: b[:-3], r"truncated: its header \[2, 2, 2\] announces 8 data bytes, found 5"),
        (lambda b: b + b"\x00", "extra bytes after the 8 data bytes"),
    ],
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_broken_files_name_the_file(tmp_path: Path, idx_writer, mutate, pattern: str, suffix: str) -> None:
    broken = mutate(_valid_bytes(idx_writer, tmp_path))
    path = tmp_path / f"broken-idx3-ubyte{suffix}"
    path.write_bytes(gzip.compress(broken) if suffix else broken)
    with pytest.raises(ValueError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value) and "fetch it again" in str(info.value)


def test_corrupt_and_cut_gzip_streams(tmp_path: Path, idx_writer) -> None:
    garbage = tmp_path / "garbage-idx3-ubyte.gz"
    garbage.write_bytes(b"this is not gzip data at all")
    with pytest.raises(ValueError, match=r"could not read IDX file .*garbage-idx3-ubyte\.gz.*corrupt or truncated"):
        read_idx(garbage)
    whole = idx_writer(tmp_path / "whole-idx3-ubyte.gz", np.arange(4000, dtype=np.int32).reshape(40, 100))
    cut = tmp_path / "cut-idx3-ubyte.gz"
    cut.write_bytes(whole.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"cut-idx3-ubyte\.gz"):
        read_idx(cut)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")
