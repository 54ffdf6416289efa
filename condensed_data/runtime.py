"""Process-level performance settings for the CLI, benchmarks and long-running jobs.

Library functions never call these on their own: they change process-wide state. The CLI calls
:func:`tune_cpu_allocator` once at start-up.

>>> precision_dtype("fp32") is None
True
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys

import torch

__all__ = [
    "tune_cpu_allocator",
    "cpu_has_native_bf16",
    "precision_dtype",
    "autocast",
    "inference_kernels",
    "nnpack_available",
]

logger = logging.getLogger(__name__)
PRECISIONS = ("auto", "fp32", "bf16")


def tune_cpu_allocator(threshold: int = 1 << 30) -> bool:
    """Keep freed large buffers inside the process (glibc only); returns whether it applied.

    Training small networks on the CPU allocates and frees the same large activation buffers every step. By
    default glibc returns such buffers to the OS and the next step pays page faults to get them back (a cost seen in
    profiles of ConvNet-3 training steps; not recorded as a benchmark). Raising glibc's mmap and trim thresholds
    keeps them (at the price of a higher resident size).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = bool(libc.mallopt(m_mmap_threshold, threshold)) and bool(libc.mallopt(m_trim_threshold, threshold))
    except (OSError, AttributeError):
        return False
    logger.debug("glibc allocator thresholds raised: %s", ok)
    return ok


def cpu_has_native_bf16() -> bool:
    """True if oneDNN reports native bf16 support (AVX512-BF16 or AMX) on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def precision_dtype(precision: str, device: torch.device | str = "cpu") -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device`` (``None`` means plain fp32).

    ``"auto"`` picks bf16 where the hardware computes it natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX)
    and fp32 elsewhere.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if _cuda_native_bf16() else None
    return torch.bfloat16 if device.type == "cpu" and cpu_has_native_bf16() else None


def _cuda_native_bf16() -> bool:
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))  # emulated bf16 is slow (V100, T4)
    except TypeError:  # older PyTorch: no emulation to exclude
        return bool(torch.cuda.is_bf16_supported())


def autocast(precision: str, device: torch.device | str = "cpu") -> contextlib.AbstractContextManager:
    """An autocast context for ``precision`` (a no-op context for fp32)."""
    device = torch.device(device)
    dtype = precision_dtype(precision, device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def inference_kernels(precision: str, device: torch.device | str = "cpu") -> str:
    """How a condensation run's no-grad passes (the real images' embeddings) compute under ``precision``: one of
    :data:`condensed_data.nn.kernels.KERNEL_MODES`.

    ``"fp32"`` keeps PyTorch's default kernels. ``"bf16"`` autocasts the whole loss to bf16 (both sides), so its
    no-grad passes need nothing more: ``"fp32"``. ``"auto"`` picks, by what was measured (docs, benchmarks, "Speed
    and memory"): bf16 where the hardware computes it natively; else, on a CPU, float32 in faster kernels
    (``"fast-fp32"``: NNPACK's convolutions where it is available, fused normalization and pooling); else
    ``"fp32"``. The synthetic side is never changed by ``"auto"``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return "fp32"
    device = torch.device(device)
    if precision_dtype("auto", device) is not None:
        return "bf16"
    return "fast-fp32" if device.type == "cpu" else "fp32"


def nnpack_available() -> bool:
    """Whether this PyTorch build has NNPACK (fast convolution algorithms on CPUs) and it runs on this CPU."""
    try:
        return bool(torch.backends.nnpack.is_available())
    except (AttributeError, RuntimeError):
        return False
