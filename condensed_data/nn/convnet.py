"""ConvNet: the standard backbone of dataset condensation (DC, DSA, DM and their successors).

``depth`` blocks of ``Conv2d(3x3, padding 1) -> norm -> ReLU -> 2x2 pooling``, then a linear classifier on the
flattened map. The defaults (width 128, depth 3 up to 32 pixels, instance norm, average pooling) are the reference ``ConvNet``; on
28x28 or 32x32 inputs the embedding is ``128 * 4 * 4 = 2048``-dimensional (see :mod:`condensed_data.nn.base` for
the 28x28 padding rule). Unlike the reference, the extra first-layer padding depends on the image being 28x28, not on
it having one channel, so 1-channel inputs of other sizes (8x8 digits: 8 -> 4 -> 2 -> 1) keep their natural size.

Without an explicit ``depth`` the depth follows the image size as in the literature (:func:`convnet_depth`):
ConvNet-3 up to 32 pixels (so 28x28 and 32x32 get the reference network), ConvNet-4 at 64 (Tiny ImageNet),
ConvNet-5 at 128: one more block per doubling, pooling the map down to about 4 pixels.
"""

from __future__ import annotations

import math
from typing import Literal

from torch import nn

from condensed_data.nn.base import FeatureClassifier, Norm, conv_size, first_padding, make_norm, pool_size
from condensed_data.nn.kernels import AvgPool2d, Conv2d, Sequential

__all__ = ["DEFAULT_DEPTH", "ConvNet", "Pooling", "convnet_depth"]

Pooling = Literal["avgpooling", "maxpooling", "none"]
_POOLINGS = ("avgpooling", "maxpooling", "none")
DEFAULT_DEPTH = 3  # the reference ConvNet's, at 28x28 and 32x32
_FINAL_SIZE = 4  # pixels the last block's map is pooled down to (32 -> 4 at depth 3)


def convnet_depth(image_size: tuple[int, int]) -> int:
    """The literature's ConvNet depth for ``(height, width)`` images: 3 up to 32 pixels, then one block more per
    doubling of the smaller side, so the last map is about 4 pixels (64 -> 4, 128 -> 5, 256 -> 6).

    Example:
        >>> [convnet_depth((s, s)) for s in (8, 28, 32, 48, 64, 128, 256)]
        [3, 3, 3, 4, 4, 5, 6]
    """
    side = min(int(image_size[0]), int(image_size[1]))
    return max(DEFAULT_DEPTH, math.ceil(math.log2(max(side, 1) / _FINAL_SIZE)))


def _pool(kind: Pooling) -> nn.Module:
    return AvgPool2d(kernel_size=2, stride=2) if kind == "avgpooling" else nn.MaxPool2d(kernel_size=2, stride=2)


class ConvNet(FeatureClassifier):
    """ConvNet-``depth`` of width ``width`` (the depth following the image size unless given).

    Build it through :func:`condensed_data.nn.get_network` (e.g. ``"convnet"``, ``"convnet-bn"``) to initialize it
    from an explicit generator; constructing it directly uses PyTorch's default (global-RNG) initialization.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.
        width: Channels of every convolution.
        depth: Number of conv blocks; ``None`` (default): :func:`convnet_depth` of ``image_size``.
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
        depth: int | None = None,
        norm: Norm = "instancenorm",
        pooling: Pooling = "avgpooling",
    ) -> None:
        depth = convnet_depth(image_size) if depth is None else depth
        if depth < 1 or width < 1 or channels < 1:
            raise ValueError(f"channels, width and depth must be >= 1, got {channels}, {width}, {depth}")
        if pooling not in _POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; expected one of {', '.join(_POOLINGS)}")
        layers: list[nn.Module] = []
        size = tuple(image_size)
        in_channels = channels
        for d in range(depth):
            padding = first_padding(size, 1) if d == 0 else 1
            layers.append(Conv2d(in_channels, width, kernel_size=3, padding=padding))
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
        super().__init__(Sequential(*layers), embed_dim=width * size[0] * size[1], num_classes=num_classes)
