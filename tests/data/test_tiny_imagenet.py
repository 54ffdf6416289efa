"""Tiny ImageNet from a generated tree in its standard layout, read lazily through ImageFolderSource."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from condensed_data.data import ImageFolderSource, load_dataset, tiny_imagenet
from condensed_data.data.tiny_imagenet import TINY_IMAGENET_MEAN, class_words, load_tiny_imagenet

WNIDS = ["n03", "n01", "n02"]  # wnids.txt is not sorted; the classes are


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(tiny_imagenet, "SYSTEM_ROOT", tmp_path / "system")
    monkeypatch.delenv("CONDENSED_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def write_tree(base: Path, train_per_class: int = 2) -> Path:
    """``base/tiny-imagenet-200``; class k's images are red 40 * (k + 1) (train) or green (val)."""
    top = base / "tiny-imagenet-200"
    top.mkdir(parents=True)
    (top / "wnids.txt").write_text("\n".join(WNIDS) + "\n")
    (top / "words.txt").write_text("n01\tgoldfish, Carassius auratus\nn02\tbullfrog\nn03\tbus\nn99\tother\n")
    for k, wnid in enumerate(sorted(WNIDS)):
        folder = top / "train" / wnid / "images"
        folder.mkdir(parents=True)
        for i in range(train_per_class):
            Image.new("RGB", (64, 64), (40 * (k + 1), 0, 0)).save(folder / f"{wnid}_{i}.JPEG", quality=95)
        (top / "train" / wnid / f"{wnid}_boxes.txt").write_text("ignored\n")
    (top / "val" / "images").mkdir(parents=True)
    lines = []
    for j, wnid in enumerate(["n02", "n01", "n03", "n02"]):
        k = sorted(WNIDS).index(wnid)
        Image.new("RGB", (64, 64), (0, 40 * (k + 1), 0)).save(top / "val" / "images" / f"val_{j}.JPEG", quality=95)
        lines.append(f"val_{j}.JPEG\t{wnid}\t0\t0\t10\t10")
    (top / "val" / "val_annotations.txt").write_text("\n".join(lines) + "\n")
    return top


def test_train_split_is_a_lazy_folder_source(isolated: Path) -> None:
    write_tree(isolated / "data")
    train = load_dataset("tiny-imagenet", "train", root=isolated / "data")
    assert isinstance(train, ImageFolderSource)
    assert (train.name, train.split, len(train), train.image_shape) == ("tiny-imagenet", "train", 6, (3, 64, 64))
    assert train.classes == ["n01", "n02", "n03"] and train.class_counts() == [2, 2, 2]
    assert train.mean == TINY_IMAGENET_MEAN and train.std == (0.229, 0.224, 0.225)  # no pass over the images
    batch = train.sample_per_class(2, generator=torch.Generator().manual_seed(0))
    reds = batch[:, :, 0].mean(dim=(1, 2, 3)) * 255
    assert reds.round().tolist() == pytest.approx([40, 80, 120], abs=2)


def test_test_split_is_val_labelled_by_the_annotations(isolated: Path) -> None:
    top = write_tree(isolated / "data")
    test = load_tiny_imagenet("test", root=top)  # root may be the tiny-imagenet-200 folder itself
    assert (test.split, len(test), test.classes) == ("test", 4, ["n01", "n02", "n03"])
    assert test.class_counts() == [1, 2, 1] and test.mean == TINY_IMAGENET_MEAN
    for images, labels in test.batches(4):
        greens = (images[:, 1].mean(dim=(1, 2)) * 255 / 40).round().long() - 1
        assert greens.tolist() == labels.tolist()
    assert class_words(top)["n01"] == "goldfish, Carassius auratus"


def test_errors_name_the_files(isolated: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("tiny-imagenet", root=isolated / "none")
    assert "tiny-imagenet-200/ (wnids.txt, train/<wnid>/images/*.JPEG" in str(info.value)
    assert "download=True" in str(info.value)
    top = write_tree(isolated / "data")
    (top / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn77\t0\t0\t1\t1\n")
    with pytest.raises(ValueError, match=r"val_annotations\.txt, line 1: expected .* wnid of wnids\.txt"):
        load_dataset("tiny-imagenet", "test", root=isolated / "data")
    (top / "val" / "val_annotations.txt").write_text("missing.JPEG\tn01\t0\t0\t1\t1\n")
    with pytest.raises(FileNotFoundError, match=r"missing\.JPEG \(class 'n01'\) is listed but missing"):
        load_dataset("tiny-imagenet", "test", root=isolated / "data")
