"""ShardedRealSource's mapped reads: uniform .npy shards are mapped once (a bounded number at a time) and a class's
drawn images gathered in one index; the result is the per-member reads' and the in-memory split's, bit for bit."""

import io
import pickle
import tarfile

import numpy as np
import pytest
import torch
from test_sharded_source import rewrite_index

import condensed_data.data.shards as shards_module
from condensed_data.data import RealDataset, ShardedRealSource, write_real_shards
from condensed_data.interop.webdataset import ShardError, ShardReader


def split(counts=(9, 13, 6), shape=(3, 5, 4)) -> RealDataset:
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([c for c, n in enumerate(counts) for _ in range(n)])
    labels = labels[torch.randperm(len(labels), generator=g)]
    images = torch.rand((len(labels), *shape), generator=g)
    return RealDataset(images, labels, classes=[f"k{c}" for c in range(len(counts))], name="toy", split="train")


def draw(source, seed, n=5, **kwargs):
    g = torch.Generator().manual_seed(seed)
    return source.sample_per_class(n, generator=g, **kwargs), g.get_state()


@pytest.mark.parametrize("shard_size", [4, 100])
def test_mapped_draws_are_the_per_member_and_in_memory_draws(tmp_path, monkeypatch, shard_size):
    memory = split()
    write_real_shards(memory, tmp_path / "s", shard_size=shard_size)
    mapped = ShardedRealSource(tmp_path / "s")
    for seed in range(3):
        for kwargs in ({}, {"classes": [2, 0]}, {"classes": [2, 0, 1], "keep": [2]}, {"keep": [0, 2]}):
            got, state = draw(mapped, seed, **kwargs)
            want, want_state = draw(memory, seed, **kwargs)
            assert torch.equal(got, want) and torch.equal(state, want_state), (seed, kwargs)
    assert mapped._maps and all(layout is not None for _, layout in mapped._layouts.values())
    batches = [(x, y) for x, y in mapped.batches(7)]
    order = torch.argsort(memory.labels, stable=True)
    assert torch.equal(torch.cat([x for x, _ in batches]), memory.images[order])
    assert torch.equal(torch.cat([y for _, y in batches]), memory.labels[order])
    assert torch.equal(mapped[10][0], memory.images[order[10]]) and mapped[10][1] == 1

    monkeypatch.setattr(ShardReader, "strided", lambda self, buffer: None)  # every shard read member by member
    per_member = ShardedRealSource(tmp_path / "s")
    for seed in range(3):
        assert torch.equal(draw(per_member, seed)[0], draw(memory, seed)[0])
    assert not per_member._maps

    copy = pickle.loads(pickle.dumps(mapped))  # a worker's copy maps its own shards
    assert not copy._maps and torch.equal(draw(copy, 7, keep=[1])[0], draw(memory, 7, keep=[1])[0])


def test_a_class_restricted_draw_maps_only_its_shards_and_at_most_mapped_shards(tmp_path, monkeypatch):
    write_real_shards(split(), tmp_path / "s", shard_size=2)  # 5 + 7 + 3 shards
    monkeypatch.setattr(shards_module, "MAPPED_SHARDS", 4)
    source = ShardedRealSource(tmp_path / "s")
    opened = []
    real_map = source._map
    monkeypatch.setattr(source, "_map", lambda c, k: opened.append(real_map(c, k)) or opened[-1])
    source.sample_per_class(6, generator=torch.Generator().manual_seed(0), keep=[1])
    assert {c for c, _ in source._maps} == {1} and len(source._maps) <= 4
    source.sample_per_class(6, generator=torch.Generator().manual_seed(1))
    assert len(source._maps) == 4 and len(opened) > 4
    assert sum(not buffer.closed for buffer in opened) == 4  # every other map was closed when it was dropped


def test_a_shard_whose_members_differ_is_read_member_by_member(tmp_path):
    memory = split(shape=(2, 3, 3))
    index = write_real_shards(memory, tmp_path / "s", shard_size=100)
    shard = tmp_path / "s" / index.shards[0][0].file
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    fourth = [m.name for m, _ in members if m.name.endswith(".npy")][3]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            if m.name == fourth:  # one image stored as float64: its own header, size and stride
                out = io.BytesIO()
                np.save(out, np.load(io.BytesIO(data)).astype(np.float64))
                data = out.getvalue()
            m.size = len(data)
            tar.addfile(m, io.BytesIO(data))
    rewrite_index(tmp_path / "s")
    source = ShardedRealSource(tmp_path / "s")
    for seed in range(3):
        assert torch.equal(draw(source, seed)[0], draw(memory, seed)[0])
    assert source._layouts[(0, 0)][1] is None and source._layouts[(1, 0)][1] is not None


def test_a_mapped_shard_checks_every_label_when_first_mapped(tmp_path):
    index = write_real_shards(split(), tmp_path / "s", shard_size=100)
    shard = tmp_path / "s" / index.shards[1][0].file
    with tarfile.open(shard) as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]
    last = [m.name for m, _ in members if m.name.endswith(".cls")][-1]
    with tarfile.open(shard, "w", format=tarfile.USTAR_FORMAT) as tar:
        for m, data in members:
            tar.addfile(m, io.BytesIO(b"0" if m.name == last else data))
    rewrite_index(tmp_path / "s")
    source = ShardedRealSource(tmp_path / "s")
    with pytest.raises(ShardError, match="image 12 has label 0, but this shard holds class 1"):
        source.sample_per_class(1, generator=torch.Generator().manual_seed(0), classes=[1])
    assert not source._maps
