"""Network names -> constructors, and :func:`get_network`, the one way to build a network from a name.

The table is a plain dict of ``functools.partial`` constructors; names are lower-case and exact. The ConvNet names
that do not fix a depth (``convnet``, ``convnet-bn``, ``convnet-w64``, ...) take the literature's depth for the
image size (:func:`~condensed_data.nn.convnet.convnet_depth`: 3 up to 32 pixels, 4 at 64, 5 at 128); any of them
with ``-d<N>`` appended (``convnet-bn-d4``) fixes it. :func:`resolve_network` turns a name into the one that fixes
what it builds, which is what runs record.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import torch

from condensed_data.nn.alexnet import AlexNet
from condensed_data.nn.base import FeatureClassifier
from condensed_data.nn.convnet import DEFAULT_DEPTH, ConvNet, convnet_depth
from condensed_data.nn.init import build
from condensed_data.nn.mlp import MLP
from condensed_data.nn.resnet import ResNet18
from condensed_data.nn.vgg import VGG11

__all__ = ["get_network", "list_networks", "resolve_network"]

_NETWORKS: dict[str, Callable[..., FeatureClassifier]] = {
    "convnet": ConvNet,
    "convnet3": partial(ConvNet, depth=3),
    **{f"convnet-d{d}": partial(ConvNet, depth=d) for d in (1, 2, 3, 4, 5)},
    **{f"convnet-w{w}": partial(ConvNet, width=w) for w in (32, 64, 128, 256)},
    "convnet-bn": partial(ConvNet, norm="batchnorm"),
    "convnet-nn": partial(ConvNet, norm="none"),
    "convnet-ln": partial(ConvNet, norm="layernorm"),
    "convnet-mp": partial(ConvNet, pooling="maxpooling"),
    "convnet-np": partial(ConvNet, pooling="none"),
    "resnet18": ResNet18,
    "resnet18-bn": partial(ResNet18, norm="batchnorm"),
    "vgg11": VGG11,
    "vgg11-bn": partial(VGG11, norm="batchnorm"),
    "alexnet": AlexNet,
    "mlp": MLP,
}


_DEPTH_SUFFIX = re.compile(r"(?P<base>convnet.*)-d(?P<depth>[1-9][0-9]?)")


def _depth_free(factory: Callable[..., FeatureClassifier] | None) -> bool:
    """Whether ``factory`` builds a ConvNet whose depth follows the image size."""
    if isinstance(factory, partial):
        return factory.func is ConvNet and "depth" not in factory.keywords
    return factory is ConvNet


def _factory(name: str) -> Callable[..., FeatureClassifier] | None:
    """The constructor of ``name``: a table entry, or a depth-free ConvNet name with ``-d<N>`` appended."""
    factory = _NETWORKS.get(name)
    if factory is None and isinstance(name, str) and (match := _DEPTH_SUFFIX.fullmatch(name)):
        base = _NETWORKS.get(match["base"])
        if _depth_free(base):
            factory = partial(base, depth=int(match["depth"]))
    return factory


def _unknown(name: str) -> ValueError:
    return ValueError(
        f"no network named {name!r} is installed (known networks: {', '.join(list_networks())}); if a set's "
        "recipe names it, it comes from a newer condensed-data or a plugin: `pip install -U condensed-data` or "
        "install the plugin that provides it, or evaluate with one of the known networks (--eval-arch)"
    )


def resolve_network(name: str, image_size: tuple[int, int]) -> str:
    """The name that builds exactly what ``name`` builds on ``image_size`` images, whatever the image size: a
    depth-free ConvNet name gets ``-d<N>`` appended where its depth differs from the reference 3 (larger images).

    Runs record the resolved name (method config, recipe, evaluations), so a set made from 64x64 images with
    ``convnet`` says ``convnet-d4``. Up to 32 pixels every name is returned as it is, as before depths followed
    the image size.

    Raises:
        ValueError: For an unknown name (the message lists the known ones).

    Example:
        >>> resolve_network("convnet", (32, 32)), resolve_network("convnet", (64, 64))
        ('convnet', 'convnet-d4')
        >>> resolve_network("convnet-bn", (128, 128)), resolve_network("convnet-d3", (128, 128))
        ('convnet-bn-d5', 'convnet-d3')
    """
    factory = _factory(name)
    if factory is None:
        raise _unknown(name)
    depth = convnet_depth(image_size)
    return f"{name}-d{depth}" if _depth_free(factory) and depth != DEFAULT_DEPTH else name


def list_networks() -> list[str]:
    """Names accepted by :func:`get_network`, sorted.

    Example:
        >>> "convnet" in list_networks()
        True
    """
    return sorted(_NETWORKS)


def _check_shape(channels: int, num_classes: int, image_size: tuple[int, int]) -> tuple[int, int]:
    for label, value in (("channels", channels), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    size = tuple(image_size)
    if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(f"image_size must be two positive ints (height, width), got {image_size!r}")
    return size  # type: ignore[return-value]


def get_network(
    name: str,
    *,
    channels: int,
    num_classes: int,
    image_size: tuple[int, int],
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> FeatureClassifier:
    """Build the network ``name``, with initial weights drawn only from ``generator``.

    Every network has ``forward(x) -> logits``, ``embed(x) -> (N, embed_dim)`` flattened penultimate features, an
    ``embed_dim`` attribute, ``features`` (an ``nn.Sequential``) and ``classifier`` (the final ``nn.Linear``).
    The global RNG is never used.

    Args:
        name: One of :func:`list_networks`: ``convnet`` (width 128, instance norm, ReLU, average pooling, depth by
            image size: 3 up to 32 pixels, 4 at 64, 5 at 128), ``convnet3`` (depth 3 always),
            ``convnet-d1``..``-d5``, ``convnet-w32``..``-w256``, ``convnet-bn``, ``convnet-nn`` (no norm),
            ``convnet-ln``, ``convnet-mp`` (max pooling), ``convnet-np`` (no pooling), ``resnet18``,
            ``resnet18-bn``, ``vgg11``, ``vgg11-bn``, ``alexnet``, ``mlp``; a ConvNet name without a depth with
            ``-d<N>`` appended (``convnet-bn-d4``) fixes its depth.
        channels: Input channels.
        num_classes: Number of logits.
        image_size: Input ``(height, width)``.
        generator: Source of the initial weights; ``None`` draws a fresh non-deterministic seed.
        device: Where the network lives.

    Returns:
        The network, in training mode.

    Raises:
        ValueError: For an unknown name (the message lists the known ones) or invalid sizes.

    Example:
        >>> import torch
        >>> net = get_network("convnet", channels=3, num_classes=10, image_size=(32, 32),
        ...                   generator=torch.Generator().manual_seed(0))
        >>> tuple(net.embed(torch.zeros(4, 3, 32, 32)).shape)
        (4, 2048)
    """
    factory = _factory(name)
    if factory is None:
        raise _unknown(name)
    size = _check_shape(channels, num_classes, image_size)
    return build(
        partial(factory, channels=channels, num_classes=num_classes, image_size=size),
        generator=generator,
        device=device,
    )
