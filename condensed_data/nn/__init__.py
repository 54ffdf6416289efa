"""Networks used to condense and to evaluate condensed sets.

Build them by name with :func:`get_network`; every random number of the initialization comes from the generator
you pass (see :mod:`condensed_data.nn.init`).

Example:
    >>> import torch
    >>> from condensed_data.nn import get_network
    >>> net = get_network("convnet", channels=1, num_classes=10, image_size=(28, 28),
    ...                   generator=torch.Generator().manual_seed(0))
    >>> net.embed_dim
    2048
"""

from condensed_data.nn.alexnet import AlexNet
from condensed_data.nn.base import FeatureClassifier
from condensed_data.nn.convnet import ConvNet, convnet_depth
from condensed_data.nn.init import build, reset_parameters
from condensed_data.nn.mlp import MLP
from condensed_data.nn.registry import get_network, list_networks, resolve_network
from condensed_data.nn.resnet import ResNet18
from condensed_data.nn.vgg import VGG11

__all__ = [
    "MLP",
    "VGG11",
    "AlexNet",
    "ConvNet",
    "FeatureClassifier",
    "ResNet18",
    "build",
    "convnet_depth",
    "get_network",
    "list_networks",
    "reset_parameters",
    "resolve_network",
]
