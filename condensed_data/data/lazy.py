"""What the lazily read real sources share: class-indexed draws, the random-real subset, the normalization arithmetic.

:class:`ImageFolderSource <condensed_data.data.ImageFolderSource>`, :class:`HFDatasetSource
<condensed_data.data.HFDatasetSource>` and :class:`ShardedRealSource <condensed_data.data.ShardedRealSource>`
differ only in how they read images. :class:`LazySource` holds the rest once, so the three draw exactly as
:meth:`RealDataset.sample_per_class <condensed_data.data.RealDataset.sample_per_class>` does (the generator consumed
class by class, ``randperm`` of the class's count, the first ``n``), and a subclass supplies :meth:`LazySource._gather`:
the images at drawn positions.
"""

from __future__ import annotations

import copy
import operator
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from condensed_data.data._checks import check_count, draw_per_class
from condensed_data.data.real import RealDataset

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["LazySource"]


class LazySource:
    """Base of the lazy real sources; a subclass provides ``name``, ``split``, ``classes``, ``mean``, ``std``,
    ``device``, :meth:`class_counts`, ``image_shape`` and :meth:`_gather`."""

    name: str
    split: str
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device

    def class_counts(self) -> list[int]:
        raise NotImplementedError

    @property
    def image_shape(self) -> tuple[int, int, int]:
        raise NotImplementedError

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def _where(self) -> str:
        return f"{self.name}/{self.split}"

    def _gather(self, draws: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
        """``(sum of n, C, H, W)`` float32 in [0, 1]: the images of ``(class, positions within the class)``."""
        raise NotImplementedError

    def sample_per_class(
        self,
        n: int,
        *,
        generator: torch.Generator,
        classes: Sequence[int] | None = None,
        keep: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """``n`` random images of each class (or of ``classes``), reading only the drawn images of kept classes.

        Same arguments and draws as :meth:`RealDataset.sample_per_class
        <condensed_data.data.RealDataset.sample_per_class>`. Returns ``(K, n, C, H, W)`` float32 in [0, 1].
        """
        draws = draw_per_class(self, n, generator, classes, keep)
        return self._gather(draws).view(len(draws), n, *self.image_shape).to(self.device)

    def subset_per_class(self, n: int, *, generator: torch.Generator) -> RealDataset:
        """An in-memory :class:`RealDataset` of ``n`` random images per class (the random-real baseline)."""
        counts = self.class_counts()
        smallest = min(range(self.num_classes), key=counts.__getitem__)
        if check_count(n) > counts[smallest]:
            raise ValueError(
                f"cannot take {n} images per class from {self._where}: class {smallest} "
                f"({self.classes[smallest]!r}) has only {counts[smallest]}; use n <= {counts[smallest]}"
            )
        images = self.sample_per_class(n, generator=generator).reshape(-1, *self.image_shape).cpu()
        labels = torch.arange(self.num_classes).repeat_interleave(n)
        return RealDataset(
            images, labels, classes=self.classes, name=self.name, split=self.split, mean=self.mean, std=self.std
        )

    def to(self, device: torch.device | str) -> Self:
        """The source with its draws returned on ``device`` (what it has read or indexed is shared)."""
        device = torch.device(device)
        if device == self.device:
            return self
        moved = copy.copy(self)
        moved.device, moved._stats_cache = device, {}
        return moved

    # The same per-channel statistics arithmetic (and per-device cache) as the in-memory dataset.
    normalize = RealDataset.normalize
    denormalize = RealDataset.denormalize
    _stats_like = RealDataset._stats_like

    def _check_class(self, c: int) -> int:
        try:
            index = operator.index(c)
        except TypeError:
            raise TypeError(f"class must be an integer index, got {c!r}; look names up in source.classes") from None
        if not 0 <= index < self.num_classes:
            raise ValueError(f"class index {index} is out of range: {self.name} has {self.num_classes} classes")
        return index

    def _draw(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        """Positions within class ``c`` of ``n`` images drawn without replacement (RealDataset's draw)."""
        count = self.class_counts()[c]
        if check_count(n) > count:
            raise ValueError(
                f"cannot draw {n} images of class {c} ({self.classes[c]!r}): it has only {count} images in "
                f"{self._where}; draws are without replacement, so ask for at most {count}"
            )
        return torch.randperm(count, generator=generator, device=generator.device)[:n].cpu()
