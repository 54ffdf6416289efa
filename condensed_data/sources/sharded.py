"""Source for artifacts of kind ``webdataset``: every shard read into memory, for map-style access.

``CondensedDataset`` opens a sharded artifact through this Source (so ``ds[i]``, ``push``, ``show`` and
``evaluate`` work on it as on a ``tensors`` artifact); to stream the shards instead, without holding the set in
memory, use :class:`condensed_data.dataset.streaming.CondensedIterableDataset`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from condensed_data.artifact.manifest import Manifest
from condensed_data.interop.webdataset import ShardError, ShardReader, read_index
from condensed_data.sources.base import Source

__all__ = ["ShardSource"]


class ShardSource(Source):
    """All samples of a sharded artifact, decoded once into two tensors (shard member names checked first)."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        super().__init__(folder, manifest)
        if manifest.label_kind != "hard":
            raise ShardError(f"{self.folder}: a webdataset artifact holds hard labels, but label_kind is 'soft'")
        index = read_index(self.folder, manifest)
        images = torch.empty((index.samples, *manifest.image_shape), dtype=torch.float32)
        labels = torch.empty(index.samples, dtype=torch.int64)
        for number, shard in enumerate(index.shards):
            with ShardReader(
                self.folder / shard.file,
                index.image_format,
                manifest.value_space.pixel_range,
                manifest.image_shape,
                manifest.num_classes,
                samples=shard.samples,
                first_key=number,
                key_stride=len(index.shards),
            ) as reader:
                for position, (image, label) in enumerate(reader):
                    key = index.key(number, position)  # back to the order of the set the shards were exported from
                    images[key], labels[key] = image, label
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images.clone(), self.labels.clone()

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()
