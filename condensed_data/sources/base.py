"""The Source contract shared by every artifact kind."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import ClassVar

import torch

from condensed_data.artifact.manifest import Manifest

__all__ = ["Source", "BlockCache"]


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


class BlockCache:
    """Blocks of generated images by key, least recently used dropped first once they exceed ``max_bytes``.

    A pickled copy is empty: a DataLoader worker starts with a cold cache of its own.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = int(max_bytes)
        self._blocks: OrderedDict[Hashable, torch.Tensor] = OrderedDict()

    def get(self, key: Hashable, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The block ``key``, made by ``make()`` if it is not cached."""
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
            return block
        block = make()
        self._blocks[key] = block
        limit = max(1, self.max_bytes // max(1, block.numel() * block.element_size()))
        while len(self._blocks) > limit:
            self._blocks.popitem(last=False)
        return block

    def __contains__(self, key: Hashable) -> bool:
        return key in self._blocks

    def __len__(self) -> int:
        return len(self._blocks)

    def clear(self) -> None:
        self._blocks.clear()

    def __getstate__(self) -> dict:
        return {"max_bytes": self.max_bytes, "_blocks": OrderedDict()}
