"""ImageFolderSource: an image folder read lazily behind the RealSource contract."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import condensed_data.condense.driver as driver
import condensed_data.data.folder as folder_module
import condensed_data.data.folder_index as index_module
from condensed_data.cli import main
from condensed_data.condense.driver import CondensationError, CondenseConfig, condense
from condensed_data.data import ImageFolderSource, RealSource, from_image_folder, load_dataset
from condensed_data.data.folder_index import INDEX_FILE
from condensed_data.evaluate import EvalConfig

CLASSES = ("ant", "bee", "cow")


def write_folder(root, per_class=6, size=(16, 16), seed=0, classes=CLASSES):
    """3 classes x ``per_class`` random RGB PNGs of ``size`` (width, height) under ``root/<class>/``."""
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f"{i:02d}.png")
    return root


@pytest.fixture
def opened(monkeypatch):
    """Every file the folder source decodes, in order."""
    paths = []
    real_read = folder_module.read_image

    def counting(path, **kwargs):
        paths.append(path)
        return real_read(path, **kwargs)

    monkeypatch.setattr(folder_module, "read_image", counting)
    return paths


def test_same_draws_batches_and_statistics_as_in_memory(tmp_path):
    root = write_folder(tmp_path / "train")
    lazy, memory = ImageFolderSource(root, cache="none"), from_image_folder(root)
    assert isinstance(lazy, RealSource) and isinstance(memory, RealSource)
    assert (lazy.classes, lazy.image_shape, lazy.class_counts(), len(lazy)) == (list(CLASSES), (3, 16, 16), [6] * 3, 18)
    for keep in (None, [1]):
        a = lazy.sample_per_class(4, generator=torch.Generator().manual_seed(3), classes=[2, 0], keep=keep)
        b = memory.sample_per_class(4, generator=torch.Generator().manual_seed(3), classes=[2, 0], keep=keep)
        assert torch.equal(a, b)
    assert lazy.mean == pytest.approx(memory.mean, abs=1e-6) and lazy.std == pytest.approx(memory.std, abs=1e-6)
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(lazy.normalize(x), memory.normalize(x), atol=1e-5)
    assert torch.allclose(lazy.denormalize(lazy.normalize(x)), x, atol=1e-6)
    images, labels = zip(*lazy.batches(5), strict=True)
    assert [len(y) for y in labels] == [5, 5, 5, 3]
    assert torch.equal(torch.cat(images), memory.images) and torch.equal(torch.cat(labels), memory.labels)
    subset = lazy.subset_per_class(2, generator=torch.Generator().manual_seed(0))
    reference = memory.subset_per_class(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(subset.images, reference.images) and subset.labels.tolist() == [0, 0, 1, 1, 2, 2]
    threaded = ImageFolderSource(root, workers=2, cache="none")
    assert torch.equal(threaded.sample_per_class(3, generator=torch.Generator().manual_seed(1)),
                       lazy.sample_per_class(3, generator=torch.Generator().manual_seed(1)))  # fmt: skip


def test_a_class_restricted_draw_opens_only_that_class(tmp_path, opened):
    source = ImageFolderSource(write_folder(tmp_path), mean=(0.5,) * 3, std=(0.25,) * 3, cache="none")
    assert opened == []  # statistics given: nothing is decoded before the first draw
    batch = source.sample_per_class(4, generator=torch.Generator().manual_seed(0), keep=[1])
    assert batch.shape == (1, 4, 3, 16, 16)
    assert len(opened) == 4 and {p.parent.name for p in opened} == {"bee"}


def test_a_class_sharded_dm_process_reads_only_its_classes(tmp_path, opened, single_thread):
    from condensed_data_plugins.dm import DM

    from condensed_data.seeding import make_generator

    source = ImageFolderSource(write_folder(tmp_path), mean=(0.5,) * 3, std=(0.25,) * 3, cache="none")
    method = DM(source, ipc=1, config=DM.config_class.from_dict({"batch_real": 4}), generator=make_generator(0))
    method.shard(2, 3)  # the third of three processes owns class "cow"
    method.real_batches.prefetch = False  # count this iteration's reads only (reading ahead: test_real_batches.py)
    opened.clear()  # the initial draw (ipc images of each class) is behind us
    method.loss(iteration=0, generator=make_generator(1)).backward()
    assert len(opened) == 4 and {p.parent.name for p in opened} == {"cow"}


def test_uint8_cache_reads_each_file_once(tmp_path, opened):
    source = ImageFolderSource(write_folder(tmp_path), mean=(0.5,) * 3, std=(0.25,) * 3, cache="all")
    first = source.sample_per_class(6, generator=torch.Generator().manual_seed(0))
    again = source.sample_per_class(6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again) and len(opened) == 18
    auto = ImageFolderSource(tmp_path, mean=(0.5,) * 3, std=(0.25,) * 3, cache="auto", cache_bytes=100)
    auto.sample_per_class(1, generator=torch.Generator().manual_seed(0))
    auto.sample_per_class(1, generator=torch.Generator().manual_seed(0))
    assert len(opened) == 18 + 6  # over budget: no cache
    computed = ImageFolderSource(tmp_path, cache="all")  # the statistics pass decodes all, and caches none of it
    computed.sample_per_class(6, generator=torch.Generator().manual_seed(0))
    assert len(opened) == 24 + 18 + 18
    with pytest.raises(ValueError, match="cache must be one of"):
        ImageFolderSource(tmp_path, cache="some")


def test_preload_decodes_only_the_given_classes_once(tmp_path, opened):
    source = ImageFolderSource(write_folder(tmp_path), mean=(0.5,) * 3, std=(0.25,) * 3, cache="all")
    source.preload([1])
    assert sorted({p.parent.name for p in opened}) == ["bee"] and len(opened) == 6
    source.sample_per_class(6, generator=torch.Generator().manual_seed(0), keep=[1])
    assert len(opened) == 6  # served from the cache
    uncached = ImageFolderSource(tmp_path, mean=(0.5,) * 3, std=(0.25,) * 3, cache="none")
    with pytest.raises(ValueError, match="preload needs the in-memory cache.*cache='all'"):
        uncached.preload()


def test_index_and_statistics_are_cached_and_invalidated_by_the_listing(tmp_path, monkeypatch, opened):
    root = write_folder(tmp_path)
    first = ImageFolderSource(root)
    assert (root / INDEX_FILE).is_file() and len(opened) == 18  # the statistics pass decoded every image
    checked = []
    real_check = index_module._check_file
    monkeypatch.setattr(index_module, "_check_file", lambda p: checked.append(p) or real_check(p))
    again = ImageFolderSource(root)
    assert checked == [] and len(opened) == 18  # index and statistics from the cache
    assert again.fingerprint() == first.fingerprint() and again.mean == first.mean
    Image.new("RGB", (16, 16)).save(root / "ant" / "new.png")
    changed = ImageFolderSource(root)
    assert len(checked) == 19 and changed.class_counts() == [7, 6, 6]
    assert changed.fingerprint() != first.fingerprint() and changed.mean != first.mean


def test_read_only_folder_caches_its_index_in_the_data_home(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "data")
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path / "home"))
    write_text = Path.write_text

    def read_only(self, *args, **kwargs):  # the data folder refuses writes, as a read-only mount would (even for root)
        if self.parent == root.resolve() or self.parent == root:
            raise PermissionError(13, "Read-only file system", str(self))
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", read_only)
    ImageFolderSource(root)
    assert not (root / INDEX_FILE).exists()
    [cached] = (tmp_path / "home" / "folder-index").iterdir()
    assert json.loads(cached.read_text())["root"] == str(root.resolve())


def test_bad_files_fail_with_the_path_and_count_or_are_skipped(tmp_path):
    root = write_folder(tmp_path)
    good = (root / "bee" / "00.png").read_bytes()
    (root / "bee" / "00.png").write_bytes(good[: len(good) // 2])  # truncated
    (root / "cow" / "03.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"2 unreadable image file\(s\).*bee/00\.png.*on_error='skip'"):
        ImageFolderSource(root)
    skipped = ImageFolderSource(root, on_error="skip")
    assert skipped.class_counts() == [6, 5, 5]
    assert skipped.sample_per_class(5, generator=torch.Generator().manual_seed(0)).shape == (3, 5, 3, 16, 16)


def test_empty_class_mixed_sizes_and_missing_test_class_are_named(tmp_path):
    root = write_folder(tmp_path / "a")
    (root / "dog").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*dog has no readable images"):
        ImageFolderSource(root)
    mixed = write_folder(tmp_path / "b")
    Image.new("RGB", (8, 12)).save(mixed / "cow" / "big.png")
    with pytest.raises(ValueError, match=r"different sizes \(.*png is \d+x\d+, .*png is \d+x\d+\).*image_size="):
        ImageFolderSource(mixed)
    assert ImageFolderSource(mixed, image_size=(8, 8)).image_shape == (3, 8, 8)
    with pytest.raises(ValueError, match=r"missing \['cow'\]"):
        ImageFolderSource(write_folder(tmp_path / "c", classes=("ant", "bee")), classes=CLASSES)


def test_a_file_changed_during_the_run_is_an_error(tmp_path):
    source = ImageFolderSource(write_folder(tmp_path), cache="none")
    (tmp_path / "ant" / "00.png").unlink()
    with pytest.raises(RuntimeError, match=r"ant/00\.png changed after .* indexed \(removed\)"):
        source.sample_per_class(6, generator=torch.Generator().manual_seed(0))


def test_by_name_train_and_test_splits(tmp_path):
    write_folder(tmp_path / "train")
    write_folder(tmp_path / "val", per_class=2, seed=1)
    train = load_dataset(f"folder:{tmp_path}", "train")
    test = load_dataset(f"folder:{tmp_path}", "test")  # falls back to val/
    assert isinstance(train, ImageFolderSource) and train.name == f"folder:{tmp_path}"
    assert test.classes == train.classes and len(test) == 6 and test.mean == train.mean
    alone = write_folder(tmp_path / "alone")
    assert load_dataset(f"folder:{alone}").class_counts() == [6, 6, 6]
    with pytest.raises(FileNotFoundError, match="no test split"):
        load_dataset(f"folder:{alone}", "test")


def test_reading_options_ride_in_the_dataset_name(tmp_path):
    write_folder(tmp_path / "train", size=(16, 16))
    write_folder(tmp_path / "test", per_class=2, size=(12, 10), seed=1)  # another size: resized on reading
    spec = f"folder:{tmp_path}?size=8x6&grayscale=true&workers=2&cache=none"
    train, test = load_dataset(spec, "train"), load_dataset(spec, "test")
    assert train.image_shape == test.image_shape == (1, 8, 6) and train.workers == 2 and train.name == spec
    assert test.sample_per_class(2, generator=torch.Generator().manual_seed(0)).shape == (3, 2, 1, 8, 6)
    with pytest.raises(ValueError, match=r"bad option 'colour=1'.*size=\.\.\., grayscale=\.\.\."):
        load_dataset(f"folder:{tmp_path}?colour=1")
    with pytest.raises(ValueError, match="cache='most': use one of cache=auto, cache=none, cache=all"):
        load_dataset(f"folder:{tmp_path}?cache=most")
    with pytest.raises(ValueError, match="size='big' is not a size; use size=HxW"):
        load_dataset(f"folder:{tmp_path}?size=big")


def test_whole_split_features_name_the_alternative(tmp_path):
    source = ImageFolderSource(write_folder(tmp_path))
    cfg = CondenseConfig(method="dm", dataset="x", ipc=1, iterations=1, evaluate=False, options={"init": "medoids"})
    with pytest.raises(ValueError, match=r"init='medoids' needs the whole training split in memory.*init='real'"):
        condense(cfg, tmp_path / "out", real=source, progress=False)
    with pytest.raises(ValueError, match="validation hold-out"):
        source.holdout(1)


def test_cli_condense_and_evaluate_a_folder(tmp_path, single_thread):
    write_folder(tmp_path / "data" / "train")
    write_folder(tmp_path / "data" / "test", per_class=2, seed=1)
    out, name = tmp_path / "set", f"folder:{tmp_path / 'data'}"
    fast = ["--eval-models", "1", "--eval-epochs", "1", "--eval-arch", "convnet-d1", "--eval-precision", "fp32"]
    code = main(["condense", "--method", "dm", "--dataset", name, "--ipc", "1", "--iterations", "2",
                 "--set", "batch_real=4", "--output", str(out), *fast])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "condensed.json").read_text())
    train = load_dataset(name)
    assert manifest["source"]["name"] == name and manifest["source"]["fingerprint"] == train.fingerprint()
    assert manifest["source"]["num_samples"] == 18 and manifest["evaluation"][0]["test_set"] == f"{name}/test"
    assert main(["evaluate", str(out), *fast]) == 0


def test_resume_is_refused_when_the_folder_changed(tmp_path, monkeypatch, single_thread):
    root = write_folder(tmp_path / "data")
    cfg = CondenseConfig(method="dm", dataset="x", ipc=1, iterations=2, evaluate=False, options={"batch_real": 4})
    with monkeypatch.context() as m:
        m.setattr(driver, "save_artifact", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            condense(cfg, tmp_path / "out", real=ImageFolderSource(root), progress=False)
    Image.new("RGB", (16, 16)).save(root / "ant" / "new.png")
    with pytest.raises(CondensationError, match="the dataset's files changed since"):
        condense(cfg, tmp_path / "out", real=ImageFolderSource(root), progress=False, resume=True)


def test_evaluation_on_a_folder_test_split_matches_in_memory(tmp_path):
    from condensed_data.evaluate import evaluate

    root = write_folder(tmp_path)
    cfg = EvalConfig(arch="convnet-d1", epochs=2, models=1, augmentation="none", precision="fp32", test_batch_size=4)
    images, labels = torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(0)), torch.arange(3).repeat(2)
    [lazy] = evaluate(images, labels, ImageFolderSource(root, split="test"), config=cfg)
    [memory] = evaluate(images, labels, from_image_folder(root, split="test"), config=cfg)
    assert lazy.accuracy_mean == pytest.approx(memory.accuracy_mean, abs=1e-9) and lazy.test_set.endswith("/test")
