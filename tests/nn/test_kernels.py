"""The fast no-grad kernels (condensed_data.nn.kernels): the same function as the stock ones, used only where
they may be."""

import pytest
import torch

from condensed_data.nn import get_network, kernels
from condensed_data.nn.kernels import (
    AvgPool2d,
    Conv2d,
    Sequential,
    current_kernels,
    fast_inference,
    no_grad_pass,
    precision_scope,
)
from condensed_data.runtime import inference_kernels, nnpack_available

needs_nnpack = pytest.mark.skipif(not nnpack_available(), reason="this PyTorch build or CPU has no NNPACK")


def _convnet(size: int = 28) -> torch.nn.Module:
    net = get_network(
        "convnet", channels=1, num_classes=10, image_size=(size, size), generator=torch.Generator().manual_seed(0)
    )
    return net.eval()


def _ops(fn) -> set[str]:
    with torch.profiler.profile() as prof:
        fn()
    return {event.key for event in prof.key_averages()}


@needs_nnpack
def test_nnpack_mode_computes_the_same_embedding_through_nnpack():
    net, x = _convnet(), torch.rand(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        exact = net.embed(x)
    with fast_inference("fast-fp32"), torch.no_grad():
        fast = net.embed(x)
        ops = _ops(lambda: net.embed(x))
    assert "aten::_nnpack_spatial_convolution" in ops  # the 14 x 14 layer
    assert "aten::avg_pool2d" not in ops  # pooled by strided adds
    torch.testing.assert_close(fast, exact, rtol=1e-4, atol=1e-4 * exact.abs().max().item())


@needs_nnpack
def test_nnpack_mode_leaves_passes_that_record_a_graph_alone():
    net, x = _convnet(), torch.rand(16, 1, 28, 28, requires_grad=True)
    with fast_inference("fast-fp32"):
        ops = _ops(lambda: net.embed(x).sum().backward())
    assert "aten::_nnpack_spatial_convolution" not in ops and "aten::avg_pool2d" in ops
    assert x.grad is not None


def test_outside_a_fast_context_the_modules_are_stock_pytorch():
    conv, pool = Conv2d(16, 8, 3, padding=1), AvgPool2d(2, 2)
    x = torch.rand(2, 16, 12, 12)
    with torch.no_grad():
        assert torch.equal(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1))
        assert torch.equal(pool(x), torch.nn.functional.avg_pool2d(x, 2))
    assert set(conv.state_dict()) == {"weight", "bias"} and current_kernels() == "fp32"


@needs_nnpack
def test_small_maps_few_channels_and_odd_sizes_keep_the_stock_kernels():
    with fast_inference("fast-fp32"), torch.no_grad():
        assert "aten::_nnpack_spatial_convolution" not in _ops(
            lambda: Conv2d(1, 8, 3, padding=1)(torch.rand(4, 1, 28, 28))
        )
        assert "aten::_nnpack_spatial_convolution" not in _ops(
            lambda: Conv2d(16, 8, 3, padding=1)(torch.rand(4, 16, 7, 7))
        )
        odd = torch.rand(2, 3, 7, 7)
        assert torch.equal(AvgPool2d(2, 2)(odd), torch.nn.functional.avg_pool2d(odd, 2))


def test_bf16_mode_autocasts_no_grad_passes_only():
    linear = torch.nn.Linear(4, 4)
    x = torch.rand(2, 4)
    with fast_inference("bf16"):
        with no_grad_pass("cpu"):
            assert linear(x).dtype == torch.bfloat16
        assert linear(x).dtype == torch.float32


def test_modes_and_precisions_are_checked():
    with pytest.raises(ValueError, match="inference kernel mode"):
        with fast_inference("fp16"):
            pass
    with pytest.raises(ValueError, match="precision"):
        inference_kernels("fp8")
    assert inference_kernels("fp32") == "fp32" and inference_kernels("bf16") == "fp32"
    assert inference_kernels("auto") in ("bf16", "fast-fp32", "fp32")


def test_precision_scope_resets_the_mode():
    with precision_scope("auto", "cpu"):
        assert current_kernels() == inference_kernels("auto", "cpu")
    assert current_kernels() == "fp32"


def _block_and_input(size: int = 8) -> tuple[torch.nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    block = Sequential(torch.nn.GroupNorm(4, 4), torch.nn.ReLU(inplace=True), AvgPool2d(2, 2), torch.nn.Flatten())
    torch.nn.init.normal_(block[0].weight)
    torch.nn.init.normal_(block[0].bias)
    return block, torch.randn(3, 4, size, size)


@pytest.mark.slow  # one compilation
def test_fused_norm_relu_pool_computes_what_the_modules_compute(monkeypatch):
    block, x = _block_and_input()
    with torch.no_grad():
        expected = block(x.clone())
    monkeypatch.setattr(kernels, "_FUSE_MIN_NUMEL", 1)
    monkeypatch.setattr(kernels, "_FUSED", {})
    with fast_inference("fast-fp32"), torch.no_grad():
        fused = block(x.clone())
    if "failed" in kernels._FUSED:  # no working compiler here: the modules ran one by one
        pytest.skip(f"torch.compile unavailable: {kernels._FUSED['failed']}")
    assert "fn" in kernels._FUSED
    torch.testing.assert_close(fused, expected, rtol=1e-5, atol=1e-5)


def test_a_failing_compiler_falls_back_to_the_modules_once_and_says_so(monkeypatch, caplog):
    block, x = _block_and_input()
    with torch.no_grad():
        expected = block(x.clone())

    def broken(*args, **kwargs):
        raise RuntimeError("compiler exploded")

    monkeypatch.setattr(kernels, "_FUSE_MIN_NUMEL", 1)
    monkeypatch.setattr(kernels, "_FUSED", {"fn": broken})
    with fast_inference("fast-fp32"), torch.no_grad(), caplog.at_level("WARNING"):
        first, second = block(x.clone()), block(x.clone())
    torch.testing.assert_close(first, expected)  # (pooled by strided adds: equal up to rounding)
    torch.testing.assert_close(second, expected)
    assert "compiler exploded" in kernels._FUSED["failed"] and "fn" not in kernels._FUSED
    assert sum("fused kernels unavailable" in r.message for r in caplog.records) == 1


def test_no_compiler_means_no_fusion(monkeypatch):
    monkeypatch.setattr(kernels, "_FUSED", {})
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(kernels.shutil, "which", lambda name: None)
    assert kernels._fused_kernel() is None and "no C++ compiler" in kernels._FUSED["failed"]


def test_hooks_keep_the_modules_apart(monkeypatch):
    block, x = _block_and_input()
    seen = []
    block[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    monkeypatch.setattr(kernels, "_FUSE_MIN_NUMEL", 1)
    monkeypatch.setattr(kernels, "_FUSED", {"fn": lambda *a: pytest.fail("fused despite a hook")})
    with fast_inference("fast-fp32"), torch.no_grad():
        block(x)
    assert seen == [torch.Size([3, 4, 8, 8])]


@needs_nnpack
def test_cases_nnpack_refuses_or_pooling_cannot_take_compute_as_stock():
    torch.manual_seed(0)
    wide = Conv2d(16, 8, 3, padding=3)  # NNPACK refuses a padding as large as the kernel
    x = torch.rand(2, 16, 12, 12)
    summing = AvgPool2d(2, 2, divisor_override=1)
    with torch.no_grad():
        expected = wide(x), summing(x)
        with fast_inference("fast-fp32"):
            assert torch.equal(wide(x), expected[0])
            assert torch.equal(summing(x), expected[1])


def test_an_enclosing_autocast_wins():
    conv = Conv2d(16, 8, 3, padding=1)
    with fast_inference("fast-fp32"), torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        assert conv(torch.rand(2, 16, 12, 12)).dtype == torch.bfloat16


def test_compiling_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(kernels, "_FUSED", {})
    monkeypatch.setenv(kernels.NO_COMPILE_ENV, "1")
    assert kernels._fused_kernel() is None and kernels.NO_COMPILE_ENV in kernels._FUSED["failed"]
