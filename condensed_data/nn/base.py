"""Shared pieces of the classification networks: the features -> classifier shape and size arithmetic.

Every network here is a :class:`FeatureClassifier`: ``features`` (an ``nn.Sequential`` whose ``nn.ReLU`` modules can
be hooked for intermediate activations), a flatten, and one ``nn.Linear`` ``classifier``. ``embed(x)`` is the
flattened output of ``features`` (what distribution-matching methods compare) and ``embed_dim`` its width.

Feature sizes are computed with the usual formulas while the layers are created, so the classifier always matches the
input size, with two conventions taken from the reference code (VICO-UoE/DatasetCondensation):

- a 28x28 input gets 2 extra pixels of padding in the first convolution (``28 + 2*2 = 32``), so MNIST-sized images
  produce the same feature maps as 32x32 ones;
- a 2x2 pooling is skipped once a feature map is smaller than 2 pixels (the reference would crash), so deep variants
  still build on tiny inputs such as 8x8 digits.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

__all__ = ["FeatureClassifier", "Norm", "conv_size", "first_padding", "make_norm", "pool_size"]

Norm = Literal["instancenorm", "batchnorm", "layernorm", "groupnorm", "none"]
_NORMS = ("instancenorm", "batchnorm", "layernorm", "groupnorm", "none")


class FeatureClassifier(nn.Module):
    """A feature extractor followed by a flatten and a linear classifier.

    Attributes:
        features: Feature extractor; its output is flattened into the embedding.
        classifier: The final ``nn.Linear(embed_dim, num_classes)``.
        embed_dim: Width of :meth:`embed`'s output.
    """

    def __init__(self, features: nn.Sequential, *, embed_dim: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if embed_dim < 1:
            raise ValueError(f"the input is too small for this network: the feature map is empty ({embed_dim})")
        self.features = features
        self.classifier = nn.Linear(embed_dim, num_classes)
        self.embed_dim = embed_dim

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened penultimate features ``(N, embed_dim)`` of images ``x`` ``(N, C, H, W)``."""
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(N, num_classes)`` of images ``x`` ``(N, C, H, W)``."""
        return self.classifier(self.features(x).flatten(1))


def make_norm(kind: Norm, channels: int, spatial: tuple[int, int]) -> nn.Module | None:
    """The normalization layer named ``kind`` for a ``(channels, *spatial)`` feature map (``None`` for ``"none"``).

    ``"instancenorm"`` is ``GroupNorm(channels, channels)`` (one group per channel, affine), as in the reference.
    """
    if kind == "instancenorm":
        return nn.GroupNorm(channels, channels, affine=True)
    if kind == "batchnorm":
        return nn.BatchNorm2d(channels, affine=True)
    if kind == "layernorm":
        return nn.LayerNorm([channels, *spatial], elementwise_affine=True)
    if kind == "groupnorm":
        return nn.GroupNorm(4, channels, affine=True)
    if kind == "none":
        return None
    raise ValueError(f"unknown norm {kind!r}; expected one of {', '.join(_NORMS)}")


def first_padding(image_size: tuple[int, int], padding: int) -> int:
    """Padding of the first convolution: 2 more than ``padding`` for 28x28 inputs (28 -> 32)."""
    return padding + 2 if tuple(image_size) == (28, 28) else padding


def conv_size(size: tuple[int, int], *, kernel: int, padding: int, stride: int = 1) -> tuple[int, int]:
    """Spatial output size of a square convolution."""
    return tuple((s + 2 * padding - kernel) // stride + 1 for s in size)  # type: ignore[return-value]


def pool_size(size: tuple[int, int]) -> tuple[int, int] | None:
    """Output size of a 2x2 / stride-2 pooling, or ``None`` when the map is too small and the pool is skipped."""
    if min(size) < 2:
        return None
    return size[0] // 2, size[1] // 2
