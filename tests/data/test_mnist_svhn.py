"""MNIST (IDX, shared with Fashion-MNIST) and SVHN (MATLAB files) from tiny generated files."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import require

from condensed_data.data import load_dataset, mnist, svhn


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real copy is visible: system folders, data home and HOME all point into tmp_path."""
    for module in (mnist, svhn):
        monkeypatch.setattr(module, "SYSTEM_ROOT", tmp_path / "system")
    monkeypatch.delenv("CONDENSED_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write_mnist(idx_writer, directory: Path, split: str, n: int = 5, *, gz: bool = True) -> np.ndarray:
    prefix = {"train": "train", "test": "t10k"}[split]
    images = np.stack([np.full((28, 28), 10 * i, dtype=np.uint8) for i in range(n)])
    labels = ((np.arange(n) * 3) % 10).astype(np.uint8)
    ext = ".gz" if gz else ""
    idx_writer(directory / f"{prefix}-images-idx3-ubyte{ext}", images)
    idx_writer(directory / f"{prefix}-labels-idx1-ubyte{ext}", labels)
    return labels


@pytest.mark.parametrize("layout", ["", "mnist", "MNIST/raw"])
def test_mnist_from_idx_files(isolated: Path, idx_writer, layout: str) -> None:
    labels = write_mnist(idx_writer, isolated / "root" / layout, "train", gz=layout != "")
    ds = load_dataset("mnist", "train", root=isolated / "root")
    assert (ds.name, ds.split, len(ds), ds.image_shape) == ("mnist", "train", 5, (1, 28, 28))
    assert ds.labels.tolist() == labels.tolist() and ds.classes == [str(d) for d in range(10)]
    assert ds.images[4].unique().tolist() == [pytest.approx(40 / 255)]
    assert ds.mean == (0.1307,) and ds.std == (0.3081,)


def test_mnist_errors_name_the_files_and_fixes(isolated: Path, idx_writer) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", "test", root=isolated / "root")
    message = str(info.value)
    assert "MNIST (test split) was not found" in message and "t10k-images-idx3-ubyte[.gz]" in message
    assert str(isolated / "root" / "MNIST" / "raw") in message and "download=True" in message
    directory = isolated / "bad"
    idx_writer(directory / "t10k-images-idx3-ubyte", np.zeros((2, 32, 32), dtype=np.uint8))
    idx_writer(directory / "t10k-labels-idx1-ubyte", np.zeros(2, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"holds 32x32 images, MNIST's are 28x28; point root= at the MNIST files"):
        load_dataset("mnist", "test", root=directory)


def test_mnist_download_only_when_asked(isolated: Path, idx_writer, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def download_url(url: str, root: str, *, filename: str, md5: str) -> None:
        calls.append((url, filename, md5))
        if "images" in filename:
            idx_writer(Path(root) / filename, np.zeros((3, 28, 28), dtype=np.uint8))
        else:
            idx_writer(Path(root) / filename, np.array([1, 2, 3], dtype=np.uint8))

    utils = types.ModuleType("torchvision.datasets.utils")
    utils.download_url, utils.download_and_extract_archive = download_url, None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", types.ModuleType("torchvision.datasets"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets.utils", utils)
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", "test")
    ds = load_dataset("mnist", "test", root=isolated / "mine", download=True)
    assert ds.labels.tolist() == [1, 2, 3] and (isolated / "mine" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert [c[1] for c in calls] == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    assert calls[0][2] == "9fb629c4189551a2d022fa330f9573f3" and calls[0][0].endswith("/t10k-images-idx3-ubyte.gz")


def write_svhn(directory: Path, split: str, labels: list[int]) -> np.ndarray:
    """A tiny ``<split>_32x32.mat``; image i is filled with 20 * i in channel 0, 5 in channel 2 of row 3."""
    require("scipy")
    from scipy.io import savemat

    x = np.zeros((32, 32, 3, len(labels)), dtype=np.uint8)
    for i in range(len(labels)):
        x[:, :, 0, i] = 20 * i
        x[3, :, 2, i] = 5
    directory.mkdir(parents=True, exist_ok=True)
    savemat(directory / f"{split}_32x32.mat", {"X": x, "y": np.array(labels, dtype=np.uint8).reshape(-1, 1)})
    return x


@pytest.mark.parametrize("split", ["train", "test"])
def test_svhn_from_mat_files(isolated: Path, split: str) -> None:
    write_svhn(isolated / "root" / "svhn", split, [10, 1, 9, 10])
    ds = load_dataset("svhn", split, root=isolated / "root")
    assert (ds.name, ds.split, len(ds), ds.image_shape) == ("svhn", split, 4, (3, 32, 32))
    assert ds.labels.tolist() == [0, 1, 9, 0]  # label 10 is the digit 0
    assert ds.classes == [str(d) for d in range(10)]
    assert ds.images[2, 0].unique().tolist() == [pytest.approx(40 / 255)]
    assert torch.equal(ds.images[1, 2, 3], torch.full((32,), 5 / 255)) and float(ds.images[1, 2, 4].max()) == 0
    assert ds.mean == (0.4377, 0.4438, 0.4728) and ds.std == (0.1980, 0.2010, 0.1970)


def test_svhn_errors(isolated: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"SVHN \(train split\) was not found: looked for train_32x32\.mat"):
        load_dataset("svhn", root=isolated / "root")
    require("scipy")
    from scipy.io import savemat

    (isolated / "bad").mkdir()
    savemat(isolated / "bad" / "train_32x32.mat", {"X": np.zeros((28, 28, 1, 2), dtype=np.uint8), "y": [1, 2]})
    with pytest.raises(ValueError, match=r"does not hold SVHN's arrays"):
        load_dataset("svhn", root=isolated / "bad")
    (isolated / "bad" / "test_32x32.mat").write_bytes(b"not a mat file at all")
    with pytest.raises(ValueError, match=r"could not read .*test_32x32\.mat as a MATLAB file"):
        load_dataset("svhn", "test", root=isolated / "bad")
