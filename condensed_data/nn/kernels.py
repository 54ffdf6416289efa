"""Faster kernels for forward passes whose result needs no gradient: the real images of every matching iteration.

A matching iteration spends almost all of its time embedding the real images under a frozen network (at IPC 10 with
256 real images per class, 2,560 real images against 100 synthetic ones). That pass needs no gradient, so it may run
in whatever arithmetic is fastest on the device, while the synthetic side, whose gradient is the point, stays as it
is. :func:`fast_inference` turns one
of these modes on for the passes that run inside it under ``torch.no_grad()``:

``"fp32"``
    PyTorch's default kernels (nothing changes).
``"bf16"``
    bf16 autocast, where the hardware computes bf16 natively (CUDA, or CPUs with AVX512-BF16/AMX).
``"fast-fp32"``
    CPUs without native bf16, float32 throughout:

    - 3x3 convolutions with 16 or more input channels on maps of at least 10 x 10 pixels run through NNPACK, whose
      fast algorithms (Winograd or FFT transforms, its choice) need far fewer multiplications than the direct
      method; results agree with the exact ones to about 1e-5 of the output's scale (oneDNN's direct method: about
      2e-6);
    - 2x2 average pooling of even-sized maps is two strided adds (rows, then columns), several times faster on CPUs
      than this PyTorch's ``avg_pool2d`` kernel;
    - in a :class:`Sequential`, instance normalization, ReLU and 2x2 average pooling of large maps run as one fused
      kernel compiled by ``torch.compile`` (once per shape, a few seconds each; where no C++ compiler or no
      working ``torch.compile`` is found, where a module carries hooks, or with ``CONDENSED_DATA_NO_COMPILE=1``
      in the environment, the three modules run one by one).

The modes act through :class:`Conv2d`, :class:`AvgPool2d` and :class:`Sequential`, drop-in subclasses of
PyTorch's modules (same parameters, same state dict) that the built-in ConvNet uses; anything else computes as
usual, and so does everything inside an enclosing autocast region. Which mode a run uses is
:func:`condensed_data.runtime.inference_kernels`'s choice (``precision="auto"``), from what was measured (docs,
benchmarks, "Speed and memory"). NNPACK sizes its thread pool at its first call.

>>> import torch
>>> pool = AvgPool2d(2, 2)
>>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
>>> with fast_inference("fast-fp32"), torch.no_grad():
...     fast = pool(x)
>>> torch.equal(fast, torch.nn.functional.avg_pool2d(x, 2))
True
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from condensed_data.runtime import autocast, inference_kernels, nnpack_available

__all__ = [
    "KERNEL_MODES",
    "AvgPool2d",
    "Conv2d",
    "Sequential",
    "current_kernels",
    "fast_inference",
    "no_grad_pass",
    "precision_scope",
]

logger = logging.getLogger(__name__)
KERNEL_MODES = ("fp32", "bf16", "fast-fp32")
_MODE: ContextVar[str] = ContextVar("condensed_data_inference_kernels", default="fp32")
_NNPACK_MIN_CHANNELS = 16  # below, the convolution is cheap and the direct method is faster (1-channel input layer)
_NNPACK_MIN_SIDE = 10  # on 7 x 7 and 8 x 8 maps NNPACK was about as fast as oneDNN (AMD EPYC, 128-1024 images)


def current_kernels() -> str:
    """The mode :func:`fast_inference` set for the current context (``"fp32"`` outside of one)."""
    return _MODE.get()


@contextlib.contextmanager
def fast_inference(mode: str) -> Iterator[None]:
    """Within this context, forward passes under ``torch.no_grad()`` run in ``mode``.

    Passes that record a graph are untouched, so a loss that embeds real images without gradient and synthetic
    images with it can run whole inside the context. ``"bf16"`` enters an autocast region for no-grad passes only
    (:func:`no_grad_pass`); outputs of those passes are bfloat16.
    """
    if mode not in KERNEL_MODES:
        raise ValueError(f"inference kernel mode must be one of {list(KERNEL_MODES)}, got {mode!r}")
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def precision_scope(precision: str, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """The context a condensation step runs in for ``precision`` (``CondenseConfig.precision``).

    ``"bf16"``: autocast over the whole loss. ``"fp32"`` and ``"auto"``: the no-grad passes' kernels
    (:func:`condensed_data.runtime.inference_kernels`), so ``"auto"`` speeds up the real side only.
    """
    if precision == "bf16":
        return autocast(precision, device)
    return fast_inference(inference_kernels(precision, device))


@contextlib.contextmanager
def no_grad_pass(device: torch.device | str) -> Iterator[None]:
    """``torch.no_grad()``, plus bf16 autocast on ``device`` when the current mode is ``"bf16"``."""
    with torch.no_grad():
        if _MODE.get() == "bf16":
            with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
                yield
        else:
            yield


@functools.cache
def _nnpack_ready() -> bool:
    return nnpack_available()  # (this also initializes NNPACK, which its convolution needs)


def _pool2x2(x: torch.Tensor) -> torch.Tensor:
    rows = x[..., ::2, :] + x[..., 1::2, :]
    return (rows[..., ::2] + rows[..., 1::2]).mul_(0.25)


def _fast(x: torch.Tensor) -> bool:
    return (
        not torch.is_autocast_enabled("cpu")
        and _MODE.get() == "fast-fp32"
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and not torch.is_grad_enabled()
    )


class Conv2d(nn.Conv2d):
    """:class:`torch.nn.Conv2d` that runs through NNPACK in the ``"fast-fp32"`` mode (no-grad passes of 3x3, stride-1,
    undilated, ungrouped convolutions with 16 or more input channels, on maps of 10 x 10 pixels or more); otherwise
    the parent's forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            _fast(x)
            and self.in_channels >= _NNPACK_MIN_CHANNELS
            and _nnpack_ready()
            and self.kernel_size == (3, 3)
            and self.stride == (1, 1)
            and self.dilation == (1, 1)
            and self.groups == 1
            and self.padding_mode == "zeros"
            and isinstance(self.padding, tuple)
            and max(self.padding) <= 1  # NNPACK refuses a padding as large as the kernel
            and x.dim() == 4
            and min(x.shape[-2:]) >= _NNPACK_MIN_SIDE
        ):
            try:
                return torch._nnpack_spatial_convolution(x, self.weight, self.bias, list(self.padding), [1, 1])
            except RuntimeError:  # a case NNPACK does not take: the stock kernel computes the same
                pass
        return super().forward(x)


def _halves(pool: nn.AvgPool2d) -> bool:
    """Whether ``pool`` is plain 2x2, stride-2 averaging (no padding, ceil mode or divisor override)."""
    return (
        pool.kernel_size in (2, (2, 2))
        and pool.stride in (2, (2, 2))
        and pool.padding in (0, (0, 0))
        and not pool.ceil_mode
        and pool.divisor_override is None
    )


class AvgPool2d(nn.AvgPool2d):
    """:class:`torch.nn.AvgPool2d` whose 2x2, stride-2 pooling of even-sized maps is two strided adds in the
    ``"fast-fp32"`` mode (no-grad CPU passes; equal to ``avg_pool2d`` up to float rounding); otherwise the parent's
    forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _fast(x) and _halves(self) and x.dim() == 4 and x.shape[-1] % 2 == 0 and x.shape[-2] % 2 == 0:
            return _pool2x2(x)
        return super().forward(x)


def _norm_relu_pool(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    return F.avg_pool2d(F.relu(F.group_norm(x, x.shape[1], weight, bias, eps)), 2)


_FUSED: dict[str, Any] = {}  # "fn": the compiled kernel; "failed": why it could not be used (then never tried again)
NO_COMPILE_ENV = "CONDENSED_DATA_NO_COMPILE"  # set to 1: never compile the fused kernel
_FUSE_MIN_NUMEL = 1 << 24  # smaller maps are cheap, and every new shape costs a compilation


def _fused_kernel() -> Callable | None:
    if "fn" not in _FUSED and "failed" not in _FUSED:
        if os.environ.get(NO_COMPILE_ENV, "") not in ("", "0"):
            _FUSED["failed"] = f"turned off by {NO_COMPILE_ENV}"
        elif not (os.environ.get("CXX") or any(shutil.which(c) for c in ("c++", "g++", "clang++"))):
            _FUSED["failed"] = "no C++ compiler found (set CXX, or install g++)"
            logger.warning("fused kernels unavailable (%s); running the modules one by one", _FUSED["failed"])
        else:
            _FUSED["fn"] = torch.compile(_norm_relu_pool, dynamic=False, fullgraph=True)
    return _FUSED.get("fn")


def _fusable(mods: list[nn.Module], i: int) -> bool:
    if i + 3 > len(mods):
        return False
    norm, relu, pool = mods[i : i + 3]
    return (
        isinstance(norm, nn.GroupNorm)
        and norm.num_groups == norm.num_channels
        and norm.affine
        and isinstance(relu, nn.ReLU)
        and isinstance(pool, nn.AvgPool2d)
        and _halves(pool)
        and not any(m._forward_hooks or m._forward_pre_hooks for m in (norm, relu, pool))
    )


def _global_hooks() -> bool:
    """Whether any module-wide hook is registered (they must see every module run: no fusion then)."""
    check = getattr(torch.nn.modules.module, "_has_any_global_hook", None)
    return True if check is None else bool(check())


class Sequential(nn.Sequential):
    """:class:`torch.nn.Sequential` that, in the ``"fast-fp32"`` mode (no-grad CPU passes), runs each instance
    norm -> ReLU -> 2x2 average pooling of a large map as one compiled kernel; otherwise the parent's forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _fast(x) or _global_hooks():
            return super().forward(x)
        mods, i = list(self), 0
        while i < len(mods):
            if x.numel() >= _FUSE_MIN_NUMEL and x.dim() == 4 and _fusable(mods, i) and (fn := _fused_kernel()):
                norm = mods[i]
                try:
                    x = fn(x, norm.weight, norm.bias, norm.eps)
                    i += 3
                    continue
                except Exception as e:  # noqa: BLE001 - any compiler failure: run the modules instead, from now on
                    _FUSED.pop("fn", None)
                    _FUSED["failed"] = f"{type(e).__name__}: {e}"
                    logger.warning("fused kernels unavailable (%s); running the modules one by one", _FUSED["failed"])
            x = mods[i](x)
            i += 1
        return x
