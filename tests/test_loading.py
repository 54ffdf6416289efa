"""Webdataset shards (export, streaming, splitting, refusal of unsafe members) and resumable loading (torchdata)."""

from __future__ import annotations

import io
import json
import shutil
import sys
import tarfile
from types import SimpleNamespace

import pytest
import torch
from helpers import make_artifact, require, tiny_tensors

from condensed_data import CondensedDataset, CondensedIterableDataset
from condensed_data.artifact.folder import ArtifactError, read_manifest, sha256_file, write_manifest
from condensed_data.artifact.manifest import FileEntry
from condensed_data.cli import main
from condensed_data.interop.export import export_webdataset
from condensed_data.interop.webdataset import ShardError

wds = require("webdataset")
require("torchdata")

from condensed_data.dataset.resumable import EpochSampler, stateful_loader  # noqa: E402

CLASSES, IPC = 3, 9  # 27 samples; shard size 4 -> 7 shards, divisible by none of the consumer counts below


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("sets")
    make_artifact(root / "tensors", classes=CLASSES, ipc=IPC)
    export_webdataset(root / "tensors", root / "npy", shard_size=4)
    export_webdataset(root / "tensors", root / "png", shard_size=4, image_format="png")
    return SimpleNamespace(root=root, tensors=root / "tensors", npy=root / "npy", png=root / "png")


def keys_of(items) -> list[int]:
    """Identify streamed samples by their image (every tiny random image is distinct)."""
    images, _ = tiny_tensors(classes=CLASSES, ipc=IPC)
    return [int((images == image).flatten(1).all(1).nonzero()) for image, _ in items]


# -- export and round trip ------------------------------------------------------------------------------------


def test_npy_shards_round_trip_exactly(sets):
    images, labels = tiny_tensors(classes=CLASSES, ipc=IPC)
    ds = CondensedDataset(sets.npy)  # map-style over the shards, in the original order
    got_images, got_labels = ds.tensors()
    assert torch.equal(got_images, images) and torch.equal(got_labels, labels)
    m = read_manifest(sets.npy)
    shards = sorted(name for name in m.files if name.endswith(".tar"))
    assert m.kind == "webdataset" and shards == [f"data/train-{i:06d}.tar" for i in range(7)]
    assert all(m.files[name].sha256 == sha256_file(sets.npy / name) for name in shards)
    streamed = list(CondensedIterableDataset(sets.npy, shuffle=True, seed=3))
    order = keys_of(streamed)
    assert sorted(order) == list(range(len(images)))
    assert all(
        torch.equal(image, images[k]) and label == int(labels[k])
        for (image, label), k in zip(streamed, order, strict=True)
    )


def test_plain_webdataset_reads_the_shards(sets):
    images, labels = tiny_tensors(classes=CLASSES, ipc=IPC)
    urls = sorted(str(p) for p in (sets.npy / "data").glob("train-*.tar"))
    samples = list(wds.WebDataset(urls, shardshuffle=False).decode())
    assert len(samples) == len(images)
    for s in samples:
        i = int(s["__key__"])
        assert len(s["__key__"]) == 6 and s["json"]["index"] == i and s["json"]["class"] == f"c{s['cls']}"
        assert torch.equal(torch.from_numpy(s["npy"]), images[i]) and s["cls"] == int(labels[i])
    with tarfile.open(urls[0]) as tar:  # deterministic headers, and nothing but the three members per sample
        assert {m.name.split(".", 1)[1] for m in tar.getmembers()} == {"npy", "cls", "json"}
        assert {m.mtime for m in tar.getmembers()} == {0}


def test_png_shards_round_trip_within_8_bit_quantization(sets):
    images, labels = tiny_tensors(classes=CLASSES, ipc=IPC)
    got_images, got_labels = CondensedDataset(sets.png).tensors()
    assert torch.equal(got_labels, labels)
    assert (got_images - images).abs().max() <= 1 / 510 + 1e-6
    assert not torch.equal(got_images, images)
    assert read_manifest(sets.png).value_space.clamped
    urls = sorted(str(p) for p in (sets.png / "data").glob("*.tar"))
    sample = next(iter(wds.WebDataset(urls, shardshuffle=False).decode("torchrgb8")))
    assert sample["png"].dtype == torch.uint8


def test_the_same_data_gives_byte_identical_shards(sets, tmp_path):
    m = export_webdataset(sets.tensors, tmp_path / "again", shard_size=4)
    assert m.files == read_manifest(sets.npy).files


def test_export_refuses_soft_labels_and_an_existing_output(sets, tmp_path):
    make_artifact(tmp_path / "soft", labels=torch.full((6, 3), 1 / 3), label_kind="soft")
    with pytest.raises(ValueError, match="soft labels"):
        export_webdataset(tmp_path / "soft", tmp_path / "out", shard_size=2)
    with pytest.raises(FileExistsError, match="overwrite"):
        export_webdataset(sets.tensors, sets.npy, shard_size=4)


def test_cli_export(sets, tmp_path, capsys):
    src = tmp_path / "set"
    shutil.copytree(sets.tensors, src)
    assert main(["export", str(src), "--to", "webdataset", "--shard-size", "10"]) == 0
    out = tmp_path / "set-webdataset"
    assert "3 shards" in capsys.readouterr().out and read_manifest(out).kind == "webdataset"
    assert main(["export", str(src), "--to", "webdataset", "--shard-size", "10"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    args = ["export", str(src), "--to", "webdataset", "--shard-size", "5", "--format", "png", "-o", str(out)]
    assert main([*args, "--overwrite"]) == 0
    assert len(CondensedIterableDataset(out)) == CLASSES * IPC
    assert not list(tmp_path.glob(".*tmp*"))  # the temporary folder was renamed into place


# -- unsafe or foreign shards ---------------------------------------------------------------------------------


def tamper(folder, member: str, data: bytes = b"x") -> None:
    """Add ``member`` to the first shard and re-record its checksum, as a malicious publisher would."""
    name = "data/train-000000.tar"
    with tarfile.open(folder / name, "a") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    m = read_manifest(folder)
    files = {**m.files, name: FileEntry(sha256=sha256_file(folder / name), size=(folder / name).stat().st_size)}
    write_manifest(folder, m.replace(files=files))


@pytest.mark.parametrize(
    "member, message",
    [
        ("000000.pth", "pickle-family file"),
        ("000000.pkl", "pickle-family file"),
        ("000099.pickle", "pickle-family file"),
        ("000000.txt", "unknown extension .txt"),
    ],
)
def test_pickle_and_unknown_members_are_refused(sets, tmp_path, member, message):
    folder = tmp_path / "evil"
    shutil.copytree(sets.npy, folder)
    tamper(folder, member)
    with pytest.raises(ShardError, match=message) as info:
        list(CondensedIterableDataset(folder))
    assert member in str(info.value) and "export" in str(info.value)
    with pytest.raises(ShardError, match=message):
        CondensedDataset(folder)


def test_a_modified_shard_fails_its_checksum(sets, tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(sets.npy, folder)
    with open(folder / "data/train-000003.tar", "r+b") as fh:
        fh.seek(1024)
        fh.write(b"\x01")
    with pytest.raises(ArtifactError, match="sha256"):
        CondensedIterableDataset(folder)


def test_streaming_a_tensors_artifact_says_how_to_shard_it(sets):
    with pytest.raises(ArtifactError, match="--to webdataset"):
        CondensedIterableDataset(sets.tensors)


# -- splitting across ranks and workers -----------------------------------------------------------------------


def test_every_consumer_split_covers_each_sample_once(sets):
    ds = CondensedIterableDataset(sets.npy, shuffle=True, seed=5)
    for consumers in range(1, 10):
        seen = []
        for c in range(consumers):
            for number, positions in ds.plan(c, consumers, epoch=2):
                seen += [ds.index.key(number, p) for p in positions.tolist()]
        assert sorted(seen) == list(range(CLASSES * IPC)), consumers


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_ranks_and_workers_together_read_each_sample_once(sets, workers):
    total = CLASSES * IPC
    for world in (1, 2, 3):
        seen = []
        for rank in range(world):
            ds = CondensedIterableDataset(sets.npy, shuffle=True, seed=1, rank=rank, world_size=world)
            ds.set_epoch(4)
            loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers)
            got = [k for images, labels in loader for k in keys_of(zip(images, labels, strict=True))]
            assert len(got) == len(ds) and abs(len(ds) - total / world) < 1
            seen += got
        assert sorted(seen) == list(range(total)), (world, workers)


@pytest.mark.parametrize("workers", [0, 2])
def test_even_shares_give_every_rank_the_same_batches_for_ddp(sets, workers):
    total = CLASSES * IPC  # 27: 2 and 4 ranks do not divide it
    for world in (2, 4):
        seen, batches = [], set()
        for rank in range(world):
            ds = CondensedIterableDataset(sets.npy, shuffle=True, seed=1, rank=rank, world_size=world, even_shares=True)
            ds.set_epoch(3)
            loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=workers)
            got = [keys_of(zip(images, labels, strict=True)) for images, labels in loader]
            batches.add(len(got))
            assert len(ds) == total // world == sum(map(len, got))
            seen += sum(got, [])
        assert len(batches) == 1, (world, workers, batches)  # every rank runs the same number of steps
        assert len(set(seen)) == len(seen) == total - total % world


def test_epoch_sampler_even_shares():
    shares = [list(EpochSampler(10, shuffle=True, seed=2, rank=r, world_size=3, even_shares=True)) for r in range(3)]
    flat = sum(shares, [])
    assert [len(s) for s in shares] == [3, 3, 3] and len(set(flat)) == 9
    loader = stateful_loader(list(range(10)), batch_size=2, rank=2, world_size=3, even_shares=True)
    assert len(list(loader)) == 2


def test_epochs_reshuffle_deterministically_and_transforms_apply(sets):
    def order(epoch, seed=0):
        ds = CondensedIterableDataset(sets.npy, shuffle=True, seed=seed, target_transform=lambda y: y + 100)
        ds.set_epoch(epoch)
        items = list(ds)
        assert all(label >= 100 for _, label in items)
        return keys_of(items)

    assert order(1) == order(1) and order(1) != order(2) and order(1) != order(1, seed=1)
    plain = CondensedIterableDataset(sets.npy, transform=lambda x: x * 0)
    assert all(float(image.abs().sum()) == 0 for image, _ in plain)
    with pytest.raises(ValueError, match="both rank= and world_size="):
        CondensedIterableDataset(sets.npy, rank=1)


# -- resumable loading ----------------------------------------------------------------------------------------


def batches(loader, stop: int | None = None) -> list[list[int]]:
    out = []
    for images, labels in loader:
        out.append(keys_of(zip(images, labels, strict=True)))
        if stop is not None and len(out) == stop:
            break
    return out


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("kind", ["map", "iterable"])
def test_resume_mid_epoch_continues_with_the_unseen_batches(sets, kind, workers):
    def make():
        if kind == "map":
            return stateful_loader(CondensedDataset(sets.npy), batch_size=4, shuffle=True, seed=7, num_workers=workers)
        ds = CondensedIterableDataset(sets.npy, shuffle=True, seed=7)
        return stateful_loader(ds, batch_size=4, num_workers=workers)

    full = make()
    full.set_epoch(1)
    expected = batches(full)
    assert sorted(k for b in expected for k in b) == list(range(CLASSES * IPC))

    first = make()
    first.set_epoch(1)
    seen = batches(first, stop=3)
    state = first.state_dict()
    del first  # the job stops

    resumed = make()
    resumed.load_state_dict(state)
    resumed.set_epoch(1)
    assert seen + batches(resumed) == expected
    resumed.set_epoch(2)  # the following epoch is a whole, new one
    again = batches(resumed)
    assert sorted(k for b in again for k in b) == list(range(CLASSES * IPC)) and again != expected


def test_epoch_sampler_splits_ranks_without_repeats():
    shares = [list(EpochSampler(10, shuffle=True, seed=2, rank=r, world_size=3)) for r in range(3)]
    assert sorted(sum(shares, [])) == list(range(10)) and [len(s) for s in shares] == [3, 3, 4]


def test_stateful_loader_refuses_options_that_belong_to_the_iterable_dataset(sets):
    ds = CondensedIterableDataset(sets.npy, shuffle=False)
    with pytest.raises(ValueError, match="CondensedIterableDataset"):
        stateful_loader(ds, batch_size=2, shuffle=True)


def test_missing_torchdata_names_the_extra(sets, monkeypatch):
    from condensed_data.dataset import resumable as loading

    loading._loader_class.cache_clear()
    monkeypatch.setitem(sys.modules, "torchdata.stateful_dataloader", None)
    try:
        with pytest.raises(ImportError, match=r"pip install condensed-data\[loading\]"):
            stateful_loader(CondensedDataset(sets.npy))
    finally:
        loading._loader_class.cache_clear()


# -- the Hub --------------------------------------------------------------------------------------------------


def test_stream_a_sharded_set_from_the_hub(sets, servers, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "dummy-token")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    result = CondensedDataset(sets.npy).push_to_hub("org/wds", endpoint=servers.fake.url, token="dummy")
    commit = [c for c in servers.fake.commits if c["repo_id"] == "org/wds"][-1]
    assert {f"data/train-{i:06d}.tar" for i in range(7)} | {"shards.json", "condensed.json"} <= set(commit["files"])

    ds = CondensedIterableDataset.from_pretrained(
        "org/wds", revision=result.commit_sha, endpoint=servers.olah, cache_dir=tmp_path / "cache", shuffle=True
    )
    assert ds.folder.name == result.commit_sha
    assert sorted(keys_of(ds)) == list(range(CLASSES * IPC))
    card = (ds.folder / "README.md").read_text()
    assert "data/train-*.tar" in card and "CondensedIterableDataset.from_pretrained" in card
    assert json.loads((ds.folder / "shards.json").read_text())["samples"] == CLASSES * IPC
