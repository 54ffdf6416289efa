"""HFDatasetSource: a Hugging Face datasets split read lazily behind the RealSource contract, and ``hf:`` by name."""

import io
import json
import logging
import pickle
import sys

import numpy as np
import pytest
import torch
from helpers import require
from PIL import Image

from condensed_data.cli import main
from condensed_data.data import HFDatasetSource, RealDataset, RealSource, load_dataset
from condensed_data.data._hf_features import import_datasets
from condensed_data.data.hf_load import parse_spec

datasets = require("datasets")

CLASSES = ["ant", "bee", "cow"]
COUNTS = (4, 5, 6)


@pytest.fixture(autouse=True)
def caches(tmp_path, monkeypatch):
    """Statistics and datasets' own Arrow cache go under the test's folder, and the Hub is never asked."""
    import huggingface_hub.constants

    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


def rows(counts=COUNTS, size=(6, 5), mode="RGB", seed=0):
    """Random images (``size`` is (width, height)) with labels 0/1/2 in a shuffled order."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation([c for c, n in enumerate(counts) for _ in range(n)]).tolist()
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    images = [Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode) for _ in labels]
    return images, labels


def hf_dataset(images, labels, **extra):
    features = {"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSES)}
    columns = {"image": images, "label": labels}
    for name, (feature, values) in extra.items():
        features[name], columns[name] = feature, values
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def in_memory(images, labels, **stats):
    pixels = torch.stack(
        [torch.from_numpy(np.array(i)).reshape(i.height, i.width, -1).permute(2, 0, 1) for i in images]
    )
    return RealDataset(pixels.float() / 255, torch.tensor(labels), classes=CLASSES, name="toy", split="train", **stats)


def saved(tmp_path, images, labels, name="saved"):
    """The dataset written with save_to_disk and read back memory-mapped."""
    hf_dataset(images, labels).save_to_disk(str(tmp_path / name))
    return datasets.load_from_disk(str(tmp_path / name))


@pytest.fixture
def decoded(monkeypatch):
    """Every row the source decodes, in order."""
    seen = []
    real = HFDatasetSource._decode

    def counting(self, cell, row):
        seen.append(row)
        return real(self, cell, row)

    monkeypatch.setattr(HFDatasetSource, "_decode", counting)
    return seen


def test_same_draws_batches_statistics_and_subsets_as_in_memory(tmp_path):
    images, labels = rows()
    lazy, memory = HFDatasetSource(saved(tmp_path, images, labels)), in_memory(images, labels)
    assert isinstance(lazy, RealSource)
    assert (lazy.classes, lazy.image_shape, lazy.class_counts(), len(lazy)) == (CLASSES, (3, 5, 6), list(COUNTS), 15)
    for classes, keep in ((None, None), ([2, 0], None), ([2, 0, 1], [1])):
        a = lazy.sample_per_class(4, generator=torch.Generator().manual_seed(3), classes=classes, keep=keep)
        b = memory.sample_per_class(4, generator=torch.Generator().manual_seed(3), classes=classes, keep=keep)
        assert torch.equal(a, b)
    generator_a, generator_b = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    for _ in range(3):  # the generators stay in step draw after draw
        assert torch.equal(
            lazy.sample_per_class(2, generator=generator_a), memory.sample_per_class(2, generator=generator_b)
        )
    assert lazy.mean == pytest.approx(memory.mean, abs=1e-6) and lazy.std == pytest.approx(memory.std, abs=1e-6)
    x = torch.rand(2, 3, 5, 6)
    assert torch.allclose(lazy.normalize(x), memory.normalize(x), atol=1e-5)
    assert torch.allclose(lazy.denormalize(lazy.normalize(x)), x, atol=1e-6)
    batch_images, batch_labels = zip(*lazy.batches(4), strict=True)
    assert [len(y) for y in batch_labels] == [4, 4, 4, 3]
    assert torch.equal(torch.cat(batch_images), memory.images) and torch.equal(torch.cat(batch_labels), memory.labels)
    subset = lazy.subset_per_class(3, generator=torch.Generator().manual_seed(0))
    reference = memory.subset_per_class(3, generator=torch.Generator().manual_seed(0))
    assert isinstance(subset, RealDataset) and torch.equal(subset.images, reference.images)
    assert subset.labels.tolist() == reference.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    image, label = lazy[7]
    assert torch.equal(image, memory.images[7]) and label == labels[7] and lazy.targets == labels
    threaded = HFDatasetSource(saved(tmp_path, images, labels), workers=2)
    assert torch.equal(threaded.sample_per_class(3, generator=torch.Generator().manual_seed(1)),
                       lazy.sample_per_class(3, generator=torch.Generator().manual_seed(1)))  # fmt: skip
    copy = pickle.loads(pickle.dumps(threaded))  # DataLoader workers
    assert torch.equal(copy.sample_per_class(2, generator=torch.Generator().manual_seed(2)),
                       memory.sample_per_class(2, generator=torch.Generator().manual_seed(2)))  # fmt: skip
    with pytest.raises(ValueError, match=r"cannot draw 5 images of class 0 \('ant'\): it has only 4"):
        lazy.sample_per_class(5, generator=torch.Generator())


def test_a_kept_class_decodes_only_its_drawn_rows(tmp_path, decoded):
    images, labels = rows()
    source = HFDatasetSource(saved(tmp_path, images, labels), image_size=(5, 6), grayscale=False,
                             mean=(0.5,) * 3, std=(0.25,) * 3)  # fmt: skip
    assert decoded == []  # shape, mode and statistics given: nothing is decoded before the first draw
    batch = source.sample_per_class(3, generator=torch.Generator().manual_seed(0), keep=[1])
    assert batch.shape == (1, 3, 3, 5, 6)
    assert len(decoded) == 3 and {labels[r] for r in decoded} == {1}


def test_statistics_are_computed_once_and_cached_by_fingerprint(tmp_path, decoded):
    images, labels = rows()
    first = HFDatasetSource(saved(tmp_path, images, labels))
    assert len(decoded) == 1 + len(labels)  # row 0 for the shape, then one pass over every row
    again = HFDatasetSource(datasets.load_from_disk(str(tmp_path / "saved")))
    assert len(decoded) == 2 + len(labels)  # only row 0 again: the statistics come from the cache
    assert (again.mean, again.std, again.fingerprint()) == (first.mean, first.std, first.fingerprint())
    assert list((tmp_path / "home" / "hf-stats").glob("*.json"))
    resized = HFDatasetSource(datasets.load_from_disk(str(tmp_path / "saved")), image_size=(4, 4))
    assert resized.fingerprint() != first.fingerprint() and resized.image_shape == (3, 4, 4)
    other = HFDatasetSource(saved(tmp_path, *rows(seed=1), name="other"))
    assert other.fingerprint() != first.fingerprint()


def test_columns_are_detected_or_named(tmp_path):
    images, labels = rows()
    extra = {"id": (datasets.Value("int64"), list(range(len(labels)))),
             "caption": (datasets.Value("string"), ["x"] * len(labels))}  # fmt: skip
    assert HFDatasetSource(hf_dataset(images, labels, **extra)).columns.image == "image"
    coarse = (datasets.ClassLabel(names=["small", "big"]), [c % 2 for c in labels])
    two = hf_dataset(images, labels, coarse=coarse)
    with pytest.raises(
        ValueError, match=r"\['label', 'coarse'\] are all ClassLabel columns; the dataset's columns are"
    ):
        HFDatasetSource(two)
    with pytest.raises(ValueError, match=r"columns are: image \(Image\), label \(ClassLabel\), coarse.*label_column="):
        HFDatasetSource(two)
    assert HFDatasetSource(two, label_column="coarse").classes == ["small", "big"]
    assert HFDatasetSource(two, label_column="coarse").class_counts() == [
        labels.count(0) + labels.count(2),
        labels.count(1),
    ]
    ints = hf_dataset(images, labels, id=extra["id"]).remove_columns("label").rename_column("id", "target")
    with pytest.raises(
        ValueError, match=r"no ClassLabel column; the dataset's columns are: image \(Image\), target \(Value int64\)"
    ):
        HFDatasetSource(ints)
    plain = HFDatasetSource(ints.map(lambda r: {"target": r["target"] % 3}), label_column="target")
    assert plain.classes == ["0", "1", "2"] and plain.class_counts() == [5, 5, 5]
    with pytest.raises(ValueError, match=r"image_column='caption' holds no images"):
        HFDatasetSource(hf_dataset(images, labels, **extra), image_column="caption")
    with pytest.raises(ValueError, match=r"no image column.*image_column="):
        HFDatasetSource(hf_dataset(images, labels).remove_columns("image").add_column("x", [0] * len(labels)))
    with pytest.raises(TypeError, match=r"pass one split of the DatasetDict, e.g. dataset\['train'\]"):
        HFDatasetSource(datasets.DatasetDict({"train": hf_dataset(images, labels)}))
    unlabelled = hf_dataset(images, [-1] * len(labels))
    with pytest.raises(ValueError, match=r"15 labels in column 'label' are not \[0, 3\).*-1 marks an unlabelled row"):
        HFDatasetSource(unlabelled)


def test_uint8_arrays_are_images_too(tmp_path):
    rng = np.random.default_rng(0)
    labels = [0, 1, 2] * 3
    colour = rng.integers(0, 256, (9, 4, 5, 3), dtype=np.uint8)
    features = datasets.Features(
        {"pixels": datasets.Array3D((4, 5, 3), "uint8"), "label": datasets.ClassLabel(names=CLASSES)}
    )
    source = HFDatasetSource(datasets.Dataset.from_dict({"pixels": list(colour), "label": labels}, features=features))
    memory = RealDataset(torch.from_numpy(colour).permute(0, 3, 1, 2).float() / 255, torch.tensor(labels),
                         classes=CLASSES, name="toy", split="train")  # fmt: skip
    assert source.image_shape == (3, 4, 5)
    assert torch.equal(source.sample_per_class(2, generator=torch.Generator().manual_seed(0)),
                       memory.sample_per_class(2, generator=torch.Generator().manual_seed(0)))  # fmt: skip
    gray = rng.integers(0, 256, (9, 4, 5), dtype=np.uint8)
    features = datasets.Features(
        {"pixels": datasets.Array2D((4, 5), "uint8"), "label": datasets.ClassLabel(names=CLASSES)}
    )
    source = HFDatasetSource(datasets.Dataset.from_dict({"pixels": list(gray), "label": labels}, features=features))
    assert source.image_shape == (1, 4, 5) and source.grayscale
    assert torch.equal(next(source.batches(9))[0], torch.from_numpy(gray).unsqueeze(1).float() / 255)


def test_grayscale_follows_the_data_unless_given_and_sizes_must_agree(tmp_path):
    gray = hf_dataset(*rows(mode="L"))
    assert HFDatasetSource(gray).image_shape == (1, 5, 6)
    assert HFDatasetSource(gray, grayscale=False).image_shape == (3, 5, 6)
    assert HFDatasetSource(hf_dataset(*rows()), grayscale=True).image_shape == (1, 5, 6)
    images, labels = rows()
    images[9] = images[9].resize((7, 7))
    with pytest.raises(ValueError, match=r"row 9 is an image of \(3, 7, 7\) but row 0 is \(3, 5, 6\).*image_size="):
        HFDatasetSource(hf_dataset(images, labels))
    resized = HFDatasetSource(hf_dataset(images, labels), image_size=(8, 8))
    assert resized.image_shape == (3, 8, 8) and next(resized.batches(20))[0].shape == (15, 3, 8, 8)


def test_holdout_takes_the_same_rows_as_in_memory(tmp_path):
    images, labels = rows()
    lazy, memory = HFDatasetSource(saved(tmp_path, images, labels)), in_memory(images, labels)
    (train, validation), (train_m, validation_m) = lazy.holdout(1, seed=0), memory.holdout(1, seed=0)
    assert isinstance(validation, HFDatasetSource) and validation.split == "validation"
    assert (validation.mean, train.classes) == (lazy.mean, CLASSES)
    assert torch.equal(next(validation.batches(10))[0], validation_m.images)
    assert torch.equal(train.sample_per_class(2, generator=torch.Generator().manual_seed(4)),
                       train_m.sample_per_class(2, generator=torch.Generator().manual_seed(4)))  # fmt: skip


def test_load_dataset_hf_from_a_saved_folder_with_its_test_split(tmp_path, caplog):
    train_rows, test_rows = rows(), rows(counts=(2, 2, 2), seed=1)
    splits = datasets.DatasetDict({"train": hf_dataset(*train_rows), "validation": hf_dataset(*test_rows)})
    splits.save_to_disk(str(tmp_path / "dd"))
    name = f"hf:{tmp_path / 'dd'}"
    train = load_dataset(name)
    with caplog.at_level(logging.INFO, logger="condensed_data.data.hf_load"):
        test = load_dataset(name, "test")
    assert "has no 'test' split; using its 'validation' split" in caplog.text
    assert isinstance(train, HFDatasetSource) and (train.name, train.split, test.split) == (name, "train", "test")
    assert (test.classes, test.mean, test.std, len(test)) == (train.classes, train.mean, train.std, 6)
    assert torch.equal(next(test.batches(6))[0], in_memory(*test_rows).images)
    hf_dataset(*train_rows).save_to_disk(str(tmp_path / "one"))  # a single Dataset: the train split alone
    assert load_dataset(f"hf:{tmp_path / 'one'}").class_counts() == list(COUNTS)
    with pytest.raises(FileNotFoundError, match=r"has no test split \(it has \['train'\]\).*--no-eval"):
        load_dataset(f"hf:{tmp_path / 'one'}", "test")


def test_load_dataset_hf_from_parquet_files_with_options(tmp_path):
    images, labels = rows()
    (tmp_path / "pq" / "data").mkdir(parents=True)
    hf_dataset(images, labels).to_parquet(str(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet"))
    hf_dataset(*rows(counts=(1, 1, 1), seed=2)).to_parquet(
        str(tmp_path / "pq" / "data" / "test-00000-of-00001.parquet")
    )
    train = load_dataset(f"hf:{tmp_path / 'pq'}?size=4x3&grayscale=true")
    test = load_dataset(f"hf:{tmp_path / 'pq'}?size=4x3&grayscale=true", "test")
    assert (train.image_shape, test.image_shape, train.classes, test.class_counts()) == (
        (1, 4, 3),
        (1, 4, 3),
        CLASSES,
        [1, 1, 1],
    )
    memory = in_memory(images, labels)
    assert torch.equal(load_dataset(f"hf:{tmp_path / 'pq'}").sample_per_class(3, generator=torch.Generator().manual_seed(0)),
                       memory.sample_per_class(3, generator=torch.Generator().manual_seed(0)))  # fmt: skip
    with pytest.raises(
        ValueError, match=r"bad option 'colour=red'.*image=\.\.\., label=\.\.\., size=\.\.\., grayscale="
    ):
        load_dataset(f"hf:{tmp_path / 'pq'}?colour=red")


def test_spec_parsing():
    assert parse_spec("mnist") == ("mnist", None, {})
    assert parse_spec("org/name:cfg?image=img&label=fine&size=8&grayscale=0") == (
        "org/name", "cfg", {"image_column": "img", "label_column": "fine", "image_size": (8, 8), "grayscale": False})  # fmt: skip
    with pytest.raises(ValueError, match=r"size='big' is not a size; use size=HxW"):
        parse_spec("mnist?size=big")


def test_a_dataset_missing_offline_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'hf:someone/not-cached' is not in the local Hugging Face datasets cache.*"
                       r"datasets.load_dataset\('someone/not-cached'\).*HF_DATASETS_OFFLINE=1"):  # fmt: skip
        load_dataset("hf:someone/not-cached")
    with pytest.raises(FileNotFoundError, match=r"does not exist; give a folder or a Hub dataset id"):
        load_dataset(f"hf:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"datasets cannot read the folder .*empty"):
        load_dataset(f"hf:{tmp_path / 'empty'}")


def test_without_datasets_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'condensed-data\[hf\]'"):
        import_datasets()


def test_cli_condenses_and_evaluates_an_hf_dataset(tmp_path, single_thread):
    splits = datasets.DatasetDict(
        {"train": hf_dataset(*rows(size=(8, 8))), "test": hf_dataset(*rows((2, 2, 2), size=(8, 8), seed=1))}
    )
    splits.save_to_disk(str(tmp_path / "data"))
    out, name = tmp_path / "set", f"hf:{tmp_path / 'data'}"
    fast = ["--eval-models", "1", "--eval-epochs", "1", "--eval-arch", "convnet-d1", "--eval-precision", "fp32"]
    code = main(["condense", "--method", "dm", "--dataset", name, "--ipc", "1", "--iterations", "2",
                 "--set", "batch_real=2", "--output", str(out), *fast])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "condensed.json").read_text())
    assert manifest["source"]["name"] == name and manifest["source"]["fingerprint"] == load_dataset(name).fingerprint()
    assert manifest["source"]["num_samples"] == 15 and manifest["evaluation"][0]["test_set"] == f"{name}/test"


def test_an_image_folder_read_through_datasets_decodes_files_by_path(tmp_path):
    from condensed_data.data import from_image_folder

    for split, (images, labels) in (("train", rows()), ("test", rows((1, 1, 1), seed=3))):
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            (tmp_path / "folder" / split / CLASSES[label]).mkdir(parents=True, exist_ok=True)
            image.save(tmp_path / "folder" / split / CLASSES[label] / f"{i:02d}.png")
    train = load_dataset(f"hf:{tmp_path / 'folder'}")
    cell = train.dataset.with_format("arrow")[:1].column("image").to_pylist()[0]
    assert cell["bytes"] is None and cell["path"].endswith(".png")  # datasets keeps local files by path
    memory = from_image_folder(tmp_path / "folder" / "train")
    assert (train.classes, train.class_counts()) == (memory.classes, memory.class_counts())
    per_class = [torch.cat([x[y == c] for x, y in train.batches(4)]).sum(0) for c in range(3)]
    assert all(torch.allclose(per_class[c], memory.images[memory.labels == c].sum(0)) for c in range(3))
    assert load_dataset(f"hf:{tmp_path / 'folder'}", "test").class_counts() == [1, 1, 1]


def test_an_unreadable_row_is_named(tmp_path):
    images, labels = rows()
    png = io.BytesIO()
    images[3].save(png, format="PNG")
    cells = [{"bytes": png.getvalue(), "path": None}] * len(labels)
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=CLASSES)})
    broken = [*cells[:3], {"bytes": b"not an image", "path": None}, *cells[4:]]
    with pytest.raises(ValueError, match=r"row 3 of column 'image' cannot be read .*dataset.filter"):
        HFDatasetSource(datasets.Dataset.from_dict({"image": broken, "label": labels}, features=features))
    truncated = [*cells[:5], {"bytes": png.getvalue()[:60], "path": None}, *cells[6:]]
    with pytest.raises(ValueError, match=r"row 5 of column 'image' cannot be decoded \(image file is truncated\)"):
        HFDatasetSource(datasets.Dataset.from_dict({"image": truncated, "label": labels}, features=features))
