"""RealDataset: construction, validation, class-indexed sampling, value space, fingerprint, pickling."""

from __future__ import annotations

import hashlib
import pickle
import re
import struct

import pytest
import torch

from condensed_data.data import RealDataset

TOY_COUNTS = [4, 5, 6]


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform [0, 1) values from a seeded generator: tests never touch the global RNG."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def class_of(images: torch.Tensor) -> torch.Tensor:
    """The class encoded in pixel [0, 0, 0] of toy images (any leading dims)."""
    return torch.round(images[..., 0, 0, 0] * 10).long()


def ids_of(images: torch.Tensor) -> torch.Tensor:
    return torch.round(images[..., 1, 0, 0] * 100).long()


def build(images=None, labels=None, **overrides) -> RealDataset:
    kwargs = {"classes": ["a", "b"], "name": "toy", "split": "train"} | overrides
    images = rand(4, 1, 2, 2) if images is None else images
    labels = torch.tensor([0, 1, 0, 1]) if labels is None else labels
    return RealDataset(images, labels, **kwargs)


# ---------------------------------------------------------------------- basic surface
def test_attributes_and_items(toy: RealDataset) -> None:
    assert len(toy) == 15
    assert toy.num_classes == 3
    assert toy.image_shape == (2, 3, 3)
    assert toy.images.dtype == torch.float32 and toy.labels.dtype == torch.int64
    assert toy.class_counts() == TOY_COUNTS
    assert toy.targets == toy.labels.tolist() and all(type(t) is int for t in toy.targets)
    assert toy.class_to_idx == {"ant": 0, "bee": 1, "cat": 2}
    image, label = toy[3]
    assert type(label) is int and label == int(toy.labels[3])
    assert image.shape == (2, 3, 3) and int(class_of(image)) == label
    assert "toy" in repr(toy) and "num_images=15" in repr(toy)


def test_default_stats_are_per_channel_population_stats() -> None:
    images = rand(8, 3, 4, 4)
    ds = build(images, torch.zeros(8, dtype=torch.long))
    flat = images.transpose(0, 1).reshape(3, -1)
    assert ds.mean == pytest.approx(flat.mean(1).tolist(), abs=1e-6)
    assert ds.std == pytest.approx(flat.std(1, correction=0).tolist(), abs=1e-6)
    assert all(type(v) is float for v in ds.mean + ds.std)


def test_explicit_stats_are_kept_and_constant_channel_gets_std_one() -> None:
    assert build(mean=[0.1], std=(0.2,)).mean == (0.1,)
    assert build(mean=[0.1], std=(0.2,)).std == (0.2,)
    constant = build(torch.full((4, 1, 2, 2), 0.25))
    assert constant.mean == pytest.approx((0.25,)) and constant.std == (1.0,)


def test_float64_images_become_float32_and_int32_labels_int64() -> None:
    ds = build(rand(4, 1, 2, 2, dtype=torch.float64), torch.tensor([0, 1, 1, 0], dtype=torch.int32))
    assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"images": [[0.0]]}, TypeError, "from_tensors"),
        ({"images": rand(4, 2, 2)}, ValueError, r"4-D.*unsqueeze\(1\)"),
        ({"images": torch.zeros(4, 1, 2, 2, dtype=torch.uint8)}, ValueError, r"float.*uint8.*/ 255"),
        ({"images": rand(0, 1, 2, 2), "labels": torch.zeros(0, dtype=torch.long)}, ValueError, "empty"),
        ({"images": rand(4, 1, 2, 2) - 1.0}, ValueError, r"\[0, 1\].*denormalize"),
        ({"images": torch.full((4, 1, 2, 2), float("nan"))}, ValueError, r"\[0, 1\]"),
        ({"labels": [0, 1, 0, 1]}, TypeError, "from_tensors"),
        ({"labels": torch.tensor([0.0, 1.0, 0.0, 1.0])}, ValueError, r"integer.*labels.long\(\)"),
        ({"labels": torch.zeros(4, 1, dtype=torch.long)}, ValueError, "1-D"),
        ({"labels": torch.tensor([0, 1, 0])}, ValueError, "4 images but 3 labels"),
        ({"labels": torch.tensor([0, 1, 2, 1])}, ValueError, r"\[0, 2\).*max=2.*classes"),
        ({"labels": torch.tensor([0, -1, 0, 1])}, ValueError, "min=-1"),
        ({"classes": []}, ValueError, "classes is empty"),
        ({"classes": "ab"}, TypeError, "sequence of class names"),
        ({"classes": [0, 1]}, TypeError, "strings"),
        ({"classes": ["a", "a"]}, ValueError, r"unique.*\['a'\]"),
        ({"name": ""}, ValueError, "name must be a non-empty string"),
        ({"mean": (0.5, 0.5)}, ValueError, r"mean must have one value per channel \(1\)"),
        ({"std": (0.0,)}, ValueError, "std values must be finite and positive"),
        ({"mean": (float("nan"),)}, ValueError, "mean values must be finite"),
    ],
)
def test_construction_errors(kwargs: dict, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        build(**kwargs)


# ---------------------------------------------------------------------- class index
def test_indices_of_is_exact_and_cached(toy: RealDataset) -> None:
    for c in range(3):
        expected = torch.nonzero(toy.labels == c).flatten()
        assert torch.equal(toy.indices_of(c), expected)
        assert toy.indices_of(c).dtype == torch.int64
    assert toy.indices_of(1) is toy.indices_of(1)


@pytest.mark.parametrize(("c", "error", "pattern"), [(3, ValueError, r"out of range.*3 classes \(0..2\)"),
                                                     (-1, ValueError, "out of range"),
                                                     ("ant", TypeError, "class_to_idx")])  # fmt: skip
def test_bad_class_index(toy: RealDataset, c: object, error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        toy.indices_of(c)  # type: ignore[arg-type]
    with pytest.raises(error, match=pattern):
        toy.sample(c, 1, generator=gen(0))  # type: ignore[arg-type]


def test_class_with_no_images_counts_zero() -> None:
    ds = build(classes=["a", "b", "c"])
    assert ds.class_counts() == [2, 2, 0]
    assert ds.indices_of(2).numel() == 0
    with pytest.raises(ValueError, match=r"class 2 \('c'\): it has only 0"):
        ds.sample(2, 1, generator=gen(0))


# ---------------------------------------------------------------------- sampling
def test_sample_returns_distinct_images_of_the_class(toy: RealDataset) -> None:
    batch = toy.sample(2, 6, generator=gen(0))
    assert batch.shape == (6, 2, 3, 3)
    assert torch.all(class_of(batch) == 2)
    assert sorted(ids_of(batch).tolist()) == toy.indices_of(2).tolist()  # all 6, no repeats


def test_sample_is_the_head_of_a_randperm(toy: RealDataset) -> None:
    expected = toy.indices_of(1)[torch.randperm(5, generator=gen(7))[:3]]
    assert ids_of(toy.sample(1, 3, generator=gen(7))).tolist() == expected.tolist()


def test_sample_errors(toy: RealDataset) -> None:
    with pytest.raises(ValueError, match=r"cannot draw 5 images of class 0 \('ant'\): it has only 4.*at most 4"):
        toy.sample(0, 5, generator=gen(0))
    with pytest.raises(ValueError, match="at least 1"):
        toy.sample(0, 0, generator=gen(0))
    with pytest.raises(TypeError, match="integer number"):
        toy.sample(0, 1.5, generator=gen(0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("torch.Generator().manual_seed(0)")):
        toy.sample(0, 1, generator=0)  # type: ignore[arg-type]


def test_sample_per_class_shape_and_membership(toy: RealDataset) -> None:
    batch = toy.sample_per_class(4, generator=gen(0))
    assert batch.shape == (3, 4, 2, 3, 3)
    assert torch.equal(class_of(batch), torch.arange(3).view(3, 1).expand(3, 4))
    for k in range(3):
        assert len(set(ids_of(batch[k]).tolist())) == 4


def test_sample_per_class_is_deterministic_per_seed(toy: RealDataset) -> None:
    first = toy.sample_per_class(3, generator=gen(123))
    assert torch.equal(first, toy.sample_per_class(3, generator=gen(123)))
    assert not torch.equal(first, toy.sample_per_class(3, generator=gen(124)))


def test_sample_per_class_matches_sample_class_by_class(toy: RealDataset) -> None:
    g = gen(5)
    expected = torch.stack([toy.sample(2, 3, generator=g), toy.sample(0, 3, generator=g)])
    assert torch.equal(toy.sample_per_class(3, generator=gen(5), classes=[2, 0]), expected)


def test_sample_per_class_errors(toy: RealDataset) -> None:
    with pytest.raises(ValueError, match=r"class 0 \('ant'\): it has only 4"):
        toy.sample_per_class(5, generator=gen(0))
    assert toy.sample_per_class(5, generator=gen(0), classes=[1, 2]).shape == (2, 5, 2, 3, 3)
    with pytest.raises(ValueError, match="empty `classes`"):
        toy.sample_per_class(1, generator=gen(0), classes=[])
    with pytest.raises(ValueError, match="out of range"):
        toy.sample_per_class(1, generator=gen(0), classes=[0, 9])


def test_subset_per_class(toy: RealDataset) -> None:
    subset = toy.subset_per_class(3, generator=gen(0))
    assert isinstance(subset, RealDataset) and len(subset) == 9
    assert subset.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert torch.equal(class_of(subset.images), subset.labels)
    for k in range(3):  # real images of the right class, drawn without replacement
        ids = ids_of(subset.images[subset.labels == k])
        assert len(set(ids.tolist())) == 3 and all(toy.labels[i] == k for i in ids.tolist())
    assert (subset.classes, subset.name, subset.split) == (toy.classes, toy.name, toy.split)
    assert (subset.mean, subset.std) == (toy.mean, toy.std)
    assert torch.equal(subset.images, toy.subset_per_class(3, generator=gen(0)).images)


def test_subset_per_class_names_the_smallest_class(toy: RealDataset) -> None:
    with pytest.raises(ValueError, match=r"class 0 \('ant'\) has only 4; use n <= 4"):
        toy.subset_per_class(5, generator=gen(0))


# ---------------------------------------------------------------------- value space
def test_normalize_and_denormalize() -> None:
    ds = build(rand(4, 2, 2, 2), mean=(0.5, 0.25), std=(0.5, 0.25))
    x = torch.ones(5, 2, 3, 3)
    normalized = ds.normalize(x)
    assert torch.allclose(normalized[:, 0], torch.full((5, 3, 3), 1.0))
    assert torch.allclose(normalized[:, 1], torch.full((5, 3, 3), 3.0))
    assert torch.allclose(ds.denormalize(normalized), x)
    assert ds.normalize(torch.ones(2, 4, 4)).shape == (2, 4, 4)  # a single image
    assert ds.normalize(torch.ones(3, 4, 2, 4, 4, dtype=torch.float64)).dtype == torch.float64  # (K, n, C, H, W)


def test_normalize_errors() -> None:
    ds = build(rand(4, 2, 2, 2))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2, H, W\).*\(4, 3, 2, 2\)"):
        ds.normalize(torch.ones(4, 3, 2, 2))
    with pytest.raises(ValueError, match="float"):
        ds.normalize(torch.ones(4, 2, 2, 2, dtype=torch.uint8))


# ---------------------------------------------------------------------- fingerprint
def test_fingerprint_is_stable_and_pinned(toy: RealDataset, toy_factory) -> None:
    value = toy.fingerprint()
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", value)
    assert toy_factory().fingerprint() == value
    assert toy.fingerprint() is value  # cached
    ds = build(torch.arange(16, dtype=torch.float32).view(4, 1, 2, 2) / 15)
    # Pinned: a change here silently invalidates every published artifact's source fingerprint.
    assert ds.fingerprint() == "sha256:" + _EXPECTED_PINNED
    # ... and it is the documented canonical form: version line, JSON header, uint8 pixels, little-endian int64 labels.
    canonical = (b"condensed-data/real-dataset-fingerprint/v1\n" + b'{"classes":["a","b"],"shape":[4,1,2,2]}'
                 + bytes(round(v * 255 / 15) for v in range(16)) + struct.pack("<4q", 0, 1, 0, 1))  # fmt: skip
    assert ds.fingerprint() == "sha256:" + hashlib.sha256(canonical).hexdigest()


def test_fingerprint_sensitivity(toy_factory) -> None:
    base = toy_factory().fingerprint()
    pixel = toy_factory()
    pixel.images[3, 1, 2, 2] += 0.01  # more than half a uint8 step
    assert RealDataset(pixel.images, pixel.labels, classes=pixel.classes, name="t", split="s").fingerprint() != base
    label = toy_factory()
    labels = label.labels.clone()
    labels[0] = (labels[0] + 1) % 3
    assert RealDataset(label.images, labels, classes=label.classes, name="t", split="s").fingerprint() != base
    renamed = RealDataset(label.images, label.labels, classes=["ant", "bee", "cow"], name="t", split="s")
    assert renamed.fingerprint() != base


def test_fingerprint_ignores_metadata_and_sub_quantum_noise(toy: RealDataset) -> None:
    same = RealDataset(toy.images + 0.0001, toy.labels, classes=toy.classes, name="other", split="test",
                       mean=(0.1, 0.1), std=(0.3, 0.3))  # fmt: skip
    assert same.fingerprint() == toy.fingerprint()


# ---------------------------------------------------------------------- devices and pickling
def test_to_same_device_is_identity_and_other_device_keeps_metadata(toy: RealDataset) -> None:
    assert toy.to("cpu") is toy
    fingerprint, _ = toy.fingerprint(), toy.class_counts()  # caches travel: meta tensors hold no data to rebuild them
    moved = toy.to("meta")
    assert moved is not toy and moved.images.device.type == "meta" and moved.labels.device.type == "meta"
    assert (moved.classes, moved.name, moved.split, moved.mean, moved.std) == (
        toy.classes, toy.name, toy.split, toy.mean, toy.std)  # fmt: skip
    assert moved.fingerprint() == fingerprint and moved.class_counts() == TOY_COUNTS


def test_pickle_round_trip(toy: RealDataset) -> None:
    toy.sample_per_class(2, generator=gen(0))  # populate caches first
    toy.normalize(torch.ones(1, 2, 3, 3))
    restored = pickle.loads(pickle.dumps(toy))
    assert torch.equal(restored.images, toy.images) and torch.equal(restored.labels, toy.labels)
    assert (restored.classes, restored.name, restored.split, restored.mean, restored.std) == (
        toy.classes, toy.name, toy.split, toy.mean, toy.std)  # fmt: skip
    assert restored.fingerprint() == toy.fingerprint()
    assert torch.equal(restored.sample_per_class(3, generator=gen(9)), toy.sample_per_class(3, generator=gen(9)))


def test_works_with_a_dataloader(toy: RealDataset) -> None:
    loader = torch.utils.data.DataLoader(toy, batch_size=4, shuffle=False)
    images, labels = next(iter(loader))
    assert images.shape == (4, 2, 3, 3) and torch.equal(labels, toy.labels[:4])


_EXPECTED_PINNED = "4e75b8f94b391e6845b7af593a19ab3d289b566d66641b16a00ec0173d2e6cf0"
