"""Build networks without touching the global RNG.

PyTorch layers initialize their weights from the global generator as soon as they are constructed. To keep every
random draw explicit, :func:`build` constructs a module on the ``meta`` device (no storage, no random numbers),
allocates it with ``to_empty`` and then :func:`reset_parameters` fills every parameter and buffer from a
``torch.Generator`` with the same distributions PyTorch's own ``reset_parameters`` uses:

- ``Linear`` / ``Conv*d``: weight ``kaiming_uniform_(a=sqrt(5))`` (that is ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``),
  bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``;
- ``BatchNorm*d``, ``GroupNorm``, ``LayerNorm``: weight ones, bias zeros, running mean zeros, running variance ones.

Modules are visited in ``module.modules()`` order and each draws weight then bias, so one seed gives one network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import torch
from torch import nn

__all__ = ["build", "reset_parameters"]

M = TypeVar("M", bound=nn.Module)

_FAN_IN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
# Their reset_parameters() is deterministic (ones / zeros / running statistics), so it may be called as is.
_DETERMINISTIC_LAYERS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.LayerNorm)


def _fan_in_uniform_(weight: torch.Tensor, bias: torch.Tensor | None, generator: torch.Generator) -> None:
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        fan_in = weight.shape[1] * math.prod(weight.shape[2:])
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(bias, -bound, bound, generator=generator)


def _owns_state(module: nn.Module) -> bool:
    return any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(recurse=False))


@torch.no_grad()
def reset_parameters(module: M, *, generator: torch.Generator) -> M:
    """Initialize every parameter and buffer of ``module`` in place, drawing only from ``generator``.

    Args:
        module: The module to initialize. Its tensors must live on ``generator.device``.
        generator: Source of every random number.

    Returns:
        ``module`` itself.

    Raises:
        TypeError: If a sub-module with its own parameters or buffers is of a type this function does not know
            (it would otherwise be left uninitialized).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> a = reset_parameters(torch.nn.Linear(4, 2), generator=g)
        >>> b = reset_parameters(torch.nn.Linear(4, 2), generator=torch.Generator().manual_seed(0))
        >>> torch.equal(a.weight, b.weight)
        True
    """
    for sub in module.modules():
        if isinstance(sub, _FAN_IN_LAYERS):
            _fan_in_uniform_(sub.weight, sub.bias, generator)
        elif isinstance(sub, _DETERMINISTIC_LAYERS):
            sub.reset_parameters()
        elif _owns_state(sub):
            raise TypeError(
                f"cannot initialize {type(sub).__name__} from a generator; add it to condensed_data.nn.init"
            )
    return module


def build(
    factory: Callable[[], M],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> M:
    """Construct ``factory()`` without using the global RNG and initialize it from ``generator``.

    Args:
        factory: Builds the module; it is called under ``torch.device("meta")``.
        generator: Source of the initial weights. ``None`` means a fresh generator with a non-deterministic seed
            (a new random network every call, as the reference code does, but without re-seeding global state).
        device: Where the returned module lives.

    Returns:
        The initialized module on ``device``.

    Example:
        >>> net = build(lambda: torch.nn.Linear(3, 2), generator=torch.Generator().manual_seed(0))
        >>> net.weight.device.type
        'cpu'
    """
    if generator is None:
        generator = torch.Generator()
        generator.seed()
    with torch.device("meta"):
        module = factory()
    # Initialize where the generator lives (a CPU generator cannot fill CUDA tensors), then move once.
    module.to_empty(device=generator.device)
    reset_parameters(module, generator=generator)
    return module.to(device)
