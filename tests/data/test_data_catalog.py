"""load_dataset / list_datasets and the package's public surface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import require

import condensed_data.data as data
from condensed_data.data import list_datasets, load_dataset


def test_public_api() -> None:
    assert sorted(data.__all__) == sorted(
        [
            "HFDatasetSource",
            "ImageFolderSource",
            "RealDataset",
            "RealSource",
            "ShardedRealSource",
            "from_image_folder",
            "from_tensors",
            "from_torchvision",
            "list_datasets",
            "load_dataset",
            "require_in_memory",
            "write_real_shards",
        ]
    )
    for name in data.__all__:
        assert getattr(data, name).__doc__


def test_list_datasets() -> None:
    assert list_datasets() == ["cifar10", "cifar100", "digits", "fashion-mnist", "mnist", "svhn", "tiny-imagenet"]


def test_unknown_name_lists_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet'; known datasets: cifar10, cifar100, digits, "):
        load_dataset("imagenet")


@pytest.mark.parametrize("name", list_datasets())
def test_unknown_split_lists_valid_ones(name: str) -> None:
    with pytest.raises(ValueError, match=f"unknown split 'validation' for {name}; valid splits: train, test"):
        load_dataset(name, "validation")


@pytest.mark.parametrize("alias", ["fashion-mnist", "Fashion-MNIST", "fashion_mnist", "fmnist"])
def test_fashion_mnist_by_name_with_root(tmp_path: Path, idx_writer, alias: str) -> None:
    idx_writer(tmp_path / "t10k-images-idx3-ubyte", np.full((3, 28, 28), 51, dtype=np.uint8))
    idx_writer(tmp_path / "t10k-labels-idx1-ubyte", np.array([4, 0, 9], dtype=np.uint8))
    ds = load_dataset(alias, "test", root=tmp_path)
    assert (ds.name, ds.split, len(ds), ds.labels.tolist()) == ("fashion-mnist", "test", 3, [4, 0, 9])
    assert float(ds.images.max()) == pytest.approx(0.2)


def test_digits_ignores_root_and_download(tmp_path: Path) -> None:
    require("sklearn")
    assert len(load_dataset("digits", "test", root=tmp_path, download=True)) == 364
