"""Tests for condensed_data.nn: every named network's shapes, the reference ConvNet, generator-only initialization."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from condensed_data.nn import ConvNet, ResNet18, get_network, list_networks, reset_parameters

pytestmark = pytest.mark.usefixtures("single_thread")

SHAPES = [(1, 28, 28), (1, 8, 8), (3, 32, 32)]

# embed_dim for (1, 28, 28), (1, 8, 8), (3, 32, 32), derived by hand:
# 28x28 inputs are padded to 32 by the first layer; 2x2 poolings halve; a pool is skipped below 2 pixels.
EMBED_DIMS = {
    "convnet": (128 * 4 * 4, 128 * 1 * 1, 128 * 4 * 4),
    "convnet3": (2048, 128, 2048),
    "convnet-d1": (128 * 16 * 16, 128 * 4 * 4, 128 * 16 * 16),
    "convnet-d2": (128 * 8 * 8, 128 * 2 * 2, 128 * 8 * 8),
    "convnet-d3": (2048, 128, 2048),
    "convnet-d4": (128 * 2 * 2, 128 * 1 * 1, 128 * 2 * 2),  # 8x8: 8 -> 4 -> 2 -> 1, fourth pool skipped
    "convnet-d5": (128, 128, 128),
    "convnet-w32": (32 * 16, 32, 32 * 16),
    "convnet-w64": (64 * 16, 64, 64 * 16),
    "convnet-w128": (128 * 16, 128, 128 * 16),
    "convnet-w256": (256 * 16, 256, 256 * 16),
    "convnet-bn": (2048, 128, 2048),
    "convnet-nn": (2048, 128, 2048),
    "convnet-ln": (2048, 128, 2048),
    "convnet-mp": (2048, 128, 2048),
    "convnet-np": (128 * 32 * 32, 128 * 8 * 8, 128 * 32 * 32),
    "resnet18": (512, 512, 512),
    "resnet18-bn": (512, 512, 512),
    "vgg11": (512, 512, 512),
    "vgg11-bn": (512, 512, 512),
    "alexnet": (192 * 4 * 4, 192 * 1 * 1, 192 * 4 * 4),
    "mlp": (128, 128, 128),
}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def build(name: str, shape: tuple[int, int, int], seed: int = 0) -> nn.Module:
    c, h, w = shape
    return get_network(name, channels=c, num_classes=10, image_size=(h, w), generator=gen(seed))


def test_the_list_is_the_documented_one() -> None:
    assert list_networks() == sorted(EMBED_DIMS)


@pytest.mark.parametrize("shape", SHAPES, ids=["28x28x1", "8x8x1", "32x32x3"])
@pytest.mark.parametrize("name", sorted(EMBED_DIMS))
def test_every_network_builds_and_has_the_right_shapes(name: str, shape: tuple[int, int, int]) -> None:
    state = torch.random.get_rng_state()
    net = build(name, shape)
    assert torch.equal(torch.random.get_rng_state(), state), "building a network touched the global RNG"
    expected = EMBED_DIMS[name][SHAPES.index(shape)]
    assert net.embed_dim == expected
    assert isinstance(net.features, nn.Sequential) and isinstance(net.classifier, nn.Linear)
    assert any(isinstance(m, nn.ReLU) for m in net.features.modules())
    x = torch.rand(2, *shape, generator=gen(1))
    with torch.no_grad():
        logits, features = net(x), net.embed(x)
    assert logits.shape == (2, 10) and features.shape == (2, expected)
    torch.testing.assert_close(logits, net.classifier(features))


def test_convnet3_on_28x28_is_the_reference_network() -> None:
    net = get_network("convnet", channels=1, num_classes=10, image_size=(28, 28), generator=gen())
    assert net.embed_dim == 2048
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [c.padding for c in convs] == [(3, 3), (1, 1), (1, 1)]
    assert all(isinstance(m, nn.GroupNorm) and m.num_groups == m.num_channels == 128 for m in net.features[1::4])
    assert all(isinstance(m, nn.AvgPool2d) for m in net.features[3::4])
    assert sum(isinstance(m, nn.ReLU) for m in net.features) == 3
    width, classes = 128, 10
    conv = lambda c_in: width * c_in * 3 * 3 + width  # noqa: E731
    norm = 2 * width
    expected = conv(1) + norm + 2 * (conv(width) + norm) + (width * 4 * 4) * classes + classes
    assert expected == 317_706
    assert sum(p.numel() for p in net.parameters()) == expected


def test_small_inputs_keep_their_natural_size() -> None:
    # Only 28x28 gets the extra first-layer padding: 8x8 digits go 8 -> 4 -> 2 -> 1.
    net = get_network("convnet", channels=1, num_classes=10, image_size=(8, 8), generator=gen())
    assert net.features[0].padding == (1, 1)
    assert net.embed(torch.rand(3, 1, 8, 8)).shape == (3, 128)


def test_same_seed_same_weights_different_seed_different_weights() -> None:
    for name in ("convnet", "convnet-bn", "mlp"):
        a, b, c = (build(name, (1, 8, 8), seed) for seed in (3, 3, 4))
        sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert not torch.equal(sa["classifier.weight"], sc["classifier.weight"])


@pytest.mark.parametrize(
    "name, factory",
    [
        ("convnet", lambda: ConvNet(channels=1, num_classes=10, image_size=(28, 28))),
        ("convnet-bn", lambda: ConvNet(channels=1, num_classes=10, image_size=(28, 28), norm="batchnorm")),
        ("resnet18", lambda: ResNet18(channels=3, num_classes=10, image_size=(8, 8))),
    ],
)
def test_initialization_matches_pytorch_defaults_draw_for_draw(name: str, factory) -> None:  # noqa: ANN001
    # PyTorch's own reset_parameters from a global seed gives exactly our weights from a generator with that seed.
    with torch.random.fork_rng():
        torch.manual_seed(7)
        reference = factory().state_dict()
    c, h, w = (1, 28, 28) if name.startswith("convnet") else (3, 8, 8)
    ours = get_network(name, channels=c, num_classes=10, image_size=(h, w), generator=gen(7)).state_dict()
    assert ours.keys() == reference.keys()
    for key in reference:
        assert torch.equal(ours[key], reference[key]), key


def test_norm_layers_start_at_the_identity() -> None:
    net = build("convnet-bn", (1, 8, 8))
    bn = net.features[1]
    assert isinstance(bn, nn.BatchNorm2d)
    assert torch.equal(bn.weight, torch.ones(128)) and torch.equal(bn.bias, torch.zeros(128))
    assert torch.equal(bn.running_mean, torch.zeros(128)) and torch.equal(bn.running_var, torch.ones(128))
    assert int(bn.num_batches_tracked) == 0


def test_no_generator_gives_fresh_networks_without_touching_the_global_rng() -> None:
    state = torch.random.get_rng_state()
    a = get_network("mlp", channels=1, num_classes=3, image_size=(8, 8))
    b = get_network("mlp", channels=1, num_classes=3, image_size=(8, 8))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert not torch.equal(a.classifier.weight, b.classifier.weight)


def test_unknown_names_and_bad_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="known networks: .*convnet.*resnet18"):
        get_network("ConvNet", channels=1, num_classes=10, image_size=(28, 28))
    with pytest.raises(ValueError, match="channels"):
        get_network("convnet", channels=0, num_classes=10, image_size=(28, 28))
    with pytest.raises(ValueError, match="image_size"):
        get_network("convnet", channels=1, num_classes=10, image_size=(28,))  # type: ignore[arg-type]


def test_reset_parameters_refuses_layers_it_cannot_initialize() -> None:
    with pytest.raises(TypeError, match="Embedding"):
        reset_parameters(nn.Sequential(nn.Linear(2, 2), nn.Embedding(3, 2)), generator=gen())


def test_gradient_reaches_the_input_through_the_embedding() -> None:
    # DM differentiates the embedding of synthetic images; in-place ReLUs must not break that.
    net = build("convnet", (1, 28, 28))
    for p in net.parameters():
        p.requires_grad_(False)
    x = torch.rand(4, 1, 28, 28, generator=gen(1), requires_grad=True)
    net.embed(x).mean(0).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
