"""The single-process side of multi-process condensation: class blocks, shards, the random stream."""

import pytest
import torch
from condensed_data_plugins.dm import DM

from condensed_data.condense.method import Method
from condensed_data.condense.processes import Processes, class_block, launched_world_size
from condensed_data.seeding import make_generator
from condensed_data.testing import tiny_real_dataset


def test_class_blocks_cover_every_class_once():
    for k in (2, 3, 10):
        for count in range(1, k + 1):
            blocks = [class_block(k, i, count) for i in range(count)]
            assert [c for b in blocks for c in b] == list(range(k))
            assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    with pytest.raises(ValueError, match="at most 3 processes"):
        class_block(3, 0, 4)


def test_single_process_without_a_launcher(monkeypatch):
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert launched_world_size() == 1
    p = Processes.from_environment("cpu")
    assert (p.count, p.index, p.is_main, p.accelerator) == (1, 0, True, None)
    t = torch.arange(4.0)
    assert p.gather(t)[0] is t and p.sum([1.0, 2.0]) == [1.0, 2.0] and p.broadcast("x") == "x"
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert launched_world_size() == 2


def test_sample_per_class_keep_draws_the_same_stream():
    real = tiny_real_dataset(classes=4, per_class=10)
    g_all, g_some = make_generator(3), make_generator(3)
    every = real.sample_per_class(5, generator=g_all)
    some = real.sample_per_class(5, generator=g_some, keep=[1, 2])
    assert torch.equal(some, every[1:3])
    assert torch.equal(g_all.get_state(), g_some.get_state())  # both consumed the same random numbers


def _dm(real, **options):
    config = DM.config_class.from_dict({"batch_real": 6, **options})
    return DM(real, ipc=2, config=config, generator=make_generator(0))


@pytest.mark.parametrize("count", [2, 3])
def test_class_shards_add_up_to_the_full_step(count, single_thread):
    """The loss of every shard sums to the full loss; each shard's gradient is the full one on its rows."""
    real = tiny_real_dataset(classes=3, per_class=12)
    full = _dm(real)
    loss = full.loss(iteration=0, generator=make_generator(1))
    loss.backward()
    total = 0.0
    for index in range(count):
        part = _dm(real)
        part.shard(index, count)
        part_loss = part.loss(iteration=0, generator=make_generator(1))
        part_loss.backward()
        total += float(part_loss.detach())
        rows = slice(part.shard_classes.start * 2, part.shard_classes.stop * 2)
        grad = part.representation.normalized.grad
        assert torch.allclose(grad[rows], full.representation.normalized.grad[rows], atol=1e-6)
        outside = torch.ones(6, dtype=torch.bool)
        outside[rows] = False
        assert not grad[outside].any()
    assert total == pytest.approx(float(loss.detach()), rel=1e-5)


def test_shard_refusals():
    real = tiny_real_dataset(classes=3, per_class=12)
    with pytest.raises(ValueError, match="at most 3 processes"):
        _dm(real).shard(0, 4)
    with pytest.raises(ValueError, match="batch statistics"):
        _dm(real, net="convnet-bn").shard(0, 2)

    class OneProcess(DM):
        sharding = "none"

    config = DM.config_class.from_dict({"batch_real": 6})
    with pytest.raises(ValueError, match="runs as one process only"):
        OneProcess(real, ipc=2, config=config, generator=make_generator(0)).shard(0, 2)
    assert Method.sharding == "none" and DM.sharding == "classes"
