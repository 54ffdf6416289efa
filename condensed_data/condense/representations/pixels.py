"""Pixels: the condensed set is the images themselves (DM, ATOM, ECHO), held in normalized space (training wing).

>>> from condensed_data.testing import tiny_real_dataset
>>> from condensed_data.seeding import make_generator
>>> pixels = Pixels(tiny_real_dataset(), ipc=2, init="real", lr=1.0, generator=make_generator(0))
>>> images, labels = pixels.images(range(1, 3))
>>> tuple(images.shape), labels.tolist()
((4, 1, 8, 8), [1, 1, 2, 2])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.representations.base import Representation
from condensed_data.data import RealDataset
from condensed_data.sources.tensors import save_tensors

__all__ = ["Pixels", "INITS"]

INITS = ("real", "noise")


class Pixels(Representation):
    """Learnable images, ``ipc`` per class in class-major order, stored normalized; artifact kind ``tensors``.

    Args:
        real: Real data to initialize from and to take normalization and shape from.
        ipc: Images per class.
        init: ``"real"`` (random real images of each class, as DM does) or ``"noise"`` (standard normal).
        lr: Learning rate of the images.
        device: Where the images live.
        generator: Source of the random choices.
    """

    kind: ClassVar[str] = "tensors"
    sharding: ClassVar[str] = "classes"

    def __init__(
        self,
        real: RealDataset,
        *,
        ipc: int,
        init: str,
        lr: float,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, device=torch.device(device))
        if init == "real":
            images = real.normalize(real.sample_per_class(ipc, generator=generator).flatten(0, 1))
        elif init == "noise":
            images = torch.randn((real.num_classes * ipc, *real.image_shape), generator=generator)
        else:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {init!r}")
        self.lr = lr
        self.normalized = images.to(self.device).requires_grad_(True)

    def parameters(self) -> list[torch.Tensor]:
        return [self.normalized]

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"params": [self.normalized], "lr": self.lr}]

    def images(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        if classes == range(self.real.num_classes):
            return self.normalized, self.labels  # the tensor itself, not a view: the single-process path
        rows = self.rows(classes)
        return self.normalized[rows], self.labels[rows]

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
        return self.real.denormalize(self.normalized.detach()).cpu(), self.labels.cpu()

    def export(self, folder: Path) -> None:
        """Write ``images.safetensors`` (pixel space): the artifact of kind ``tensors``."""
        save_tensors(folder, *self.pixels())
