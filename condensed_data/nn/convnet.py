"""ConvNet: the standard backbone of dataset condensation (DC, DSA, DM and their successors).

``depth`` blocks of ``Conv2d(3x3, padding 1) -> norm -> ReLU -> 2x2 pooling``, then a linear classifier on the
flattened map. The defaults (width 128, depth 3, instance norm, average pooling) are the reference ``ConvNet``; on
28x28 or 32x32 inputs the embedding is ``128 * 4 * 4 = 2048``-dimensional (see :mod:`condensed_data.nn.base` for
the 28x28 padding rule). Unlike the reference, the extra first-layer padding depends on the image being 28x28, not on
it having one channel, so 1-channel inputs of other sizes (8x8 digits: 8 -> 4 -> 2 -> 1) keep their natural size.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from condensed_data.nn.base import FeatureClassifier, Norm, conv_size, first_padding, make_norm, pool_size

__all__ = ["ConvNet", "Pooling"]

Pooling = Literal["avgpooling", "maxpooling", "none"]
_POOLINGS = ("avgpooling", "maxpooling", "none")


def _pool(kind: Pooling) -> nn.Module:
    return nn.AvgPool2d(kernel_size=2, stride=2) if kind == "avgpooling" else nn.MaxPool2d(kernel_size=2, stride=2)


class ConvNet(FeatureClassifier):
    """ConvNet-``depth`` of width ``width``.

    Build it through :func:`condensed_data.nn.get_network` (e.g. ``"convnet"``, ``"convnet-bn"``) to initialize it
    from an explicit generator; constructing it directly uses PyTorch's default (global-RNG) initialization.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.
        width: Channels of every convolution.
        depth: Number of conv blocks.
        norm: ``"instancenorm"`` (``GroupNorm(width, width)``), ``"batchnorm"``, ``"layernorm"``, ``"groupnorm"``
            or ``"none"``.
        pooling: ``"avgpooling"``, ``"maxpooling"`` or ``"none"``.

    Example:
        >>> import torch
        >>> from condensed_data.nn import get_network
        >>> net = get_network("convnet", channels=1, num_classes=10, image_size=(28, 28),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> net.embed_dim, tuple(net(torch.zeros(2, 1, 28, 28)).shape)
        (2048, (2, 10))
    """

    def __init__(
        self,
        *,
        channels: int,
        num_classes: int,
        image_size: tuple[int, int],
        width: int = 128,
        depth: int = 3,
        norm: Norm = "instancenorm",
        pooling: Pooling = "avgpooling",
    ) -> None:
        if depth < 1 or width < 1 or channels < 1:
            raise ValueError(f"channels, width and depth must be >= 1, got {channels}, {width}, {depth}")
        if pooling not in _POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(_POOLINGS)}")
        layers: list[nn.Module] = []
        size = tuple(image_size)
        in_channels = channels
        for d in range(depth):
            padding = first_padding(size, 1) if d == 0 else 1
            layers.append(nn.Conv2d(in_channels, width, kernel_size=3, padding=padding))
            size = conv_size(size, kernel=3, padding=padding)
            norm_layer = make_norm(norm, width, size)
            if norm_layer is not None:
                layers.append(norm_layer)
            layers.append(nn.ReLU(inplace=True))
            pooled = pool_size(size) if pooling != "none" else None
            if pooled is not None:
                layers.append(_pool(pooling))
                size = pooled
            in_channels = width
        super().__init__(nn.Sequential(*layers), embed_dim=width * size[0] * size[1], num_classes=num_classes)
