"""Fashion-MNIST: reading tiny IDX files, the search order, the not-found message, download, the real files."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import unavailable

from condensed_data.data import fashion_mnist, load_dataset
from condensed_data.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    candidate_dirs,
    find_split_files,
    load_fashion_mnist,
)

PREFIX = {"train": "train", "test": "t10k"}


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real copy is visible: system dir, data home and HOME all point into tmp_path."""
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.delenv("CONDENSED_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write_split(idx_writer, directory: Path, split: str = "train", *, n: int = 12, fill: int = 0,
                gz: bool = True) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Write a tiny split; image i is all (i * 20 + fill) % 256, label i % 10."""
    images = np.stack([np.full((28, 28), (i * 20 + fill) % 256, dtype=np.uint8) for i in range(n)])
    labels = (np.arange(n) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    idx_writer(directory / f"{PREFIX[split]}-images-idx3-ubyte{ext}", images)
    idx_writer(directory / f"{PREFIX[split]}-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("split", ["train", "test"])
def test_reads_a_split(isolated: Path, idx_writer, split: str, gz: bool) -> None:
    images, labels = write_split(idx_writer, isolated / "data", split, n=13, gz=gz)
    ds = load_fashion_mnist(split, root=isolated / "data")
    assert (ds.name, ds.split, len(ds), ds.image_shape) == ("fashion-mnist", split, 13, (1, 28, 28))
    assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
    assert torch.equal(ds.images, torch.from_numpy(images).float().unsqueeze(1) / 255)
    assert ds.labels.tolist() == labels.tolist()
    assert ds.classes == list(FASHION_MNIST_CLASSES) and ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    assert ds.mean == (0.2861,) and ds.std == (0.3530,)


def test_plain_files_are_preferred_over_gz(isolated: Path, idx_writer) -> None:
    write_split(idx_writer, isolated / "d", fill=1, gz=True)
    write_split(idx_writer, isolated / "d", fill=2, gz=False)
    assert find_split_files(isolated / "d", "train")[0].name == "train-images-idx3-ubyte"
    assert round(float(load_fashion_mnist(root=isolated / "d").images[0, 0, 0, 0]) * 255) == 2


def test_candidate_dirs_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", tmp_path / "system")
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path / "home"))
    assert candidate_dirs(tmp_path / "root") == [
        tmp_path / "root", tmp_path / "root" / "fashion-mnist", tmp_path / "root" / "FashionMNIST" / "raw",
        tmp_path / "home" / "fashion-mnist", tmp_path / "system", tmp_path / "home" / "FashionMNIST" / "raw",
    ]  # fmt: skip
    monkeypatch.delenv("CONDENSED_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert candidate_dirs() == [
        tmp_path / "system",
        tmp_path / "user" / ".cache" / "condensed-data" / "FashionMNIST" / "raw",
    ]
    assert len(candidate_dirs(tmp_path / "system")) == len(set(candidate_dirs(tmp_path / "system")))


def test_search_order_first_match_wins(isolated: Path, idx_writer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each location holds a copy with a different fill; removing the winner reveals the next one."""
    home = isolated / "datahome"
    locations = [
        (isolated / "root", 1),
        (isolated / "root" / "FashionMNIST" / "raw", 2),
        (home / "fashion-mnist", 3),
        (isolated / "system", 4),
        (home / "FashionMNIST" / "raw", 5),
    ]
    for directory, fill in locations:
        write_split(idx_writer, directory, fill=fill)
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(home))

    def fill_found(root: Path | None) -> int:
        return round(float(load_fashion_mnist(root=root).images[0, 0, 0, 0]) * 255)

    for directory, fill in locations:
        assert fill_found(isolated / "root") == fill
        for stem in ("images-idx3", "labels-idx1"):
            (directory / f"train-{stem}-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError):
        load_fashion_mnist(root=isolated / "root")


def test_home_cache_default_location(isolated: Path, idx_writer) -> None:
    write_split(idx_writer, isolated / "home" / ".cache" / "condensed-data" / "FashionMNIST" / "raw", n=5)
    assert len(load_fashion_mnist()) == 5


def test_not_found_message_lists_places_and_fixes(isolated: Path, idx_writer) -> None:
    # A half-present split (images only) does not count as found.
    idx_writer(isolated / "root" / "t10k-images-idx3-ubyte.gz", np.zeros((1, 28, 28), dtype=np.uint8))
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist("test", root=isolated / "root")
    message = str(info.value)
    for directory in candidate_dirs(isolated / "root"):
        assert str(directory) in message
    assert "t10k-images-idx3-ubyte[.gz]" in message and "t10k-labels-idx1-ubyte[.gz]" in message
    assert "sudo apt-get install dataset-fashion-mnist" in message
    assert "CONDENSED_DATA_HOME" in message and "download=True" in message and "--download" in message
    assert f"{isolated / 'system'} (does not exist)" in message


def test_unknown_split(isolated: Path) -> None:
    with pytest.raises(ValueError, match="unknown Fashion-MNIST split 'val'; valid splits: train, test"):
        load_fashion_mnist("val")


def test_corrupt_file_is_reported_not_skipped(isolated: Path, idx_writer) -> None:
    write_split(idx_writer, isolated / "root")
    write_split(idx_writer, isolated / "system")
    broken = isolated / "root" / "train-labels-idx1-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:10])
    with pytest.raises(ValueError, match=str(broken)):
        load_fashion_mnist(root=isolated / "root")


def test_inconsistent_files(isolated: Path, idx_writer) -> None:
    idx_writer(isolated / "a" / "train-images-idx3-ubyte", np.zeros((3, 27, 27), dtype=np.uint8))
    idx_writer(isolated / "a" / "train-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="27x27 images, Fashion-MNIST's are 28x28"):
        load_fashion_mnist(root=isolated / "a")
    idx_writer(isolated / "b" / "train-images-idx3-ubyte", np.zeros((3, 28, 28), dtype=np.uint8))
    idx_writer(isolated / "b" / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"3 images but .* 4 labels"):
        load_fashion_mnist(root=isolated / "b")
    idx_writer(isolated / "c" / "train-images-idx3-ubyte", np.zeros((1, 28, 28), dtype=np.uint8))
    idx_writer(isolated / "c" / "train-labels-idx1-ubyte", np.array([10], dtype=np.uint8))
    with pytest.raises(ValueError, match="label 10, Fashion-MNIST has 10 classes"):
        load_fashion_mnist(root=isolated / "c")


def test_loads_are_independent_copies_and_reread_changed_files(isolated: Path, idx_writer) -> None:
    write_split(idx_writer, isolated / "r", n=4, fill=10)
    first = load_fashion_mnist(root=isolated / "r")
    first.images.zero_()
    assert round(float(load_fashion_mnist(root=isolated / "r").images[0, 0, 0, 0]) * 255) == 10
    write_split(idx_writer, isolated / "r", n=6, fill=30)  # a different size: the cache key changes
    assert len(load_fashion_mnist(root=isolated / "r")) == 6


def test_download_uses_torchvision_layout(isolated: Path, idx_writer, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_fashion_mnist(root: str, *, train: bool, download: bool) -> None:
        calls.append((root, train, download))
        write_split(idx_writer, Path(root) / "FashionMNIST" / "raw", "train" if train else "test", n=7)

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(FashionMNIST=fake_fashion_mnist)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    with pytest.raises(FileNotFoundError):
        load_fashion_mnist("test")  # no download unless asked
    ds = load_fashion_mnist("test", download=True)
    target = isolated / "home" / ".cache" / "condensed-data"
    assert calls == [(str(target), False, True)] and len(ds) == 7
    assert len(load_fashion_mnist("test", root=isolated / "mine", download=True)) == 7
    assert len(calls) == 1  # the downloaded copy is found: no second download
    shutil.rmtree(target)
    assert len(load_fashion_mnist("test", root=isolated / "mine", download=True)) == 7
    assert calls[-1][0] == str(isolated / "mine")  # an explicit root is where downloads go


def test_download_failures_say_what_to_do(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(ImportError, match=r"pip install condensed-data\[torchvision\]"):
        load_fashion_mnist(download=True)

    def offline(root: str, *, train: bool, download: bool) -> None:
        raise OSError("network is unreachable")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(FashionMNIST=offline)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    with pytest.raises(RuntimeError, match=r"network is unreachable.*dataset-fashion-mnist"):
        load_fashion_mnist(download=True)


def test_real_files() -> None:
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        unavailable("dataset-fashion-mnist is not installed (make data, or sudo apt-get install dataset-fashion-mnist)")
    train = load_dataset("fashion-mnist", "train")
    assert len(train) == 60000 and train.images.shape == (60000, 1, 28, 28)
    assert train.class_counts() == [6000] * 10
    assert float(train.images.min()) == 0.0 and float(train.images.max()) == 1.0
    assert abs(float(train.images.mean()) - 0.2861) < 1e-3  # the protocol's constant matches the data
    test = load_dataset("fashion-mnist", "test")
    assert len(test) == 10000 and test.class_counts() == [1000] * 10
