"""ShardedRealSource and write_real_shards: class-bucketed shards read lazily behind the RealSource contract."""

import io
import json
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

import condensed_data.data.shards as shards_module
from condensed_data.artifact.folder import sha256_file
from condensed_data.data import (
    ImageFolderSource,
    RealDataset,
    RealSource,
    ShardedRealSource,
    from_image_folder,
    load_dataset,
    write_real_shards,
)
from condensed_data.data.shard_format import INDEX_NAME, _parse
from condensed_data.interop.webdataset import ShardError

COUNTS = (5, 7, 4)


def interleaved(seed=0, *, eight_bit=False, shape=(2, 3, 3)) -> RealDataset:
    """3 classes of 5/7/4 random images, labels shuffled (so the split's order is not class by class)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.tensor([c for c, n in enumerate(COUNTS) for _ in range(n)])
    labels = labels[torch.randperm(len(labels), generator=g)]
    images = torch.rand((len(labels), *shape), generator=g)
    if eight_bit:
        images = images.mul(255).round().div(255)
    return RealDataset(images, labels, classes=["ant", "bee", "cow"], name="toy", split="train")


def draws(source, seed, **kwargs):
    return source.sample_per_class(3, generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.fixture
def opened(monkeypatch):
    """The shard files the source parses (one reader per shard) and hashes."""
    paths = {"parsed": [], "hashed": []}

    class Recording(shards_module.ShardReader):
        def __init__(self, path, *args, **kwargs):
            paths["parsed"].append(path.name)
            super().__init__(path, *args, **kwargs)

    def hashing(path, **kwargs):
        paths["hashed"].append(path.name)
        return sha256_file(path, **kwargs)

    monkeypatch.setattr(shards_module, "ShardReader", Recording)
    monkeypatch.setattr(shards_module, "sha256_file", hashing)
    return paths


def test_npy_shards_draw_exactly_what_the_in_memory_split_draws(tmp_path):
    memory = interleaved()
    index = write_real_shards(memory, tmp_path / "train", shard_size=2)
    assert [len(s) for s in index.shards] == [3, 4, 2]  # each class spans ceil(count / 2) shards
    source = ShardedRealSource(tmp_path / "train")
    assert isinstance(source, RealSource)
    assert (source.classes, source.image_shape, source.class_counts(), len(source)) == (
        ["ant", "bee", "cow"], (2, 3, 3), list(COUNTS), sum(COUNTS))  # fmt: skip
    assert (source.mean, source.std, source.name, source.split) == (memory.mean, memory.std, "toy", "train")
    for seed in range(4):
        for kwargs in ({}, {"classes": [2, 0]}, {"classes": [2, 0, 1], "keep": [1]}):
            assert torch.equal(draws(source, seed, **kwargs), draws(memory, seed, **kwargs)), (seed, kwargs)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    source.sample_per_class(2, generator=g1, keep=[2])
    memory.sample_per_class(2, generator=g2, keep=[2])
    assert torch.equal(g1.get_state(), g2.get_state())  # the generator advanced alike
    a = source.subset_per_class(2, generator=torch.Generator().manual_seed(1))
    b = memory.subset_per_class(2, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    x = torch.rand(2, 2, 3, 3)
    assert torch.equal(source.normalize(x), memory.normalize(x)) and torch.equal(
        source.denormalize(x), memory.denormalize(x)
    )


def test_batches_go_class_by_class_in_the_split_order(tmp_path):
    memory = interleaved()
    write_real_shards(memory, tmp_path / "s", shard_size=3, batch_size=4)
    source = ShardedRealSource(tmp_path / "s")
    order = torch.argsort(memory.labels, stable=True)
    got = list(source.batches(5))
    assert [len(y) for _, y in got] == [5, 5, 5, 1]
    assert torch.equal(torch.cat([x for x, _ in got]), memory.images[order])
    assert (
        torch.equal(torch.cat([y for _, y in got]), memory.labels[order])
        and source.targets == memory.labels[order].tolist()
    )
    image, label = source[6]
    assert torch.equal(image, memory.images[order[6]]) and label == 1


def test_png_shards_are_exact_for_8_bit_images_and_within_quantization_otherwise(tmp_path):
    for eight_bit, tolerance in ((True, 0.0), (False, 1 / 510 + 1e-6)):
        memory = interleaved(eight_bit=eight_bit, shape=(3, 4, 4))
        folder = tmp_path / f"png-{eight_bit}"
        write_real_shards(memory, folder, shard_size=4, image_format="png")
        assert len(list(folder.glob("*.tar"))) == 5  # ceil(5 / 4) + ceil(7 / 4) + ceil(4 / 4)
        source = ShardedRealSource(folder)
        a, b = draws(source, 3), draws(memory, 3)
        assert (a - b).abs().max().item() <= tolerance


def test_a_lazy_folder_written_as_shards_draws_what_the_folder_draws(tmp_path):
    rng = np.random.default_rng(0)
    for c, count in zip(("ant", "bee"), (4, 6), strict=True):
        (tmp_path / "img" / c).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).save(tmp_path / "img" / c / f"{i}.png")
    lazy = ImageFolderSource(tmp_path / "img", cache="none")
    write_real_shards(lazy, tmp_path / "shards", shard_size=4, image_format="png", batch_size=3)
    source, memory = ShardedRealSource(tmp_path / "shards"), from_image_folder(tmp_path / "img")
    assert torch.equal(draws(source, 7), draws(memory, 7))
    assert ShardedRealSource(tmp_path / "shards").index.source_fingerprint == lazy.fingerprint()


def test_a_class_restricted_draw_opens_only_that_classs_shards(tmp_path, opened):
    write_real_shards(interleaved(), tmp_path / "s", shard_size=2)
    source = ShardedRealSource(tmp_path / "s")
    assert opened == {"parsed": [], "hashed": []}  # nothing is read before the first draw
    batch = source.sample_per_class(4, generator=torch.Generator().manual_seed(0), keep=[1])
    assert batch.shape == (1, 4, 2, 3, 3)
    assert opened["parsed"] and {name[:3] for name in opened["parsed"]} == {"c01"}
    assert sorted(opened["hashed"]) == sorted(opened["parsed"])  # verify= hashes a shard once, when first opened
    source.sample_per_class(4, generator=torch.Generator().manual_seed(1), keep=[1])
    assert (
        len(opened["hashed"]) == len(set(opened["hashed"])) and not source._readers[next(iter(source._readers))]._file
    )


def test_a_class_sharded_dm_process_reads_only_its_classes(tmp_path, opened, single_thread):
    from condensed_data_plugins.dm import DM

    from condensed_data.seeding import make_generator

    write_real_shards(interleaved(shape=(3, 16, 16)), tmp_path / "s", shard_size=2)
    source = ShardedRealSource(tmp_path / "s")
    method = DM(source, ipc=1, config=DM.config_class.from_dict({"batch_real": 3}), generator=make_generator(0))
    method.shard(2, 3)  # the third of three processes owns class "cow"
    opened["parsed"].clear()
    source._readers.clear()  # forget the shards the initial draw parsed
    method.loss(iteration=0, generator=make_generator(1)).backward()
    assert opened["parsed"] and {name[:3] for name in opened["parsed"]} == {"c02"}


def test_writing_is_atomic_deterministic_and_gives_plain_tars(tmp_path):
    memory = interleaved()
    a = write_real_shards(memory, tmp_path / "a", shard_size=3)
    b = write_real_shards(memory, tmp_path / "b", shard_size=3, batch_size=2)
    assert a == b and a.fingerprint == ShardedRealSource(tmp_path / "b").fingerprint()
    assert all(
        (tmp_path / "a" / s.file).read_bytes() == (tmp_path / "b" / s.file).read_bytes() for c in a.shards for s in c
    )
    with pytest.raises(FileExistsError, match="overwrite"):
        write_real_shards(memory, tmp_path / "a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary folder left behind
    first = tmp_path / "a" / a.shards[0][0].file
    with tarfile.open(first) as tar:  # tarfile itself writes the very same bytes from the members
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    keys = memory.indices_of(0)[:3].tolist()  # the first images of class 0, named by their place in the split
    assert [m.name for m, _ in members] == [f"{k:06d}.{e}" for k in keys for e in ("npy", "cls")]
    again = io.BytesIO()
    with tarfile.open(fileobj=again, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            tar.addfile(m, io.BytesIO(data))
    assert again.getvalue() == first.read_bytes()
    other = write_real_shards(interleaved(seed=1), tmp_path / "a", shard_size=3, overwrite=True)
    assert other.fingerprint != a.fingerprint


def test_by_name_train_and_test_splits(tmp_path):
    train, test = interleaved(), interleaved(seed=2)
    test.split = "test"
    write_real_shards(train, tmp_path / "data" / "train", shard_size=4)
    write_real_shards(test, tmp_path / "data" / "test", shard_size=4)
    name = f"shards:{tmp_path / 'data'}"
    got_train, got_test = load_dataset(name), load_dataset(name, "test")
    assert (got_train.name, got_train.split, got_test.split) == (name, "train", "test")
    assert got_test.mean == train.mean and got_test.std == train.std  # the train split's statistics
    assert torch.equal(draws(got_test, 0), draws(test, 0))
    alone = load_dataset(f"shards:{tmp_path / 'data' / 'train'}")
    assert alone.class_counts() == list(COUNTS)
    with pytest.raises(FileNotFoundError, match="no test split"):
        load_dataset(f"shards:{tmp_path / 'data' / 'train'}", "test")
    with pytest.raises(FileNotFoundError, match="write_real_shards"):
        load_dataset(f"shards:{tmp_path / 'nothing'}")


def test_whole_split_features_name_the_alternative(tmp_path):
    write_real_shards(interleaved(), tmp_path / "s")
    with pytest.raises(ValueError, match="before writing the shards"):
        ShardedRealSource(tmp_path / "s").holdout(1)


# -- bad input --------------------------------------------------------------------------------------------------


def rewrite_index(folder, change=lambda data: None) -> None:
    """Apply ``change`` to the index, then re-record sizes, checksums, counts and fingerprint (a careful forger)."""
    path = folder / INDEX_NAME
    data = json.loads(path.read_text())
    change(data)
    for shards in data["shards"]:
        for s in shards:
            s["size"], s["sha256"] = (folder / s["file"]).stat().st_size, sha256_file(folder / s["file"])
    data["counts"] = [sum(s["samples"] for s in shards) for shards in data["shards"]]
    data["samples"] = sum(data["counts"])
    data["fingerprint"] = _parse(data).fingerprint
    path.write_text(json.dumps(data))


@pytest.fixture
def written(tmp_path):
    write_real_shards(interleaved(), tmp_path / "s", shard_size=3)
    return tmp_path / "s"


def add_member(shard, name: str, data: bytes = b"x") -> None:
    with tarfile.open(shard, "a", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def draw_all(folder):
    ShardedRealSource(folder).sample_per_class(4, generator=torch.Generator().manual_seed(0))


def test_a_missing_or_corrupt_index_names_the_file_and_the_fix(written):
    index = written / INDEX_NAME
    text = index.read_text()
    index.write_text(text.replace('"counts": [\n  5,', '"counts": [\n  6,'))
    with pytest.raises(ShardError, match=r"'counts' \[6, 7, 4\] disagree with the shards' samples \[5, 7, 4\]") as info:
        ShardedRealSource(written)
    assert str(index) in str(info.value) and "write_real_shards" in str(info.value)
    data = json.loads(text)
    data["shards"][0][0]["sha256"] = "sha256:" + "0" * 64  # an edited checksum no longer matches the fingerprint
    index.write_text(json.dumps(data))
    with pytest.raises(ShardError, match="'fingerprint' .* does not match the index's content"):
        ShardedRealSource(written)
    index.write_text(text[:50])
    with pytest.raises(ShardError, match="not a valid shard index"):
        ShardedRealSource(written)
    index.unlink()
    with pytest.raises(FileNotFoundError, match=INDEX_NAME):
        ShardedRealSource(written)


def test_a_missing_changed_or_miscounted_shard_is_named(written):
    shard = written / "c01-00001.tar"
    data = bytearray(shard.read_bytes())
    data[700] ^= 0xFF  # inside the first image's data: same size, other bytes
    shard.write_bytes(bytes(data))
    with pytest.raises(ShardError, match="c01-00001.tar does not match the sha256"):
        draw_all(written)
    ShardedRealSource(written, verify=False).sample_per_class(4, generator=torch.Generator().manual_seed(0), keep=[0])
    shard.write_bytes(bytes(data[:-512]))
    with pytest.raises(ShardError, match="c01-00001.tar has .* bytes, but the index records"):
        draw_all(written)
    shard.unlink()
    with pytest.raises(ShardError, match="c01-00001.tar is missing .* write the shards again"):
        draw_all(written)


def test_an_index_whose_counts_disagree_with_the_shards_is_an_error(written):
    def more(data):
        data["shards"][0][0]["samples"] = 4  # the shard holds 3

    rewrite_index(written, more)
    with pytest.raises(ShardError, match="c00-00000.tar holds 3 samples, but its index records 4"):
        draw_all(written)


@pytest.mark.parametrize("member, message", [("000099.pkl", "pickle-family"), ("000099.pth", "pickle-family"),
                                             ("000099.txt", "unknown extension")])  # fmt: skip
def test_a_pickle_or_foreign_member_is_refused_unread(written, member, message):
    add_member(written / "c02-00000.tar", member)
    rewrite_index(written)
    with pytest.raises(ShardError, match=message) as info:
        draw_all(written)
    assert member in str(info.value) and "c02-00000.tar" in str(info.value)


def test_an_image_of_another_class_is_an_error(written):
    shard = written / "c00-00000.tar"
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            data = b"2" if m.name.endswith(".cls") else data
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))
    rewrite_index(written)
    with pytest.raises(ShardError, match="has label 2, but this shard holds class 0"):
        draw_all(written)


def test_writer_refuses_bad_options(tmp_path):
    with pytest.raises(ValueError, match="image_format"):
        write_real_shards(interleaved(), tmp_path / "x", image_format="jpg")
    with pytest.raises(ValueError, match="PNG holds 1, 3 or 4 channels"):
        write_real_shards(interleaved(), tmp_path / "x", image_format="png")
    assert not (tmp_path / "x").exists()


def test_cli_condense_and_evaluate_from_shards(tmp_path, single_thread):
    from condensed_data.cli import main

    train, test = interleaved(shape=(3, 16, 16)), interleaved(seed=2, shape=(3, 16, 16))
    write_real_shards(train, tmp_path / "data" / "train", shard_size=4)
    write_real_shards(test, tmp_path / "data" / "test", shard_size=4)
    out, name = tmp_path / "set", f"shards:{tmp_path / 'data'}"
    fast = ["--eval-models", "1", "--eval-epochs", "1", "--eval-arch", "convnet-d1", "--eval-precision", "fp32"]
    code = main(["condense", "--method", "dm", "--dataset", name, "--ipc", "1", "--iterations", "2",
                 "--set", "batch_real=3", "--output", str(out), *fast])  # fmt: skip
    assert code == 0
    manifest = json.loads((out / "condensed.json").read_text())
    assert manifest["source"]["name"] == name and manifest["source"]["fingerprint"] == load_dataset(name).fingerprint()
    assert manifest["source"]["num_samples"] == sum(COUNTS) and manifest["evaluation"][0]["test_set"] == f"{name}/test"
