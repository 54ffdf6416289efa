import numpy as np
import pytest
from PIL import Image

from condensed_data.data import load_dataset


def _write(root, split, per_class):
    for c, value in (("cat", 40), ("dog", 200)):
        (root / split / c).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((6, 6), value + i, dtype=np.uint8)).save(root / split / c / f"{i}.png")


def test_imagefolder_by_name_uses_train_statistics_for_test(tmp_path):
    _write(tmp_path, "train", 3)
    _write(tmp_path, "val", 2)
    train = load_dataset(f"imagefolder:{tmp_path}", "train")
    test = load_dataset(f"imagefolder:{tmp_path}", "test")  # falls back to val/
    assert train.classes == test.classes == ["cat", "dog"]
    assert len(train) == 6 and len(test) == 4 and train.image_shape == (3, 6, 6)
    assert test.mean == train.mean and test.std == train.std
    assert train.name == f"imagefolder:{tmp_path}"


def test_imagefolder_missing_split_says_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/<class>/<image>"):
        load_dataset(f"imagefolder:{tmp_path}", "train")
