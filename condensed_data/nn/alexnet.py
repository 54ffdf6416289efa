"""AlexNet for small images, as the dataset-condensation reference code defines it.

``Conv5x5(128) -> ReLU -> MaxPool -> Conv5x5(192) -> ReLU -> MaxPool -> Conv3x3(256) -> ReLU -> Conv3x3(192) -> ReLU
-> Conv3x3(192) -> ReLU -> MaxPool``, no normalization, then a linear classifier. 32x32 inputs give 4x4 maps
(``embed_dim = 192 * 16 = 3072``); 28x28 inputs get a first-layer padding of 4 instead of 2 (28 -> 32), as in the
reference, and give the same size. Poolings that would shrink a map below one pixel are skipped.
"""

from __future__ import annotations

from torch import nn

from condensed_data.nn.base import FeatureClassifier, conv_size, first_padding, pool_size

__all__ = ["AlexNet"]

# (out_channels, kernel, pool after the ReLU)
_LAYERS = ((128, 5, True), (192, 5, True), (256, 3, False), (192, 3, False), (192, 3, True))


class AlexNet(FeatureClassifier):
    """AlexNet (reference variant for 32x32 images, no normalization).

    Build it through :func:`condensed_data.nn.get_network` (``"alexnet"``) to initialize it from an explicit
    generator.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.

    Example:
        >>> import torch
        >>> from condensed_data.nn import get_network
        >>> net = get_network("alexnet", channels=3, num_classes=10, image_size=(32, 32),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> net.embed_dim
        3072
    """

    def __init__(self, *, channels: int, num_classes: int, image_size: tuple[int, int]) -> None:
        layers: list[nn.Module] = []
        size = tuple(image_size)
        in_channels = channels
        for i, (out_channels, kernel, pool) in enumerate(_LAYERS):
            padding = kernel // 2
            if i == 0:
                padding = first_padding(image_size, padding)
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=kernel, padding=padding), nn.ReLU(inplace=True)]
            size = conv_size(size, kernel=kernel, padding=padding)
            pooled = pool_size(size) if pool else None
            if pooled is not None:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                size = pooled
            in_channels = out_channels
        super().__init__(nn.Sequential(*layers), embed_dim=in_channels * size[0] * size[1], num_classes=num_classes)
