"""The Source contract shared by every artifact kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import torch

from condensed_data.manifest import Manifest

__all__ = ["Source"]


class Source(ABC):
    """Materializes ``(image, label)`` items of one artifact.

    Subclasses must be picklable and cheap to pickle (DataLoader workers receive a copy).

    Attributes:
        OPTIONS: Names of the keyword options the Source accepts (``CondensedDataset(mode=..., ...)``).
    """

    OPTIONS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = Path(folder)
        self.manifest = manifest

    @abstractmethod
    def __len__(self) -> int:
        """Number of items."""

    @abstractmethod
    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        """Item ``index`` as ``(float image C x H x W in pixel space, label)``."""

    @property
    @abstractmethod
    def targets(self) -> list[int]:
        """The hard label of every item (for soft labels: the arg-max class)."""

    def items(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int | torch.Tensor]]:
        """Several items at once (a DataLoader fetches a batch this way); subclasses may batch the work."""
        return [self[i] for i in indices]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch of sources whose items change per epoch (default: nothing changes)."""
        del epoch  # stored sets hold the same items in every epoch

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images ``(N, C, H, W)`` and labels (``(N,)`` or ``(N, K)``); subclasses may do this faster."""
        items = [self[i] for i in range(len(self))]
        images = torch.stack([image for image, _ in items])
        labels = [label for _, label in items]
        return images, torch.stack(labels) if isinstance(labels[0], torch.Tensor) else torch.tensor(labels)
