"""How many images one forward pass may take: a budget of input pixels, so activation memory stays bounded.

A ConvNet's activations grow with the batch times the image area: 512 images of 32 x 32 pixels take what 32 images of
128 x 128 take. The matching loop and the evaluation split their passes by :func:`pass_size` (512 images up to
32 x 32, the sizes every published protocol uses, so their results and speed there are what they always were; fewer
as images grow). Splitting a batch changes nothing for networks that treat every sample on its own (instance or no
normalization); a network with batch statistics (:func:`per_sample` is false) must see the batch in one pass.

>>> pass_size((3, 32, 32)), pass_size((3, 64, 64)), pass_size((3, 128, 128)), pass_size((1, 8, 8))
(512, 128, 32, 512)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["CHUNK_PIXELS", "pass_size", "per_sample"]

CHUNK_PIXELS = 512 * 32 * 32
_MAX_IMAGES = 512


def pass_size(image_shape: Sequence[int], pixels: int = CHUNK_PIXELS) -> int:
    """Images of ``image_shape`` (``(..., H, W)``) per forward pass: at most ``pixels`` input pixels, at most 512."""
    area = int(image_shape[-1]) * int(image_shape[-2])
    return min(_MAX_IMAGES, max(1, pixels // area))


def per_sample(net: torch.nn.Module) -> bool:
    """Whether ``net`` computes each sample on its own (no batch normalization), so a batch may be split."""
    return not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
