"""VGG-11 for small images, as the dataset-condensation reference code defines it.

Eight 3x3 convolutions (64, 128, 256, 256, 512, 512, 512, 512 channels), each followed by a norm and a ReLU, with five
2x2 max-poolings, then a linear classifier. On 32x32 inputs (and on 28x28 ones, whose first convolution is padded to
32x32 as in the reference) the last map is 1x1 and ``embed_dim`` is 512. Poolings that would shrink a map below one
pixel are skipped, so 8x8 inputs also give 512; larger inputs give ``512 * h * w``. The reference's trailing
``AvgPool2d(1, 1)`` is the identity and is left out.
"""

from __future__ import annotations

from typing import Literal

from torch import nn

from condensed_data.nn.base import FeatureClassifier, conv_size, first_padding, pool_size

__all__ = ["VGG11"]

_VGG11: tuple[int | str, ...] = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
VGGNorm = Literal["instancenorm", "batchnorm"]


class VGG11(FeatureClassifier):
    """VGG-11 with instance norm (``GroupNorm(C, C)``, the reference default) or BatchNorm.

    Build it through :func:`condensed_data.nn.get_network` (``"vgg11"``, ``"vgg11-bn"``) to initialize it from an
    explicit generator.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.
        norm: ``"instancenorm"`` or ``"batchnorm"``.

    Example:
        >>> import torch
        >>> from condensed_data.nn import get_network
        >>> net = get_network("vgg11", channels=1, num_classes=10, image_size=(28, 28),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> net.embed_dim, tuple(net(torch.zeros(2, 1, 28, 28)).shape)
        (512, (2, 10))
    """

    def __init__(
        self,
        *,
        channels: int,
        num_classes: int,
        image_size: tuple[int, int],
        norm: VGGNorm = "instancenorm",
    ) -> None:
        if norm not in ("instancenorm", "batchnorm"):
            raise ValueError(f"unknown norm {norm!r} for VGG11; expected 'instancenorm' or 'batchnorm'")
        layers: list[nn.Module] = []
        size = tuple(image_size)
        in_channels = channels
        for item in _VGG11:
            if item == "M":
                pooled = pool_size(size)
                if pooled is not None:
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                    size = pooled
                continue
            out_channels = int(item)
            padding = first_padding(image_size, 1) if not layers else 1
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=padding),
                nn.GroupNorm(out_channels, out_channels) if norm == "instancenorm" else nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True),
            ]
            size = conv_size(size, kernel=3, padding=padding)
            in_channels = out_channels
        super().__init__(nn.Sequential(*layers), embed_dim=in_channels * size[0] * size[1], num_classes=num_classes)
