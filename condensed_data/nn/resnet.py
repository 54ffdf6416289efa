"""ResNet-18 for small images, as the dataset-condensation reference code defines it.

A 3x3 stride-1 stem without max-pooling, four stages of two basic blocks (64, 128, 256, 512 channels; stages 2-4
start with a stride-2 convolution), global average pooling and a linear classifier: ``embed_dim`` is 512 for any input
size. Normalization is instance norm (``GroupNorm(C, C)``) by default or BatchNorm (``"resnet18-bn"``).

28x28 inputs need no adaptation: the stride-2 convolutions give 28 -> 14 -> 7 -> 4, and the reference's
``avg_pool2d(out, 4)`` on that 4x4 map is exactly the global average pooling used here (which also works on 8x8).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from condensed_data.nn.base import FeatureClassifier

__all__ = ["BasicBlock", "ResNet18"]

ResNetNorm = Literal["instancenorm", "batchnorm"]


def _norm(kind: ResNetNorm, channels: int) -> nn.Module:
    return nn.GroupNorm(channels, channels, affine=True) if kind == "instancenorm" else nn.BatchNorm2d(channels)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (1x1 projection when the shape changes)."""

    def __init__(self, in_channels: int, channels: int, *, stride: int, norm: ResNetNorm) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.norm1 = _norm(norm, channels)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=1, padding=1, bias=False)
        self.norm2 = _norm(norm, channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, kernel_size=1, stride=stride, bias=False), _norm(norm, channels)
            )
        self.relu2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.norm2(self.conv2(self.relu1(self.norm1(self.conv1(x)))))
        # In place is safe: neither norm's backward needs its output.
        out += self.shortcut(x)
        return self.relu2(out)


class ResNet18(FeatureClassifier):
    """ResNet-18 for 28x28 / 32x32-sized images.

    Build it through :func:`condensed_data.nn.get_network` (``"resnet18"``, ``"resnet18-bn"``) to initialize it from
    an explicit generator.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``; only checked, every size gives a 512-d embedding.
        norm: ``"instancenorm"`` or ``"batchnorm"``.

    Example:
        >>> import torch
        >>> from condensed_data.nn import get_network
        >>> net = get_network("resnet18", channels=3, num_classes=10, image_size=(32, 32),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> net.embed_dim, tuple(net(torch.zeros(2, 3, 32, 32)).shape)
        (512, (2, 10))
    """

    def __init__(
        self,
        *,
        channels: int,
        num_classes: int,
        image_size: tuple[int, int],
        norm: ResNetNorm = "instancenorm",
    ) -> None:
        if norm not in ("instancenorm", "batchnorm"):
            raise ValueError(f"unknown norm {norm!r} for ResNet18; expected 'instancenorm' or 'batchnorm'")
        if channels < 1 or min(image_size) < 1:
            raise ValueError(f"channels and image_size must be positive, got {channels}, {image_size}")
        layers: list[nn.Module] = [
            nn.Conv2d(channels, 64, kernel_size=3, stride=1, padding=1, bias=False),
            _norm(norm, 64),
            nn.ReLU(inplace=True),
        ]
        in_channels = 64
        for channels_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(
                nn.Sequential(
                    BasicBlock(in_channels, channels_out, stride=stride, norm=norm),
                    BasicBlock(channels_out, channels_out, stride=1, norm=norm),
                )
            )
            in_channels = channels_out
        layers.append(nn.AdaptiveAvgPool2d(1))
        super().__init__(nn.Sequential(*layers), embed_dim=in_channels, num_classes=num_classes)
