"""A three-layer perceptron on flattened images (the reference ``MLP``: two hidden layers of 128 units)."""

from __future__ import annotations

from torch import nn

from condensed_data.nn.base import FeatureClassifier

__all__ = ["MLP"]


class MLP(FeatureClassifier):
    """``Flatten -> Linear(C*H*W, 128) -> ReLU -> Linear(128, 128) -> ReLU`` features and a linear classifier.

    ``embed_dim`` is the hidden width (128). The reference hard-codes the input width for 28x28x1 and 32x32x3; here
    it is ``channels * height * width``, which is the same for those two shapes.

    Args:
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.
        hidden: Width of both hidden layers.

    Example:
        >>> import torch
        >>> from condensed_data.nn import get_network
        >>> net = get_network("mlp", channels=1, num_classes=10, image_size=(8, 8),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> tuple(net.embed(torch.zeros(2, 1, 8, 8)).shape)
        (2, 128)
    """

    def __init__(self, *, channels: int, num_classes: int, image_size: tuple[int, int], hidden: int = 128) -> None:
        features = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * image_size[0] * image_size[1], hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
        )
        super().__init__(features, embed_dim=hidden, num_classes=num_classes)
