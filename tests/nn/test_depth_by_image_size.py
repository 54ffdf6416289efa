"""ConvNet's depth follows the image size (3 up to 32 pixels, 4 at 64, 5 at 128) unless a name fixes it, and runs
record the resolved name."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.evaluate.protocol import EvalConfig
from condensed_data.nn import convnet_depth, get_network, resolve_network
from condensed_data.testing import tiny_real_dataset

pytestmark = pytest.mark.usefixtures("single_thread")


def blocks(name: str, size: int, channels: int = 3) -> int:
    net = get_network(name, channels=channels, num_classes=4, image_size=(size, size),
                      generator=torch.Generator().manual_seed(0))  # fmt: skip
    return sum(isinstance(m, nn.Conv2d) for m in net.features.modules())


@pytest.mark.parametrize(("size", "depth"), [(8, 3), (28, 3), (32, 3), (48, 4), (64, 4), (96, 5), (128, 5), (256, 6)])
def test_depth_of_the_image_size(size: int, depth: int) -> None:
    assert convnet_depth((size, size)) == depth
    assert blocks("convnet", size) == depth and blocks("convnet-bn", size) == depth
    assert convnet_depth((size, 4 * size)) == depth  # the smaller side decides


def test_64_and_128_pixels_pool_down_to_4x4() -> None:
    for size in (64, 128):
        net = get_network("convnet", channels=3, num_classes=4, image_size=(size, size),
                          generator=torch.Generator().manual_seed(0))  # fmt: skip
        assert net.embed_dim == 128 * 4 * 4
        assert net(torch.zeros(2, 3, size, size)).shape == (2, 4)


def test_an_explicit_depth_wins() -> None:
    assert blocks("convnet-d3", 64) == 3 and blocks("convnet3", 128) == 3 and blocks("convnet-d5", 32) == 5
    assert blocks("convnet-bn-d2", 128) == 2 and blocks("convnet-w32-d4", 32) == 4
    for name in ("convnet-d3-d4", "resnet18-d4", "convnet3-d4"):  # a depth is fixed once, on a ConvNet
        with pytest.raises(ValueError, match=f"no network named '{name}'"):
            resolve_network(name, (64, 64))


def test_resolved_names_build_the_same_network_whatever_the_size() -> None:
    assert resolve_network("convnet", (28, 28)) == "convnet" and resolve_network("convnet", (8, 8)) == "convnet"
    assert resolve_network("convnet", (64, 64)) == "convnet-d4"
    assert resolve_network("convnet-ln", (128, 128)) == "convnet-ln-d5"
    assert resolve_network("convnet-d3", (128, 128)) == "convnet-d3" and resolve_network("mlp", (64, 64)) == "mlp"
    assert blocks(resolve_network("convnet", (64, 64)), 32) == 4
    config = EvalConfig(arch="convnet-mp")
    assert config.for_images((3, 64, 64)).arch == "convnet-mp-d4" and config.for_images((1, 28, 28)) is config


def test_a_run_records_the_depth_it_used(tmp_path) -> None:
    real = tiny_real_dataset(classes=2, per_class=4, shape=(1, 64, 64))
    test = tiny_real_dataset(classes=2, per_class=2, shape=(1, 64, 64), seed=1)
    fast = {"epochs": 1, "models": 1, "precision": "fp32", "augmentation": "none"}
    common = {"method": "dm", "dataset": "tiny", "ipc": 1, "iterations": 1, "baseline": False, "checkpoint_every": 0}
    common["options"] = {"batch_real": 2, "dsa_strategy": "none"}
    result = condense(CondenseConfig(**common, eval=EvalConfig(**fast)), tmp_path / "auto", real=real, test=test)
    m = result.manifest
    assert m.method.config["net"] == "convnet-d4" and m.recipe.arch == "convnet-d4"
    assert [e.arch for e in m.evaluation] == ["convnet-d4"] and m.evaluation[0].protocol["arch"] == "convnet-d4"

    explicit = CondenseConfig(
        **{**common, "options": {**common["options"], "net": "convnet-d3"}},
        eval=EvalConfig(arch="convnet-d2", **fast),
        eval_archs=("convnet-d2", "convnet"),
    )
    m = condense(explicit, tmp_path / "explicit", real=real, test=test).manifest
    assert m.method.config["net"] == "convnet-d3" and m.recipe.arch == "convnet-d2"
    assert [e.arch for e in m.evaluation] == ["convnet-d2", "convnet-d4"]
