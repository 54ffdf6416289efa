"""CIFAR-10/100 from tiny generated binary-version files: folder and archive, labels, names, errors."""

from __future__ import annotations

import io
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from condensed_data.data import cifar, load_dataset
from condensed_data.data.cifar import CIFAR10, CIFAR100, load_cifar

NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real copy is visible: system folders, data home and HOME all point into tmp_path."""
    monkeypatch.setattr(cifar, "SYSTEM_ROOT", tmp_path / "system")
    monkeypatch.delenv("CONDENSED_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def records(labels: list[tuple[int, ...]], start: int = 0) -> tuple[bytes, np.ndarray]:
    """Binary records; image i has channel c filled with (start + i) * 3 + c, except pixel (c, 1, 2) = 200 + c."""
    images = np.zeros((len(labels), 3, 32, 32), dtype=np.uint8)
    for i in range(len(labels)):
        for c in range(3):
            images[i, c] = ((start + i) * 3 + c) % 200
            images[i, c, 1, 2] = 200 + c
    rows = [bytes(label) + images[i].tobytes() for i, label in enumerate(labels)]
    return b"".join(rows), images


def cifar10_files(n_per_batch: int = 2) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """The files of a tiny CIFAR-10 binary version and the expected train images and labels."""
    files: dict[str, bytes] = {"batches.meta.txt": ("\n".join(NAMES10) + "\n\n").encode()}
    all_images, all_labels = [], []
    for b in range(1, 6):
        labels = [(b + i) % 10 for i in range(n_per_batch)]
        files[f"data_batch_{b}.bin"], images = records([(label,) for label in labels], start=10 * b)
        all_images.append(images)
        all_labels += labels
    files["test_batch.bin"], _ = records([(3,), (9,), (0,)], start=100)
    return files, np.concatenate(all_images), np.array(all_labels)


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def write_archive(path: Path, top: str, files: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_cifar10_from_the_extracted_folder(isolated: Path) -> None:
    files, images, labels = cifar10_files()
    write_folder(isolated / "data" / "cifar-10-batches-bin", files)
    ds = load_dataset("cifar10", "train", root=isolated / "data")
    assert (ds.name, ds.split, len(ds), ds.image_shape) == ("cifar10", "train", 10, (3, 32, 32))
    assert ds.labels.tolist() == labels.tolist()
    assert torch.equal(ds.images, torch.from_numpy(images).float() / 255)  # R, G, B planes in record order
    assert ds.images[0, 2, 1, 2] == pytest.approx(202 / 255)
    assert ds.classes == NAMES10
    assert ds.mean == (0.4914, 0.4822, 0.4465) and ds.std == (0.2023, 0.1994, 0.2010)
    test = load_dataset("cifar-10", "test", root=isolated / "data")
    assert (len(test), test.labels.tolist()) == (3, [3, 9, 0])


def test_cifar10_from_the_archive_without_extracting(isolated: Path) -> None:
    files, images, labels = cifar10_files()
    archive = write_archive(isolated / "home" / "cifar10" / "cifar-10-binary.tar.gz", "cifar-10-batches-bin", files)
    ds = load_cifar(CIFAR10, "train", root=isolated / "home")  # root/cifar10/<archive>
    assert ds.labels.tolist() == labels.tolist()
    assert torch.equal(ds.images, torch.from_numpy(images).float() / 255)
    assert sorted(p.name for p in archive.parent.iterdir()) == ["cifar-10-binary.tar.gz"]  # nothing extracted


def test_cifar100_uses_the_fine_labels(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fine_names = [f"fine{i}" for i in range(100)]
    train, _ = records([(1, 57), (19, 99), (0, 3)])
    test, _ = records([(7, 42)])
    files = {"train.bin": train, "test.bin": test, "fine_label_names.txt": "\n".join(fine_names).encode()}
    files["coarse_label_names.txt"] = b"c\n"
    write_archive(isolated / "d" / "cifar-100-binary.tar.gz", "cifar-100-binary", files)
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(isolated))  # $CONDENSED_DATA_HOME/cifar100 is searched too
    write_folder(isolated / "cifar100" / "cifar-100-binary", files)
    for root in (isolated / "d", None):
        ds = load_dataset("cifar100", "train", root=root)
        assert (ds.name, len(ds), ds.labels.tolist(), ds.num_classes) == ("cifar100", 3, [57, 99, 3], 100)
        assert ds.classes == fine_names and ds.mean == (0.5071, 0.4866, 0.4409)
    assert load_cifar(CIFAR100, "test", root=isolated / "d").labels.tolist() == [42]


def test_only_the_pickled_python_version_is_refused(isolated: Path) -> None:
    (isolated / "data" / "cifar-10-batches-py").mkdir(parents=True)
    (isolated / "data" / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\x80\x04 not read")
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("cifar10", root=isolated / "data")
    message = str(info.value)
    assert "never unpickles" in message and "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in message
    assert str(isolated / "data" / "cifar-10-batches-py") in message


def test_not_found_names_the_files_places_and_fixes(isolated: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("cifar100", "test", root=isolated / "mine")
    message = str(info.value)
    assert "CIFAR-100 (test split) was not found" in message and "cifar-100-binary.tar.gz" in message
    assert "test.bin" in message and str(isolated / "mine" / "cifar100") in message
    assert "download=True" in message and "CONDENSED_DATA_HOME" in message and "never unpickles" not in message


def test_corrupt_files_are_named(isolated: Path) -> None:
    files, _, _ = cifar10_files()
    folder = write_folder(isolated / "a" / "cifar-10-batches-bin", files)
    (folder / "data_batch_3.bin").write_bytes(files["data_batch_3.bin"][:-5])
    with pytest.raises(ValueError, match=r"data_batch_3\.bin is 6141 bytes, not a whole number of 3073-byte"):
        load_cifar(CIFAR10, root=isolated / "a")
    (folder / "data_batch_3.bin").write_bytes(records([(12,)])[0])
    with pytest.raises(ValueError, match=r"data_batch_3\.bin has label 12, CIFAR-10 has 10 classes"):
        load_cifar(CIFAR10, root=isolated / "a")
    (folder / "data_batch_3.bin").write_bytes(files["data_batch_3.bin"])
    (folder / "batches.meta.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"batches\.meta\.txt missing"):
        load_cifar(CIFAR10, root=isolated / "a")
    (isolated / "b").mkdir()
    (isolated / "b" / "cifar-10-binary.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match=r"cifar-10-binary\.tar\.gz .*corrupt or truncated"):
        load_cifar(CIFAR10, root=isolated / "b")


def test_download_only_when_asked(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    files, _, labels = cifar10_files()

    def download_url(url: str, root: str, *, filename: str, md5: str) -> None:
        calls.append((url, root, filename, md5))
        write_archive(Path(root) / filename, "cifar-10-batches-bin", files)

    utils = types.ModuleType("torchvision.datasets.utils")
    utils.download_url, utils.download_and_extract_archive = download_url, None  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", types.ModuleType("torchvision.datasets"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets.utils", utils)
    with pytest.raises(FileNotFoundError):
        load_dataset("cifar10")
    assert calls == []
    ds = load_dataset("cifar10", download=True)
    target = isolated / "home" / ".cache" / "condensed-data" / "cifar10"
    assert calls == [(CIFAR10.url, str(target), "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530")]
    assert ds.labels.tolist() == labels.tolist()
    load_dataset("cifar10", download=True)
    assert len(calls) == 1  # found where it was downloaded


def test_download_without_torchvision_says_what_to_install(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")] + ["torchvision"]:
        monkeypatch.setitem(sys.modules, name, None)  # submodules too: another test may have imported them
    with pytest.raises(ImportError, match=r"pip install condensed-data\[torchvision\]"):
        load_dataset("cifar10", download=True)
