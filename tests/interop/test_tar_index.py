"""The fast tar member index agrees with tarfile on every kind of tar, and the shard reader's npy fast path is exact."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
import torch

from condensed_data.interop import tar_index
from condensed_data.interop.tar_index import list_members, read_at
from condensed_data.interop.webdataset import ShardError, ShardReader, decode_image, encode_image


def _tar(path, members, *, fmt=tarfile.USTAR_FORMAT) -> None:
    with tarfile.open(path, "w", format=fmt) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def _by_tarfile(path) -> list[tuple]:
    with tarfile.open(path, "r:") as tar:
        return [(i.name, i.size, i.offset_data, i.isreg()) for i in tar.getmembers()]


def _spy(monkeypatch) -> list[int]:
    """Count the files handed over to tarfile."""
    calls = []
    real = tarfile.open
    monkeypatch.setattr(tar_index.tarfile, "open", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_plain_ustar_is_listed_without_tarfile_and_matches_it(tmp_path, monkeypatch):
    path = tmp_path / "a.tar"
    members = [(f"{i:06d}.{ext}", bytes([i]) * size) for i in range(40) for ext, size in (("npy", 700 + i), ("cls", 1))]
    _tar(path, [*members, ("d" * 90 + "/" + "p" * 90 + ".cls", b"3")])  # the long name goes into the ustar prefix
    calls = _spy(monkeypatch)
    got = [tuple(m) for m in list_members(path)]
    assert calls == []
    assert got == _by_tarfile(path)
    with open(path, "rb") as f:
        m = list_members(path)[5]
        assert read_at(f, m.offset_data, m.size) == members[5][1]


@pytest.mark.parametrize(
    "members, fmt",
    [
        ([("a.cls", b"1"), ("d", None)], tarfile.USTAR_FORMAT),  # a directory
        ([("é" * 120 + ".cls", b"1")], tarfile.PAX_FORMAT),  # a pax extended header
        ([("x" * 150 + ".cls", b"1")], tarfile.GNU_FORMAT),  # a GNU long name
    ],
)
def test_unusual_tars_are_read_by_tarfile(tmp_path, monkeypatch, members, fmt):
    path = tmp_path / "odd.tar"
    _tar(path, members, fmt=fmt)
    expected = _by_tarfile(path)
    calls = _spy(monkeypatch)
    assert [tuple(m) for m in list_members(path)] == expected
    assert calls == [1]


def test_a_bad_header_checksum_or_truncation_is_left_to_tarfile(tmp_path):
    path = tmp_path / "bad.tar"
    _tar(path, [("a.cls", b"1"), ("b.npy", b"z" * 2000)])
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01  # first header's name: its checksum no longer matches
    path.write_bytes(bytes(data))
    with pytest.raises(tarfile.ReadError):
        list_members(path)
    data[0] ^= 0x01
    path.write_bytes(bytes(data[:1536]))  # cut inside the second member's data: tarfile's error, as before
    for read in (_by_tarfile, list_members):
        with pytest.raises(tarfile.ReadError, match="unexpected end of data"):
            read(path)
    path.write_bytes(b"")
    with pytest.raises(tarfile.ReadError):
        list_members(path)


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def test_reader_npy_fast_path_is_exact_and_still_checks_every_member(tmp_path):
    rng = np.random.default_rng(0)
    images = [rng.random((1, 3, 3), dtype=np.float32) for _ in range(3)]
    odd = [_npy(images[0]), _npy(images[1].astype(">f8")), _npy(images[2])]  # one member in another dtype
    path = tmp_path / "s.tar"
    _tar(path, [m for i, data in enumerate(odd) for m in ((f"{i:06d}.npy", data), (f"{i:06d}.cls", b"1"))])
    with ShardReader(path, "npy", (0.0, 1.0), (1, 3, 3), 2, samples=3) as reader:
        for i, (image, label) in enumerate(reader):
            assert torch.equal(image, torch.from_numpy(images[i].astype(np.float32))) and label == 1
            assert image.dtype == torch.float32 and image.numpy().flags.writeable
    bad = [_npy(images[0]), _npy(rng.random((1, 3, 4), dtype=np.float32))]  # same dtype, another shape
    _tar(path, [m for i, data in enumerate(bad) for m in ((f"{i:06d}.npy", data), (f"{i:06d}.cls", b"0"))])
    with ShardReader(path, "npy", (0.0, 1.0), (1, 3, 3), 2, samples=2) as reader:
        reader.sample(0)
        with pytest.raises(ShardError, match=r"000001: image shape \[1, 3, 4\]"):
            reader.sample(1)


@pytest.mark.parametrize("channels, pixel_range", [(1, (0.0, 1.0)), (3, (-0.4242, 2.8215)), (4, (-1.0, 1.0))])
def test_png_decoding_gives_the_same_bits_as_torch_arithmetic(channels, pixel_range):
    q = torch.arange(256 * channels, dtype=torch.int64).remainder(256).to(torch.uint8).view(channels, 16, 16)
    lo, hi = pixel_range
    data = encode_image(q.float().div(255).mul(hi - lo).add(lo), "png", pixel_range)
    got = decode_image(data, "png", pixel_range, where="x")
    assert torch.equal(got, q.float().div(255).mul(hi - lo).add(lo)) and got.is_contiguous()
