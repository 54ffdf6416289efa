"""Multi-formation: a stored image holds ``factor x factor`` tiles, each decoded into one full-size training image.

The idea is IDC's (Kim et al., *Dataset Condensation via Efficient Synthetic-Data Parameterization*, ICML 2022),
also used for M3D's and DREAM's published numbers: at the same storage (``images_per_class`` stored images per
class) the set trains on ``factor**2`` times as many images, each at a lower effective resolution. This module is
the decode rule of the artifact format (``decode: {"factor": F, "resize": "bilinear"}`` in ``condensed.json``),
shared by the loading wing (:class:`~condensed_data.sources.tensors.TensorSource` serves the decoded items) and the
training wing (:class:`~condensed_data.condense.representations.pixels.Pixels` optimizes the stored images through
it), so what a set was condensed as is exactly what it serves.

The rule, for a stored image of height ``H`` and width ``W``: tiles are ``H // F`` by ``W // F`` pixels, taken in
row-major order from the top-left corner (when ``F`` does not divide ``H`` or ``W`` the last rows or columns are
not part of any tile), and each is resized to ``H x W`` with ``torch.nn.functional.interpolate(mode="bilinear",
align_corners=False, antialias=False)``. The items of stored image ``i`` are ``i * F**2 .. (i + 1) * F**2 - 1``.
Resizing is linear, so decoding commutes with per-channel normalization: normalized images decode to the
normalized items.

>>> stored = torch.arange(16.0).view(1, 1, 4, 4)
>>> items = decode_tiles(stored, 2)
>>> tuple(items.shape), items[1, 0, 0, 0].item() == stored[0, 0, 0, 2].item()
((4, 1, 4, 4), True)
>>> torch.equal(decode_tiles(stored, 1), stored)
True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["RESIZE_MODES", "decode_tiles", "encode_tiles", "tile_size"]

RESIZE_MODES = ("bilinear",)


def tile_size(height: int, width: int, factor: int) -> tuple[int, int]:
    """The ``(height, width)`` of one tile; raises ``ValueError`` when a tile would be empty."""
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    th, tw = height // factor, width // factor
    if th < 1 or tw < 1:
        raise ValueError(f"factor {factor} is too large for {height}x{width} images: a tile would be empty")
    return th, tw


def decode_tiles(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Decode stored images ``(N, C, H, W)`` into their ``N * factor**2`` items ``(N * factor**2, C, H, W)``.

    Differentiable (the training wing back-propagates through it); ``factor == 1`` returns ``images`` itself.
    """
    if factor == 1:
        return images
    n, c, h, w = images.shape
    th, tw = tile_size(h, w, factor)
    grid = images[:, :, : th * factor, : tw * factor]
    # (N, C, F*th, F*tw) -> (N, F, F, C, th, tw): tile (row r, column q) of image i becomes item i*F*F + r*F + q.
    tiles = grid.unflatten(2, (factor, th)).unflatten(4, (factor, tw)).permute(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(n * factor * factor, c, th, tw)
    return F.interpolate(tiles, size=(h, w), mode="bilinear", align_corners=False, antialias=False)


def encode_tiles(items: torch.Tensor, factor: int) -> torch.Tensor:
    """Stored images whose tiles are downsized ``items`` (the inverse direction, for initialization).

    ``items`` ``(N * factor**2, C, H, W)`` become ``N`` stored images; each item is resized (bilinear, antialiased)
    to the tile size and placed in the order :func:`decode_tiles` reads. Pixels outside the tile grid are 0.
    """
    if factor == 1:
        return items
    m, c, h, w = items.shape
    if m % (factor * factor):
        raise ValueError(f"{m} items cannot fill stored images of {factor * factor} tiles each")
    th, tw = tile_size(h, w, factor)
    small = F.interpolate(items, size=(th, tw), mode="bilinear", align_corners=False, antialias=True)
    n = m // (factor * factor)
    grid = small.reshape(n, factor, factor, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(n, c, th * factor, tw * factor)
    out = items.new_zeros(n, c, h, w)
    out[:, :, : th * factor, : tw * factor] = grid
    return out
