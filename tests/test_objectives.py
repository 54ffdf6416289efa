import math
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest
import torch
from torch import nn

from condensed_data.condense import entry_points
from condensed_data.condense.matching import PixelConfig
from condensed_data.condense.objectives import (
    AttentionMixer,
    KernelMMD,
    MeanEmbedding,
    Objective,
    _mmd2,
    attention_maps,
    make_objective,
    mean_embedding_loss,
    mmd2,
)
from condensed_data.condense.registry import (
    OBJECTIVE_ENTRY_POINT_GROUP,
    list_objectives,
    lookup_objective,
    refresh,
    register_objective,
    unregister_objective,
)
from condensed_data.nn import get_network
from condensed_data.seeding import make_generator


def test_attention_maps_by_hand():
    # One sample, C=2 channels, a 1x2 map: channel 0 is [1, 2], channel 1 is [0, 1].
    f = torch.tensor([[[[1.0, 2.0]], [[0.0, 1.0]]]])
    spatial, channel = attention_maps(f, power=2)
    # |f|^2 = [[1, 4], [0, 1]]: summed over channels per position [1, 5]; over positions per channel [5, 1].
    assert torch.allclose(spatial, torch.tensor([[1.0, 5.0]]) / math.sqrt(26))
    assert torch.allclose(channel, torch.tensor([[5.0, 1.0]]) / math.sqrt(26))
    # The absolute value comes first: a negative activation counts like a positive one.
    assert torch.allclose(attention_maps(-f, power=2)[0], spatial)


def test_attention_maps_are_unit_norm_per_sample():
    f = torch.randn(5, 8, 4, 4, generator=make_generator(0)) * torch.arange(1, 6).view(5, 1, 1, 1)
    spatial, channel = attention_maps(f, power=4)
    assert spatial.shape == (5, 16) and channel.shape == (5, 8)
    assert torch.allclose(spatial.norm(dim=1), torch.ones(5)) and torch.allclose(channel.norm(dim=1), torch.ones(5))
    # Normalized, so scaling a sample's activations leaves its attention unchanged.
    assert torch.allclose(attention_maps(3 * f, power=4)[0], spatial, atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        attention_maps(f.flatten(1), power=4)


def test_attention_mixer_loss_by_hand():
    # One class; features = (spatial, channel, embedding), real batch of 2, one synthetic sample.
    real = (
        torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]),  # mean [0.5, 0.5]
        torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]),  # mean [1, 0]
        torch.tensor([[[2.0], [4.0]]]),  # mean [3]
    )
    syn = (torch.tensor([[[1.0, 0.0]]]), torch.tensor([[[0.0, 1.0]]]), torch.tensor([[[1.0]]]))
    # spatial 0.25 + 0.25 = 0.5; channel 1 + 1 = 2; embedding (3-1)^2 = 4 weighted by 0.01
    expected = 100 * (0.5 + 2.0 + 0.01 * 4.0)
    assert float(AttentionMixer(power=4, balance=0.01).compare(real, syn)) == pytest.approx(expected)
    assert float(AttentionMixer(balance=0.5).compare(real, syn)) == pytest.approx(100 * (2.5 + 2.0))


def test_attention_mixer_features_hook_every_relu_but_the_last():
    net = get_network("convnet", channels=1, num_classes=3, image_size=(8, 8), generator=make_generator(0))
    x = torch.rand(4, 1, 8, 8, generator=make_generator(1))
    feats = AttentionMixer().features(net, x)
    # ConvNet-3 on 8x8: ReLU maps of 8x8 and 4x4 (the third, 2x2, is excluded), then the embedding.
    assert [tuple(f.shape) for f in feats] == [(4, 64), (4, 128), (4, 16), (4, 128), (4, net.embed_dim)]
    assert torch.equal(feats[-1], net.embed(x))
    assert all(not m._forward_hooks for m in net.modules()), "hooks must be removed after the pass"
    spatial_only = AttentionMixer(channel=False).features(net, x)
    assert [tuple(f.shape) for f in spatial_only] == [(4, 64), (4, 16), (4, net.embed_dim)]
    assert torch.allclose(spatial_only[0], feats[0])


def test_attention_mixer_needs_two_relus():
    class OneLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())

        def embed(self, x):
            return self.features(x).flatten(1)

    with pytest.raises(ValueError, match="at least two nn.ReLU"):
        AttentionMixer().features(OneLayer(), torch.zeros(1, 1, 4, 4))


def test_mmd_gaussian_by_hand():
    # 1-D points: synthetic {0}, real {1, 1}. Pooled squared distances: 1 (x4 off-diagonal pairs), 0 (y-y).
    x = torch.tensor([[[0.0]]])
    y = torch.tensor([[[1.0], [1.0]]])
    # sigma^2 = (4 * 1 + 2 * 0) / (3*3 - 3) = 2/3; k(x, y) = exp(-1 / (2/3)), k(x, x) = k(y, y') = 1.
    expected = 1 + 1 - 2 * math.exp(-1.5)
    assert float(mmd2(x, y, multipliers=(1.0,))) == pytest.approx(expected)
    # With M3D's five bandwidths the kernel is a sum: k(a, a) = 5.
    five = sum(math.exp(-1.5 / s) for s in (0.25, 0.5, 1, 2, 4))
    assert float(mmd2(x, y)) == pytest.approx(5 + 5 - 2 * five)


def test_linear_kernel_mmd_equals_dm_loss():
    g = make_generator(0)
    real = torch.randn(4, 9, 6, generator=g, dtype=torch.float64)
    syn = torch.randn(4, 3, 6, generator=g, dtype=torch.float64)
    # mmd2 computes in float32; the identity holds to float32 rounding.
    linear = KernelMMD(kernel="linear").compare((real,), (syn,))
    assert torch.allclose(linear.double(), mean_embedding_loss(real, syn), rtol=1e-5)
    assert torch.allclose(linear, MeanEmbedding().compare((real.float(),), (syn.float(),)), rtol=1e-5)


def test_gaussian_mmd_sees_beyond_the_mean():
    """Same mean, different spread: DM's loss is blind to it, the Gaussian-kernel MMD is not."""
    g = make_generator(0)
    base = torch.randn(1, 64, 4, generator=g)
    base = base - base.mean(dim=1, keepdim=True)
    wide, narrow = 3 * base, 0.3 * base
    assert float(mean_embedding_loss(wide, narrow)) < 1e-10
    assert float(mmd2(narrow, wide)) > 0.1
    assert float(mmd2(wide, wide.clone())) == pytest.approx(0.0, abs=1e-6)


def test_mmd_gradient_reaches_synthetic_features():
    g = make_generator(0)
    syn = torch.randn(2, 3, 5, generator=g, requires_grad=True)
    real = torch.randn(2, 7, 5, generator=g)
    KernelMMD().compare((real,), (syn,)).backward()
    assert syn.grad is not None and (syn.grad.flatten(1).abs().sum(1) > 0).all()


def test_make_objective_errors_name_the_fix():
    assert make_objective("ECHO") == KernelMMD()
    assert make_objective("atom", {"power": 2}).power == 2
    with pytest.raises(ValueError, match=r"unknown objective 'mtt'\. Known objectives: atom, dm, echo\b"):
        make_objective("mtt")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['p'\] for objective 'atom'; its options: balance"):
        make_objective("atom", {"p": 4})
    with pytest.raises(ValueError, match="kernel must be"):
        make_objective("echo", {"kernel": "rbf"})
    with pytest.raises(ValueError, match="power must be > 0"):
        AttentionMixer(power=0)
    # A method config checks its objective when it is built, not at the first iteration.
    with pytest.raises(ValueError, match="unknown objective"):
        PixelConfig(objective="nope")
    with pytest.raises(ValueError, match="iters_per_net"):
        PixelConfig(iters_per_net=0)


def test_objective_options_round_trip_through_json():
    import json

    obj = KernelMMD(multipliers=(1, 2))
    again = make_objective("echo", json.loads(json.dumps(obj.to_dict())))
    assert again == obj and again.multipliers == (1.0, 2.0)


# Objectives as plugins: a third party's objective is usable by name wherever a built-in one is.


@dataclass(frozen=True)
class MeanAndVariance(Objective):
    """A third party's objective: class means plus ``weight`` times per-dimension variances."""

    name: ClassVar[str] = "meanvar"
    weight: float = 1.0

    def compare(self, real, syn):
        (fr,), (fs,) = real, syn
        variances = (fr.var(1, unbiased=False) - fs.var(1, unbiased=False)).pow(2).sum()
        return mean_embedding_loss(fr, fs) + self.weight * variances


class NotAnObjective:
    pass


def _with_entry_points(monkeypatch, *extra):
    """Add entry points (name, value, distribution) to the group condensed_data.objectives of the real ones."""
    scan = entry_points.iter_entry_points

    def patched(group):
        yield from scan(group)
        if group == OBJECTIVE_ENTRY_POINT_GROUP:
            for name, value, dist in extra:
                yield EntryPoint(name=name, value=value, group=group), dist, "0.2"

    monkeypatch.setattr(entry_points, "iter_entry_points", patched)
    refresh()


@pytest.fixture(params=["runtime", "entry-point"])
def meanvar(request, monkeypatch):
    """The plugin objective, registered at runtime or installed (an injected entry point)."""
    if request.param == "runtime":
        register_objective("meanvar", MeanAndVariance)
        yield "meanvar"
        unregister_objective("meanvar")
    else:
        with monkeypatch.context() as m:
            _with_entry_points(m, ("meanvar", f"{__name__}:MeanAndVariance", "meanvar-plugin"))
            assert lookup_objective("MeanVar").distribution == "meanvar-plugin"
            yield "meanvar"
        refresh()
    assert "meanvar" not in list_objectives()


def test_a_plugin_objective_is_usable_by_name(meanvar):
    assert make_objective("MEANVAR", {"weight": 2.0}) == MeanAndVariance(weight=2.0)
    with pytest.raises(
        ValueError, match=r"unknown option\(s\) \['power'\] for objective 'meanvar'; its options: weight"
    ):
        make_objective(meanvar, {"power": 2})
    config = PixelConfig(objective=meanvar, objective_options={"weight": 0.5})  # any method's config
    assert config.objective == "meanvar"


def test_a_plugin_objective_runs_from_condense_config_options(meanvar, tmp_path, single_thread):
    from condensed_data.condense.driver import CondenseConfig, build_method, condense
    from condensed_data.testing import tiny_real_dataset

    real = tiny_real_dataset(per_class=6)
    options = {"batch_real": 4, "objective": meanvar, "objective_options": {"weight": 0.5}}
    config = CondenseConfig(method="dm", dataset="tiny", ipc=1, iterations=2, options=options, evaluate=False)
    method = build_method(config, real, make_generator(0))
    assert method.objective == MeanAndVariance(weight=0.5)
    manifest = condense(config, tmp_path / "a", real=real, progress=False).manifest
    assert manifest.method.config["objective"] == "meanvar"
    assert manifest.method.config["objective_options"] == {"weight": 0.5}


def test_a_registered_class_that_is_not_an_objective_is_refused(monkeypatch):
    with monkeypatch.context() as m:
        _with_entry_points(m, ("plain", f"{__name__}:NotAnObjective", "odd-plugin"))
        with pytest.raises(
            ValueError, match=r"objective 'plain' \(from 'odd-plugin 0.2'\) is .*NotAnObjective.*subclass"
        ):
            make_objective("plain")
    refresh()


def test_a_missing_builtin_objective_says_to_reinstall(monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(entry_points, "iter_entry_points", lambda group: iter(()))
        refresh()
        with pytest.raises(ValueError, match=r"built-in objective 'echo' is missing .* reinstall"):
            make_objective("echo")
    refresh()
    assert make_objective("echo") == KernelMMD()


# -- ATOM's questioned choices: the power and where the channel map is taken ---------------------------------
def _atom_loss(objective, net, real, syn):
    feats = [tuple(f.unflatten(0, (1, -1)) for f in objective.features(net, x)) for x in (real, syn)]
    return float(objective.compare(*feats).detach()), feats


def test_attention_power_changes_the_loss():
    net = get_network("convnet", channels=1, num_classes=3, image_size=(8, 8), generator=make_generator(0))
    real, syn = torch.rand(2, 6, 1, 8, 8, generator=make_generator(1))
    one, _ = _atom_loss(AttentionMixer(power=1), net, real, syn)
    four, _ = _atom_loss(AttentionMixer(power=4), net, real, syn)
    assert one > 0 and four > 0 and abs(one - four) > 1e-3 * max(one, four)


def test_channel_map_before_normalization_differs_and_spatial_stays():
    net = get_network("convnet", channels=1, num_classes=3, image_size=(8, 8), generator=make_generator(0))
    x = torch.rand(4, 1, 8, 8, generator=make_generator(1))
    after = AttentionMixer().features(net, x)
    before = AttentionMixer(channel_at="before_norm").features(net, x)
    assert [f.shape for f in before] == [f.shape for f in after]
    for i in (0, 2, 4):  # spatial maps (from the ReLU outputs) and the embedding are the same
        assert torch.equal(before[i], after[i])
    conv = net.features[0](x)  # the channel map of layer 1 comes from the convolution's output, before its norm
    assert torch.allclose(before[1], attention_maps(conv, power=4)[1])
    assert not torch.allclose(before[1], after[1], atol=1e-3)
    assert all(not m._forward_hooks for m in net.modules()), "hooks must be removed after the pass"
    # after instance norm every channel has zero mean and unit variance: its map is much closer to uniform
    uniform = torch.full_like(after[1], after[1].shape[1] ** -0.5)
    assert (after[1] - uniform).norm(dim=1).mean() < (before[1] - uniform).norm(dim=1).mean()
    real, syn = torch.rand(2, 6, 1, 8, 8, generator=make_generator(2))
    loss_after, _ = _atom_loss(AttentionMixer(), net, real, syn)
    loss_before, _ = _atom_loss(AttentionMixer(channel_at="before_norm"), net, real, syn)
    assert abs(loss_after - loss_before) > 1e-3 * loss_after
    # without the channel term the placement does not matter
    spatial_only = AttentionMixer(channel=False, channel_at="before_norm").features(net, x)
    plain = AttentionMixer(channel=False).features(net, x)
    assert all(torch.equal(a, b) for a, b in zip(spatial_only, plain, strict=True))


def test_channel_before_norm_needs_a_normalization_layer():
    net = get_network("convnet-nn", channels=1, num_classes=3, image_size=(8, 8), generator=make_generator(0))
    with pytest.raises(ValueError, match=r"channel_at='before_norm' needs a normalization layer.*after_norm"):
        AttentionMixer(channel_at="before_norm").features(net, torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match="channel_at must be 'after_norm' or 'before_norm'"):
        AttentionMixer(channel_at="pre")


def test_attention_mixer_parts_sum_to_the_loss():
    net = get_network("convnet", channels=1, num_classes=3, image_size=(8, 8), generator=make_generator(0))
    real, syn = torch.rand(2, 6, 1, 8, 8, generator=make_generator(1))
    for objective in (AttentionMixer(), AttentionMixer(channel=False)):
        loss, feats = _atom_loss(objective, net, real, syn)
        parts = objective.parts(*feats)
        assert set(parts) == ({"spatial", "channel", "embedding"} if objective.channel else {"spatial", "embedding"})
        assert float(sum(parts.values()).detach()) == pytest.approx(loss, rel=1e-5)
    assert KernelMMD().parts(*feats) == {}  # not split: the loop reports only the whole match term


# -- mixed precision: the MMD in float32 ---------------------------------------------------------------------
def test_mmd_is_float32_under_bf16_autocast():
    g = make_generator(0)
    real = torch.randn(3, 16, 64, generator=g).bfloat16()  # features as a bf16 forward pass returns them
    syn = (real[:, :4].float() + 0.05 * torch.randn(3, 4, 64, generator=g)).bfloat16()
    exact = KernelMMD().compare((real.float(),), (syn.float(),))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = KernelMMD().compare((real,), (syn,))
        linear = KernelMMD(kernel="linear").compare((real,), (syn,))
    assert mixed.dtype == torch.float32 and linear.dtype == torch.float32
    torch.testing.assert_close(mixed, exact, rtol=1e-5, atol=1e-6)
    # what the guard is for: the same computation left to autocast runs its matmuls in bf16 and drifts
    with torch.autocast("cpu", dtype=torch.bfloat16):
        unguarded = _mmd2(syn.float(), real.float(), kernel="gaussian", multipliers=(0.25, 0.5, 1.0, 2.0, 4.0)).sum()
    assert (unguarded.float() - exact).abs() > 10 * (mixed - exact).abs()
