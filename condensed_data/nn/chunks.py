"""How many images one forward pass may take: a budget of input pixels, so activation memory stays bounded.

A ConvNet's activations grow with the batch times the image area: 512 images of 32 x 32 pixels take what 32 images of
128 x 128 take. The matching loop and the evaluation split their passes by :func:`pass_size` (512 images up to
32 x 32, the sizes every published protocol uses, so their results and speed there are what they always were; fewer
as images grow), and passes whose activations are kept for backward by :func:`backward_pass_size`. The matching
loop's real images go in passes of at most 256 for networks that treat every sample on its own (instance or no
normalization), where splitting a batch changes nothing; a network with batch statistics (:func:`per_sample` is
false) must see the batch in one pass.

>>> pass_size((3, 32, 32)), pass_size((3, 64, 64)), pass_size((3, 128, 128)), pass_size((1, 8, 8))
(512, 64, 16, 512)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["CHUNK_PIXELS", "backward_pass_size", "pass_size", "per_sample"]

CHUNK_PIXELS = 256 * 32 * 32
_MAX_IMAGES = 512
_SMALL = 32 * 32  # the published protocols' sizes: passes of 512 images, as they always were


def pass_size(image_shape: Sequence[int], pixels: int = CHUNK_PIXELS) -> int:
    """Images of ``image_shape`` (``(..., H, W)``) per forward pass: 512 up to 32 x 32 pixels, above that at most
    ``pixels`` input pixels (64 images at 64 x 64, 16 at 128 x 128)."""
    area = int(image_shape[-1]) * int(image_shape[-2])
    return _MAX_IMAGES if area <= _SMALL else min(_MAX_IMAGES, max(1, pixels // area))


def backward_pass_size(image_shape: Sequence[int], count: int, pixels: int = CHUNK_PIXELS) -> int:
    """Images per pass for ``count`` images whose activations are kept for a backward pass (about four times what
    a forward pass alone holds): all of them when they fit one forward pass (:func:`pass_size`), as before; else a
    quarter of that pass.

    >>> backward_pass_size((1, 28, 28), 500), backward_pass_size((3, 128, 128), 100)
    (500, 4)
    """
    size = pass_size(image_shape, pixels)
    return count if count <= size else max(1, size // 4)


def per_sample(net: torch.nn.Module) -> bool:
    """Whether ``net`` computes each sample on its own (no batch normalization), so a batch may be split."""
    return not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())
