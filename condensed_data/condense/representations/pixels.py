"""Pixels: the condensed set is the images themselves (DM, ATOM, ECHO), held in normalized space (training wing).

With ``factor`` F > 1 (multi-formation, :mod:`condensed_data.sources.decode`) each stored image holds F x F tiles
and the set's items are the decoded tiles: ``ipc`` stored images per class train as ``ipc * F**2`` images, and the
objective sees the decoded items, so it works with every objective.

Starting points (``init``):

* ``"real"`` — random real images of each class (DM's); with F > 1 each tile is a downsized random real image
  (IDC's "mix" initialization);
* ``"medoids"`` — per class, the real images nearest the centres of a k-means clustering of the class in pixel
  space, one per item (the idea of DREAM, which picks representative real images by clustering; DREAM clusters
  network features during training, we cluster pixels once, at the start); with F > 1 they fill the tiles;
* ``"noise"`` — standard normal values in normalized space.

>>> from condensed_data.testing import tiny_real_dataset
>>> from condensed_data.seeding import make_generator
>>> pixels = Pixels(tiny_real_dataset(), ipc=2, init="real", lr=1.0, generator=make_generator(0))
>>> images, labels = pixels.images(range(1, 3))
>>> tuple(images.shape), labels.tolist()
((4, 1, 8, 8), [1, 1, 2, 2])
>>> tiled = Pixels(tiny_real_dataset(), ipc=1, init="real", lr=1.0, factor=2, generator=make_generator(0))
>>> tuple(tiled.normalized.shape), tuple(tiled.images(range(0, 2))[0].shape)
((3, 1, 8, 8), (8, 1, 8, 8))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.artifact.manifest import Decode
from condensed_data.condense.representations.base import Representation
from condensed_data.data import RealSource, require_in_memory
from condensed_data.sources.decode import decode_tiles, encode_tiles, tile_size
from condensed_data.sources.tensors import save_tensors

__all__ = ["Pixels", "INITS", "kmeans_medoids"]

INITS = ("real", "medoids", "noise")


class Pixels(Representation):
    """Learnable images, ``ipc`` per class in class-major order, stored normalized; artifact kind ``tensors``.

    Args:
        real: Real data to initialize from and to take normalization and shape from.
        ipc: Stored images per class.
        init: ``"real"``, ``"medoids"`` or ``"noise"`` (see the module docstring).
        lr: Learning rate of the images.
        factor: Multi-formation: each stored image decodes into ``factor**2`` items (1: off).
        device: Where the images live.
        generator: Source of the random choices.

    Attributes:
        normalized: The stored images ``(K * ipc, C, H, W)``, normalized, the optimized leaf tensor.
        labels: The label of every item (``ipc * factor**2`` per class, class-major).
        decode: The artifact's decode block (``None`` when ``factor`` is 1).
    """

    kind: ClassVar[str] = "tensors"
    sharding: ClassVar[str] = "classes"

    def __init__(
        self,
        real: RealSource,
        *,
        ipc: int,
        init: str,
        lr: float,
        factor: int = 1,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, device=torch.device(device))
        tile_size(*real.image_shape[1:], factor)  # a named error for a factor too large for the images
        self.factor = factor
        self.decode = Decode(factor=factor) if factor > 1 else None
        self.labels = torch.arange(real.num_classes, device=self.device).repeat_interleave(ipc * factor * factor)
        items = ipc * factor * factor  # per class
        if init == "real":
            images = real.normalize(real.sample_per_class(items, generator=generator).flatten(0, 1))
        elif init == "medoids":
            images = real.normalize(kmeans_medoids(real, items, generator=generator).flatten(0, 1))
        elif init == "noise":
            images = torch.randn((real.num_classes * items, *real.image_shape), generator=generator)
        else:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
        if init != "noise":
            images = encode_tiles(images, factor)
        elif factor > 1:
            images = images[: real.num_classes * ipc]
        self.lr = lr
        self.normalized = images.to(self.device).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.normalized]

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [self.normalized], "lr": self.lr}]

    def images(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        per_item = self.factor * self.factor
        if classes == range(self.real.num_classes):
            # The tensor itself, not a view: the single-process path (and decoded as a whole).
            return decode_tiles(self.normalized, self.factor), self.labels
        rows = self.rows(classes)
        items = slice(rows.start * per_item, rows.stop * per_item)
        return decode_tiles(self.normalized[rows], self.factor), self.labels[items]

    @torch.no_grad()
    def clamp_(self) -> None:
        """Clamp the images, in place, to the valid pixel range [0, 1] (as normalized values, per channel).

        >>> from condensed_data.testing import tiny_real_dataset
        >>> from condensed_data.seeding import make_generator
        >>> pixels = Pixels(tiny_real_dataset(), ipc=1, init="noise", lr=1.0, generator=make_generator(0))
        >>> pixels.clamp_()
        >>> images = pixels.pixels()[0]
        >>> bool(images.min() >= -1e-6 and images.max() <= 1 + 1e-6)
        True
        """
        shape = (1, self.normalized.shape[1], 1, 1)
        low = self.real.normalize(torch.zeros(shape, device=self.device))
        high = self.real.normalize(torch.ones(shape, device=self.device))
        self.normalized.copy_(torch.maximum(torch.minimum(self.normalized, high), low))

    @torch.no_grad()
    def pixels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The set's items (decoded when ``factor`` > 1) in pixel space, and their labels."""
        # Decoded after denormalizing, exactly as the loading wing decodes the exported images.
        return decode_tiles(self.real.denormalize(self.normalized.detach()), self.factor).cpu(), self.labels.cpu()

    def export(self, folder: Path) -> None:
        """Write ``images.safetensors``: the stored images (pixel space) and one label per item; kind ``tensors``."""
        save_tensors(folder, self.real.denormalize(self.normalized.detach()).cpu(), self.labels.cpu())


def kmeans_medoids(real: RealSource, n: int, *, generator: torch.Generator, steps: int = 20) -> torch.Tensor:
    """``n`` real images per class ``(K, n, C, H, W)``: the nearest to each centre of a k-means of the class.

    Lloyd's algorithm in pixel space, ``steps`` rounds, centres seeded by k-means++ from ``generator``; each centre
    is then replaced by its nearest real image (distinct images: a class needs at least ``n`` of them).
    """
    real = require_in_memory(real, "init='medoids'", "init='real'")
    out = []
    for c in range(real.num_classes):
        x = real.images[real.indices_of(c)].flatten(1).float()
        if x.shape[0] < n:
            raise ValueError(f"init='medoids' needs {n} images of class {real.classes[c]!r}, it has {x.shape[0]}")
        centres = _kmeans_pp(x, n, generator)
        for _ in range(steps):
            assign = torch.cdist(x, centres).argmin(dim=1)
            sums = torch.zeros_like(centres).index_add_(0, assign, x)
            counts = torch.bincount(assign, minlength=n).unsqueeze(1)
            centres = torch.where(counts > 0, sums / counts.clamp_min(1), centres)
        distance = torch.cdist(centres, x)
        chosen: list[int] = []
        for row in distance:  # nearest image not yet taken: n distinct medoids
            if chosen:
                row = row.clone()
                row[chosen] = float("inf")
            chosen.append(int(row.argmin()))
        out.append(real.images[real.indices_of(c)[chosen]])
    return torch.stack(out)


def _kmeans_pp(x: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: each next centre drawn with probability proportional to the squared distance."""
    first = int(torch.randint(x.shape[0], (), generator=generator))
    centres = [x[first]]
    nearest = ((x - x[first]) ** 2).sum(dim=1)
    for _ in range(1, n):
        weights = nearest / nearest.sum() if float(nearest.sum()) > 0 else torch.full_like(nearest, 1 / len(nearest))
        pick = int(torch.multinomial(weights, 1, generator=generator))
        centres.append(x[pick])
        nearest = torch.minimum(nearest, ((x - x[pick]) ** 2).sum(dim=1))
    return torch.stack(centres)
