"""Build a :class:`RealDataset` from tensors, from any map-style dataset, or from an ImageFolder-style directory.

None of these import torchvision: a torchvision dataset is just a map-style dataset that yields
``(PIL image, int)`` and has a ``.classes`` list.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from condensed_data.data._convert import image_to_tensor, stack_images, to_label
from condensed_data.data.real import RealDataset

__all__ = ["IMAGE_EXTENSIONS", "from_image_folder", "from_tensors", "from_torchvision"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")


def from_tensors(
    images: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray | Sequence[int],
    *,
    classes: Sequence[str] | None = None,
    name: str = "custom",
    split: str = "train",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> RealDataset:
    """A :class:`RealDataset` from in-memory images and labels.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)`` tensor or array; uint8 values are divided by 255, float values
            must already be in [0, 1].
        labels: ``(N,)`` integer class indices.
        classes: class names; defaults to ``"0"``, ``"1"``, ... up to the largest label.
        name: dataset name.
        split: split name.
        mean: per-channel normalization mean; defaults to the images' own statistics.
        std: per-channel normalization std; defaults to the images' own statistics.

    Example:
        >>> import torch
        >>> ds = from_tensors(torch.randint(0, 256, (4, 8, 8), dtype=torch.uint8), torch.tensor([0, 1, 1, 0]))
        >>> ds.image_shape, ds.classes, float(ds.images.max()) <= 1.0
        ((1, 8, 8), ['0', '1'], True)
    """
    pixels = torch.from_numpy(np.ascontiguousarray(images)) if isinstance(images, np.ndarray) else images
    if not isinstance(pixels, torch.Tensor):
        raise TypeError(f"images must be a tensor or numpy array, got {type(images).__name__}")
    if pixels.dim() == 3:
        pixels = pixels.unsqueeze(1)
    if pixels.dtype == torch.uint8:
        pixels = pixels.to(torch.float32).div_(255)
    targets = labels if isinstance(labels, torch.Tensor) else torch.as_tensor(np.asarray(labels))
    if classes is None:
        classes = _default_classes(targets)
    return RealDataset(pixels, targets, classes=classes, name=name, split=split, mean=mean, std=std)


def from_torchvision(
    dataset: Any,
    *,
    name: str | None = None,
    split: str = "train",
    classes: Sequence[str] | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> RealDataset:
    """A :class:`RealDataset` from a torchvision dataset, or any map-style dataset of ``(image, int)`` items.

    Images may be PIL images, numpy arrays (``(H, W)``, ``(H, W, C)``) or tensors (``(C, H, W)``, ``(H, W)``);
    uint8 pixels are divided by 255, 2-D images get one channel. A transform must not normalize (values must stay
    in [0, 1]). Datasets with in-memory ``.data``/``.targets`` and no transforms (MNIST, Fashion-MNIST, CIFAR)
    are read in one step instead of item by item.

    Args:
        dataset: the dataset; its ``.classes`` are used when present.
        name: dataset name; defaults to the dataset's class name, lower-cased.
        split: split name.
        classes: class names, overriding ``dataset.classes``.
        mean: per-channel normalization mean; defaults to the images' own statistics.
        std: per-channel normalization std; defaults to the images' own statistics.

    Example:
        >>> import numpy as np
        >>> items = [(np.full((4, 4), 255, dtype=np.uint8), 1), (np.zeros((4, 4), dtype=np.uint8), 0)]
        >>> ds = from_torchvision(items, name="toy", classes=["off", "on"])
        >>> ds.image_shape, ds.labels.tolist(), float(ds.images[0].mean())
        ((1, 4, 4), [1, 0], 1.0)
    """
    label_name = name or type(dataset).__name__.lower()
    fast = _read_in_memory(dataset)
    if fast is not None:
        images, labels = fast
        logger.debug("from_torchvision: read %s from its .data/.targets", label_name)
    else:
        images, labels = _read_items(dataset, source=label_name)
    if classes is None:
        classes = _classes_of(dataset)
    if classes is None:
        classes = _default_classes(labels)
    return RealDataset(images, labels, classes=list(classes), name=label_name, split=split, mean=mean, std=std)


def from_image_folder(
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    image_size: tuple[int, int] | None = None,
    grayscale: bool = False,
    name: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> RealDataset:
    """A :class:`RealDataset` from an ImageFolder layout: ``path/<class name>/<image file>``.

    Classes are the sub-folder names in sorted order (as torchvision's ImageFolder does); files are read with PIL
    in sorted order, converted to RGB (or to one channel with ``grayscale=True``).

    Args:
        path: the root folder.
        split: split name.
        image_size: ``(height, width)`` to resize every image to (bilinear); without it all images must
            already share one size.
        grayscale: read images as one channel.
        name: dataset name; defaults to the folder's name.
        mean: per-channel normalization mean; defaults to the images' own statistics.
        std: per-channel normalization std; defaults to the images' own statistics.

    Raises:
        FileNotFoundError: ``path`` is not a folder, or it has no class folders.
        ValueError: a class folder has no images, a file cannot be read, or sizes differ without ``image_size``.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> root = pathlib.Path(tempfile.mkdtemp())
        >>> for c in ("cat", "dog"):
        ...     (root / c).mkdir()
        ...     Image.new("RGB", (5, 3)).save(root / c / "0.png")
        >>> ds = from_image_folder(root, image_size=(4, 4))
        >>> ds.classes, ds.image_shape
        (['cat', 'dog'], (3, 4, 4))
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist or is not a folder")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise FileNotFoundError(f"{root} has no class sub-folders; expected the layout {root}/<class name>/<image>")
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for label, class_dir in enumerate(class_dirs):
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not files:
            raise ValueError(
                f"class folder {class_dir} has no images (looked for {', '.join(IMAGE_EXTENSIONS)}); "
                "add images or remove the folder"
            )
        for file in files:
            images.append(_read_image_file(file, image_size=image_size, grayscale=grayscale))
            labels.append(label)
    pixels = stack_images(images, source=f"image folder {root}")
    logger.info("read %d images of %d classes from %s", len(labels), len(class_dirs), root)
    return RealDataset(
        pixels,
        torch.tensor(labels, dtype=torch.int64),
        classes=[p.name for p in class_dirs],
        name=name or root.name,
        split=split,
        mean=mean,
        std=std,
    )


# ---------------------------------------------------------------------- helpers
def _read_image_file(file: Path, *, image_size: tuple[int, int] | None, grayscale: bool) -> torch.Tensor:
    try:
        with Image.open(file) as opened:
            image = opened.convert("L" if grayscale else "RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image {file} ({err}); remove or replace the file") from err
    if image_size is not None:
        height, width = image_size
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    return image_to_tensor(image, where=str(file))


def _read_items(dataset: Any, *, source: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        size = len(dataset)
    except TypeError:
        raise TypeError(f"{source} has no len(); from_torchvision needs a map-style dataset") from None
    images: list[torch.Tensor] = []
    labels: list[int] = []
    for i in range(size):
        item = dataset[i]
        if not isinstance(item, (tuple, list)) or len(item) < 2:
            raise TypeError(f"{source}[{i}] is {type(item).__name__}, expected an (image, label) pair")
        images.append(image_to_tensor(item[0], where=f"{source}[{i}]"))
        labels.append(to_label(item[1], where=f"{source}[{i}]"))
    return stack_images(images, source=source), torch.tensor(labels, dtype=torch.int64)


def _read_in_memory(dataset: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Images and labels straight from ``.data``/``.targets`` when that provably matches ``dataset[i]``."""
    data, targets = getattr(dataset, "data", None), getattr(dataset, "targets", None)
    if data is None or targets is None:
        return None
    if any(getattr(dataset, attr, None) is not None for attr in ("transform", "target_transform", "transforms")):
        return None
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim not in (3, 4) or (data.ndim == 4 and data.shape[-1] not in (1, 3)):
            return None
        pixels = torch.from_numpy(data if data.ndim == 3 else data.transpose(0, 3, 1, 2))
    elif isinstance(data, torch.Tensor) and data.dtype == torch.uint8 and data.dim() == 3:
        pixels = data
    else:
        return None
    if pixels.dim() == 3:
        pixels = pixels.unsqueeze(1)
    try:
        labels = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
        if len(dataset) != pixels.shape[0] or labels.shape != (pixels.shape[0],):
            return None
        # Trust the shortcut only if it reproduces the first item exactly.
        first_image, first_label = dataset[0][:2]
        if not torch.equal(image_to_tensor(first_image, where="item 0"), pixels[0]):
            return None
        if to_label(first_label, where="item 0") != int(labels[0]):
            return None
    except (TypeError, ValueError, IndexError):
        return None
    return pixels.contiguous().to(torch.float32).div_(255), labels


def _classes_of(dataset: Any) -> list[str] | None:
    # A torch Subset hides the wrapped dataset's classes one level down.
    for candidate in (dataset, getattr(dataset, "dataset", None)):
        classes = getattr(candidate, "classes", None)
        if classes is not None:
            return [str(c) for c in classes]
    return None


def _default_classes(labels: torch.Tensor) -> list[str]:
    if labels.numel() == 0:
        raise ValueError("labels is empty: a dataset needs at least one labelled image")
    if labels.is_floating_point():
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    return [str(i) for i in range(int(labels.max()) + 1)]
