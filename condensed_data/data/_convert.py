"""Turning PIL images, numpy arrays and tensors into ``(C, H, W)`` pixel tensors, and ints into labels.

Images are kept as uint8 while a dataset is collected and converted to float once at the end (:func:`stack_images`):
a 60k-image dataset then needs one float32 copy, not two.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["image_to_tensor", "stack_images", "to_label"]

# PIL modes numpy reads as pixel arrays we understand; any other mode is converted first.
_PIL_DIRECT = {"L", "RGB", "I;16", "F"}
_PIL_CONVERT = {"1": "L", "LA": "L", "P": "RGB", "PA": "RGB", "RGBA": "RGB", "RGBX": "RGB", "CMYK": "RGB"}


def image_to_tensor(image: Any, *, where: str) -> torch.Tensor:
    """One image as a ``(C, H, W)`` tensor: uint8 (0..255) or float32 (0..1).

    Accepts a PIL image, a numpy array (``(H, W)``, or ``(H, W, C)`` with C in 1/3/4, or ``(C, H, W)``) or a tensor
    (``(H, W)`` or ``(C, H, W)``). ``where`` names the item in error messages.
    """
    if isinstance(image, Image.Image):
        return _array_to_tensor(_pil_to_array(image, where=where), channels_last=True, where=where)
    if isinstance(image, np.ndarray):
        return _array_to_tensor(image, channels_last=_is_channels_last(image.shape), where=where)
    if isinstance(image, torch.Tensor):
        return _tensor_pixels(image.detach().cpu(), where=where)
    raise TypeError(
        f"{where}: expected a PIL image, numpy array or torch tensor, got {type(image).__name__}; "
        "set the dataset's transform so that items are images"
    )


def stack_images(images: Sequence[torch.Tensor], *, source: str) -> torch.Tensor:
    """Stack ``(C, H, W)`` images of one shape into a float32 ``(N, C, H, W)`` tensor in [0, 1]."""
    if not images:
        raise ValueError(f"{source} has no images")
    shape = images[0].shape
    for i, image in enumerate(images):
        if image.shape != shape:
            raise ValueError(
                f"{source}: image {i} has shape {tuple(image.shape)} but image 0 has {tuple(shape)}; all images must "
                "share one shape (resize them, e.g. with a Resize transform or image_size=)"
            )
    if all(image.dtype == torch.uint8 for image in images):
        return torch.stack(list(images)).to(torch.float32).div_(255)
    return torch.stack([_as_float(image) for image in images])


def to_label(label: Any, *, where: str) -> int:
    """An integer class index from an int, a numpy integer or a one-element integer tensor."""
    one_int_tensor = isinstance(label, torch.Tensor) and label.numel() == 1 and not label.is_floating_point()
    one_int_array = isinstance(label, np.ndarray) and label.size == 1 and np.issubdtype(label.dtype, np.integer)
    if one_int_tensor or one_int_array:
        label = label.item()
    if isinstance(label, bool) or not isinstance(label, numbers.Integral):
        raise TypeError(
            f"{where}: expected an integer class index as label, got {label!r} ({type(label).__name__}); "
            "remove a target_transform that changes labels"
        )
    return int(label)


def _pil_to_array(image: Image.Image, *, where: str) -> np.ndarray:
    if image.mode == "I":
        raise ValueError(
            f"{where}: PIL mode 'I' (32-bit integer pixels) has no fixed value range; convert the images to "
            "'L' or 'RGB' in the dataset's transform"
        )
    if image.mode not in _PIL_DIRECT:
        image = image.convert(_PIL_CONVERT.get(image.mode, "RGB"))
    return np.array(image)  # a writable copy: torch.from_numpy warns on PIL's read-only buffers


def _is_channels_last(shape: tuple[int, ...]) -> bool:
    # Arrays follow the PIL/numpy convention (H, W, C) unless only the first axis looks like channels.
    if len(shape) != 3:
        return False
    return not (shape[0] in (1, 3, 4) and shape[2] not in (1, 3, 4))


def _array_to_tensor(array: np.ndarray, *, channels_last: bool, where: str) -> torch.Tensor:
    if array.ndim == 2:
        array = array[None]
    elif array.ndim == 3 and channels_last:
        array = array.transpose(2, 0, 1)
    elif array.ndim != 3:
        raise ValueError(f"{where}: expected a 2-D or 3-D image array, got shape {array.shape}")
    array = np.ascontiguousarray(_numpy_pixels(array, where=where))
    if not array.flags.writeable:
        array = array.copy()
    return _tensor_pixels(torch.from_numpy(array), where=where)


def _numpy_pixels(array: np.ndarray, *, where: str) -> np.ndarray:
    if array.dtype == np.uint8 or np.issubdtype(array.dtype, np.floating):
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0
    raise ValueError(
        f"{where}: cannot tell the value range of {array.dtype} pixels; give uint8 (0..255), uint16 (0..65535) "
        "or float (0..1) images"
    )


def _tensor_pixels(tensor: torch.Tensor, *, where: str) -> torch.Tensor:
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 3:
        raise ValueError(f"{where}: expected a (C, H, W) or (H, W) image tensor, got shape {tuple(tensor.shape)}")
    if tensor.dtype == torch.uint8:
        return tensor
    if tensor.is_floating_point():
        return tensor.to(torch.float32)
    raise ValueError(
        f"{where}: cannot tell the value range of {tensor.dtype} pixels; give uint8 (0..255) or float (0..1) images"
    )


def _as_float(image: torch.Tensor) -> torch.Tensor:
    return image.to(torch.float32).div_(255) if image.dtype == torch.uint8 else image
