"""Argument checks for RealDataset, each raising an error that says what to pass instead."""

from __future__ import annotations

import logging
import operator
from collections.abc import Sequence
from typing import Any

import torch

__all__ = [
    "channel_stats",
    "check_classes",
    "check_count",
    "check_generator",
    "check_images",
    "check_labels",
    "check_stats",
    "check_text",
]

logger = logging.getLogger(__name__)


def check_classes(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str) or not isinstance(classes, Sequence):
        raise TypeError(f"classes must be a sequence of class names, got {type(classes).__name__}")
    names = list(classes)
    if not names:
        raise ValueError("classes is empty: pass one name per class, e.g. classes=['cat', 'dog']")
    not_text = [name for name in names if not isinstance(name, str)]
    if not_text:
        raise TypeError(f"class names must be strings, got {not_text[0]!r}; use e.g. [str(c) for c in classes]")
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"class names must be unique, but {duplicates} appear more than once")
    return names


def check_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value


def check_images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(
            f"images must be a torch.Tensor, got {type(images).__name__}; "
            "use condensed_data.data.from_tensors() for numpy arrays or uint8 images"
        )
    if images.dim() != 4:
        hint = " (for (N, H, W) grayscale images use images.unsqueeze(1))" if images.dim() == 3 else ""
        raise ValueError(f"images must be 4-D (N, C, H, W), got shape {tuple(images.shape)}{hint}")
    if not images.is_floating_point():
        raise ValueError(
            f"images must be a float tensor of pixel values in [0, 1], got dtype {images.dtype}; "
            "convert uint8 images with images.float() / 255, or use from_tensors(), which does it"
        )
    if images.shape[0] == 0:
        raise ValueError("images is empty: a RealDataset needs at least one image")
    images = images.detach().to(torch.float32).contiguous()
    low, high = (float(v) for v in torch.aminmax(images))
    if not (low >= 0.0 and high <= 1.0):  # also rejects NaN
        raise ValueError(
            f"images must hold pixel values in [0, 1], found min={low:.4g}, max={high:.4g}; "
            "denormalize normalized images first (x * std + mean), and divide 0..255 data by 255"
        )
    return images


def check_labels(labels: torch.Tensor, *, num_images: int, classes: list[str]) -> torch.Tensor:
    if not isinstance(labels, torch.Tensor):
        raise TypeError(
            f"labels must be a torch.Tensor, got {type(labels).__name__}; "
            "use condensed_data.data.from_tensors() for lists or numpy arrays"
        )
    if labels.dim() != 1:
        raise ValueError(f"labels must be 1-D (N,) class indices, got shape {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}; use labels.long()")
    if labels.shape[0] != num_images:
        raise ValueError(f"got {num_images} images but {labels.shape[0]} labels; pass exactly one label per image")
    labels = labels.detach().to(torch.int64).contiguous()
    low, high = (int(v) for v in torch.aminmax(labels))
    if low < 0 or high >= len(classes):
        raise ValueError(
            f"labels must lie in [0, {len(classes)}) for {len(classes)} classes, found min={low}, max={high}; "
            "pass one class name per label value in `classes`"
        )
    return labels


def check_stats(values: Sequence[float], channels: int, what: str, *, positive: bool = False) -> tuple[float, ...]:
    if isinstance(values, torch.Tensor):
        values = values.flatten().tolist()
    stats = tuple(float(v) for v in values)
    if len(stats) != channels:
        raise ValueError(f"{what} must have one value per channel ({channels}), got {len(stats)}: {stats}")
    bad = [v for v in stats if v != v or v in (float("inf"), float("-inf")) or (positive and v <= 0.0)]
    if bad:
        rule = "finite and positive" if positive else "finite"
        raise ValueError(f"{what} values must be {rule}, got {stats}")
    return stats


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    var, mean = torch.var_mean(images, dim=(0, 2, 3), correction=0)
    std = var.sqrt().tolist()
    if any(s == 0.0 for s in std):
        # A constant channel (e.g. a tiny all-black set) has no spread to divide by; 1.0 leaves it centred only.
        logger.warning("a channel of the images is constant (std 0); using std 1.0 for it. Pass std= to choose")
        std = [s if s > 0.0 else 1.0 for s in std]
    return tuple(mean.tolist()), tuple(std)


def check_count(n: int) -> int:
    try:
        count = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer number of images, got {n!r}") from None
    if count < 1:
        raise ValueError(f"n must be at least 1, got {count}")
    return count


def check_generator(generator: torch.Generator) -> None:
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator, got {type(generator).__name__}; "
            "pass e.g. generator=torch.Generator().manual_seed(0)"
        )


def draw_per_class(
    source: Any,
    n: int,
    generator: torch.Generator,
    classes: Sequence[int] | None,
    keep: Sequence[int] | None,
) -> list[tuple[int, torch.Tensor]]:
    """The ``(class, draw)`` pairs of a ``sample_per_class`` call, the one rule every real source follows.

    The requested classes (all when ``None``) are checked with ``source._check_class`` and drawn in order with
    ``source._draw(c, n, generator)``, so the generator advances for every requested class; then only the
    positions ``keep`` names are returned (a class-sharded process keeps its own, in step with the others).

    Raises:
        ValueError: an empty ``classes`` or ``keep``.
    """
    check_generator(generator)
    wanted = range(source.num_classes) if classes is None else [source._check_class(c) for c in classes]
    if len(wanted) == 0:
        raise ValueError("sample_per_class got an empty `classes`; pass None for all classes or at least one index")
    draws = [(c, source._draw(c, n, generator)) for c in wanted]
    if keep is not None:
        draws = [draws[i] for i in keep]
        if not draws:
            raise ValueError("sample_per_class got an empty `keep`; pass None to keep every class")
    return draws
