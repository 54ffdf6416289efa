"""The Source contract shared by every artifact kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch

from condensed_data.manifest import Manifest

__all__ = ["Source"]


class Source(ABC):
    """Materializes ``(image, label)`` items of one artifact.

    Subclasses must be picklable and cheap to pickle (DataLoader workers receive a copy).
    """

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
