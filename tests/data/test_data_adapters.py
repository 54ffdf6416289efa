"""from_tensors, from_torchvision and from_image_folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import require
from PIL import Image

from condensed_data.data import from_image_folder, from_tensors, from_torchvision, load_dataset


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform [0, 1) values from a seeded generator: tests never touch the global RNG."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def pixels(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


# ---------------------------------------------------------------------- from_tensors
def test_from_tensors_uint8_grayscale() -> None:
    raw = torch.from_numpy(pixels(0, (5, 6, 7)))
    ds = from_tensors(raw, torch.tensor([0, 2, 1, 2, 0]))
    assert ds.images.shape == (5, 1, 6, 7)
    assert torch.equal(ds.images, raw.unsqueeze(1).float() / 255)
    assert ds.classes == ["0", "1", "2"] and (ds.name, ds.split) == ("custom", "train")


def test_from_tensors_numpy_lists_and_options() -> None:
    images = np.random.default_rng(1).random((4, 3, 2, 2)).astype(np.float32)
    ds = from_tensors(images, [1, 0, 1, 1], classes=["no", "yes"], name="mine", split="test",
                      mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))  # fmt: skip
    assert torch.equal(ds.images, torch.from_numpy(images))
    assert ds.labels.tolist() == [1, 0, 1, 1] and ds.classes == ["no", "yes"]
    assert (ds.name, ds.split, ds.mean, ds.std) == ("mine", "test", (0.5,) * 3, (0.2,) * 3)


def test_from_tensors_errors() -> None:
    with pytest.raises(TypeError, match="tensor or numpy array"):
        from_tensors([[0.0]], [0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        from_tensors(torch.full((2, 1, 2, 2), 3.0), [0, 1])
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        from_tensors(rand(2, 1, 2, 2), [0, 5], classes=["a", "b"])


# ---------------------------------------------------------------------- from_torchvision
class FakeDataset:
    """A map-style dataset of (image, label) with torchvision's `.classes`."""

    def __init__(self, items: list[tuple[object, object]], classes: list[str] | None = None) -> None:
        self.items = items
        if classes is not None:
            self.classes = classes

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> tuple[object, object]:
        return self.items[i]


def test_pil_grayscale_images() -> None:
    arrays = [pixels(i, (4, 5)) for i in range(3)]
    source = FakeDataset([(Image.fromarray(a), i % 2) for i, a in enumerate(arrays)], classes=["even", "odd"])
    ds = from_torchvision(source, name="fake", split="test")
    assert ds.images.shape == (3, 1, 4, 5)
    assert torch.equal(ds.images[:, 0], torch.from_numpy(np.stack(arrays)).float() / 255)
    assert ds.labels.tolist() == [0, 1, 0] and ds.classes == ["even", "odd"]
    assert (ds.name, ds.split) == ("fake", "test")


def test_pil_color_modes_become_rgb() -> None:
    rgb = pixels(1, (3, 3, 3))
    rgba = Image.fromarray(np.concatenate([rgb, np.full((3, 3, 1), 7, np.uint8)], axis=2), mode="RGBA")
    palette = Image.fromarray(rgb).convert("P")
    ds = from_torchvision(FakeDataset([(Image.fromarray(rgb), 0), (rgba, 1), (palette, 0)]))
    assert ds.images.shape == (3, 3, 3, 3)
    expected = torch.from_numpy(rgb).permute(2, 0, 1).float() / 255
    assert torch.equal(ds.images[0], expected) and torch.equal(ds.images[1], expected)
    assert torch.equal(ds.images[2], torch.from_numpy(np.array(palette.convert("RGB"))).permute(2, 0, 1) / 255)
    assert ds.name == "fakedataset" and ds.classes == ["0", "1"]


def test_ndarray_and_tensor_images_and_label_types() -> None:
    hwc, gray = pixels(2, (4, 4, 3)), pixels(3, (4, 4))
    float_chw = rand(3, 4, 4)
    items = [(hwc, np.int64(1)), (gray[:, :, None].repeat(3, 2), torch.tensor(0)), (float_chw, 2),
             (torch.from_numpy(hwc).permute(2, 0, 1).contiguous(), np.array(1))]  # fmt: skip
    ds = from_torchvision(FakeDataset(items))
    assert ds.images.shape == (4, 3, 4, 4) and ds.labels.tolist() == [1, 0, 2, 1]
    assert torch.equal(ds.images[0], torch.from_numpy(hwc).permute(2, 0, 1).float() / 255)
    assert torch.equal(ds.images[1, 0], torch.from_numpy(gray).float() / 255)
    assert torch.equal(ds.images[2], float_chw)
    assert torch.equal(ds.images[3], ds.images[0])
    two_d = from_torchvision(FakeDataset([(gray, 0), (gray.astype(np.float32) / 255, 0)]))
    assert two_d.images.shape == (2, 1, 4, 4) and torch.allclose(two_d.images[0], two_d.images[1])


def test_explicit_classes_override_and_subsets_expose_classes() -> None:
    source = FakeDataset([(pixels(i, (2, 2)), i % 3) for i in range(6)], classes=["a", "b", "c"])
    assert from_torchvision(source, classes=["x", "y", "z"]).classes == ["x", "y", "z"]
    subset = torch.utils.data.Subset(source, [0, 1, 2])
    assert from_torchvision(subset).classes == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("items", "error", "pattern"),
    [
        ([(pixels(0, (2, 2)), 0), (pixels(1, (3, 3)), 1)], ValueError, r"image 1 has shape \(1, 3, 3\).*Resize"),
        ([(pixels(0, (2, 2)), 0.5)], TypeError, r"\[0\].*integer class index.*target_transform"),
        ([(pixels(0, (2, 2)), True)], TypeError, "integer class index"),
        ([pixels(0, (2, 2))], TypeError, r"fake\[0\] is ndarray, expected an \(image, label\) pair"),
        ([("not an image", 0)], TypeError, "PIL image, numpy array or torch tensor"),
        ([(rand(1, 2, 2) - 1.0, 0)], ValueError, r"\[0, 1\].*denormalize"),
        ([(np.zeros((2, 2), dtype=np.int64), 0)], ValueError, "value range of int64"),
        ([(Image.new("I", (2, 2)), 0)], ValueError, "mode 'I'"),
        ([], ValueError, "has no images"),
    ],
)
def test_from_torchvision_errors(items: list, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        from_torchvision(FakeDataset(items), name="fake")


class InMemoryDataset(FakeDataset):
    """Like torchvision's MNIST: uint8 `.data`, `.targets`, PIL items, `transform` attributes."""

    def __init__(self, data: torch.Tensor, targets: list[int], *, invert_items: bool = False) -> None:
        self.data, self.targets, self.invert_items = data, targets, invert_items
        self.transform = self.target_transform = self.transforms = None
        self.classes = [f"c{i}" for i in range(3)]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[object, object]:
        array = self.data[i].numpy()
        image = Image.fromarray(255 - array if self.invert_items else array)
        return (image if self.transform is None else self.transform(image)), self.targets[i]


def test_in_memory_shortcut_matches_item_by_item() -> None:
    data, targets = torch.from_numpy(pixels(4, (9, 5, 5))), [i % 3 for i in range(9)]
    fast = from_torchvision(InMemoryDataset(data, targets))
    slow_source = InMemoryDataset(data, targets)
    slow_source.transform = lambda image: image  # any transform forces item-by-item reading
    slow = from_torchvision(slow_source)
    assert torch.equal(fast.images, slow.images) and torch.equal(fast.labels, slow.labels)
    assert torch.equal(fast.images, data.unsqueeze(1).float() / 255)


def test_in_memory_shortcut_is_not_trusted_when_items_differ() -> None:
    data = torch.from_numpy(pixels(5, (4, 3, 3)))
    ds = from_torchvision(InMemoryDataset(data, [0, 1, 2, 0], invert_items=True))
    assert torch.equal(ds.images, (255 - data).unsqueeze(1).float() / 255)


def test_real_torchvision_dataset_gives_the_same_fingerprint(tmp_path: Path, idx_writer, caplog) -> None:
    torchvision = require("torchvision")
    raw = tmp_path / "FashionMNIST" / "raw"
    idx_writer(raw / "t10k-images-idx3-ubyte", pixels(6, (6, 28, 28)))
    idx_writer(raw / "t10k-labels-idx1-ubyte", np.array([3, 1, 4, 1, 5, 9], dtype=np.uint8))
    idx_writer(raw / "train-images-idx3-ubyte", pixels(7, (2, 28, 28)))  # torchvision wants both splits present
    idx_writer(raw / "train-labels-idx1-ubyte", np.array([0, 1], dtype=np.uint8))
    with caplog.at_level(logging.DEBUG, logger="condensed_data.data.adapters"):
        through_torchvision = from_torchvision(
            torchvision.datasets.FashionMNIST(str(tmp_path), train=False), split="test"
        )
    assert "from its .data/.targets" in caplog.text  # the one-step path, not 60k PIL round trips
    direct = load_dataset("fashion-mnist", "test", root=tmp_path)
    assert through_torchvision.classes == direct.classes
    assert through_torchvision.fingerprint() == direct.fingerprint()
    fake = from_torchvision(torchvision.datasets.FakeData(size=5, image_size=(3, 6, 7), num_classes=4))
    assert fake.images.shape == (5, 3, 6, 7) and int(fake.labels.max()) < 4


# ---------------------------------------------------------------------- from_image_folder
def make_folder(root: Path, sizes: dict[str, list[tuple[int, int]]]) -> dict[str, list[np.ndarray]]:
    """root/<class>/<i>.png, RGB images of the given (width, height); returns the arrays by class."""
    arrays: dict[str, list[np.ndarray]] = {}
    for k, (name, shapes) in enumerate(sizes.items()):
        (root / name).mkdir(parents=True)
        for i, (w, h) in enumerate(shapes):
            array = pixels(10 * k + i, (h, w, 3))
            Image.fromarray(array).save(root / name / f"{i:02d}.png")
            arrays.setdefault(name, []).append(array)
    return arrays


def test_image_folder_values_labels_and_order(tmp_path: Path) -> None:
    arrays = make_folder(tmp_path / "pets", {"dog": [(4, 3)] * 2, "cat": [(4, 3)] * 3})
    (tmp_path / "pets" / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "pets" / ".cache").mkdir()
    ds = from_image_folder(tmp_path / "pets", split="test")
    assert ds.classes == ["cat", "dog"] and ds.labels.tolist() == [0, 0, 0, 1, 1]
    assert ds.images.shape == (5, 3, 3, 4) and (ds.name, ds.split) == ("pets", "test")
    expected = torch.from_numpy(np.stack(arrays["cat"] + arrays["dog"])).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(ds.images, expected)


def test_image_folder_grayscale_and_resize(tmp_path: Path) -> None:
    make_folder(tmp_path, {"a": [(5, 4), (8, 2)], "b": [(3, 3)]})
    with pytest.raises(ValueError, match="image_size="):
        from_image_folder(tmp_path)
    ds = from_image_folder(tmp_path, image_size=(6, 7), grayscale=True, name="shapes", mean=(0.5,), std=(0.5,))
    assert ds.images.shape == (3, 1, 6, 7) and ds.name == "shapes" and ds.mean == (0.5,)
    one = Image.open(tmp_path / "b" / "00.png").convert("L").resize((7, 6), Image.Resampling.BILINEAR)
    assert torch.equal(ds.images[2, 0], torch.from_numpy(np.array(one)).float() / 255)


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        from_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (2, 2)).save(tmp_path / "flat" / "x.png")
    with pytest.raises(FileNotFoundError, match=r"no class sub-folders.*<class name>/<image>"):
        from_image_folder(tmp_path / "flat")
    make_folder(tmp_path / "empty", {"a": [(2, 2)]})
    (tmp_path / "empty" / "b").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*empty/b has no images"):
        from_image_folder(tmp_path / "empty")
    make_folder(tmp_path / "bad", {"a": [(2, 2)]})
    (tmp_path / "bad" / "a" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ValueError, match=r"cannot read image .*broken\.png"):
        from_image_folder(tmp_path / "bad")
