"""ShardedRealSource: class-bucketed webdataset shards read lazily, behind the :class:`~condensed_data.data.RealSource`
contract.

The shards (:mod:`condensed_data.data.shard_format`, written by :func:`~condensed_data.data.write_real_shards`) each
hold one class, so a draw reads only members of the drawn classes' shards: a shard's tar headers are parsed once,
when the shard is first needed (:mod:`condensed_data.interop.tar_index`). The ``.npy`` images of a shard written by
:func:`~condensed_data.data.write_real_shards` lie evenly spaced with identical headers, so the shard is mapped
(read-only ``mmap``) and a class's drawn images are one gather from an array over the map; any other shard (PNG, or
members that differ) is read one member at a time, one positioned read each, its file closed after each draw. At most
``MAPPED_SHARDS`` shards stay mapped (the least recently drawn is unmapped first), so many shards cost a bounded
number of file handles. A class-sharded process (``keep=``) opens only its own classes' shards, while its generator
advances as if it drew every class.

Draws consume the generator exactly as :meth:`RealDataset.sample_per_class
<condensed_data.data.RealDataset.sample_per_class>` does over the same images in the same order (a class's images
keep the split's order in its shards), so the shards give the very batches the in-memory split gives (bit for bit
with ``.npy`` shards, and with ``.png`` shards of 8-bit images).

Every shard is checked when first opened: its size (and, with ``verify=True``, its sha256) against the index,
its member names (a pickle-family member is refused unread), its image count, and each image's shape and label
(a mapped shard's labels all at once, when it is first mapped; a shard read member by member, each drawn one's).

Example:
    >>> import tempfile, pathlib, torch
    >>> from condensed_data.data import RealDataset, write_real_shards
    >>> from condensed_data.testing import tiny_real_dataset
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "train"
    >>> _ = write_real_shards(tiny_real_dataset(), folder, shard_size=5)
    >>> source = ShardedRealSource(folder)
    >>> source.classes, source.image_shape, source.class_counts()
    (['class0', 'class1', 'class2'], (1, 8, 8), [12, 12, 12])
    >>> draw = source.sample_per_class(4, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(draw, tiny_real_dataset().sample_per_class(4, generator=torch.Generator().manual_seed(0)))
    True
"""

from __future__ import annotations

import mmap
import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from condensed_data.artifact.folder import sha256_file
from condensed_data.data._checks import check_count, check_stats
from condensed_data.data.lazy import LazySource
from condensed_data.data.real import RealDataset
from condensed_data.data.shard_format import REWRITE, ClassShard, RealShardIndex, read_real_index
from condensed_data.interop.tar_index import StridedImages
from condensed_data.interop.webdataset import ShardError, ShardReader

__all__ = ["MAPPED_SHARDS", "ShardedRealSource"]

MAPPED_SHARDS = 64
"""How many shards a source keeps mapped at once (each holds one file handle)."""


class ShardedRealSource(LazySource, torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """A real split read lazily from class-bucketed shards (a folder written by
    :func:`~condensed_data.data.write_real_shards`).

    Args:
        folder: The split's folder (holding ``real-shards.json``).
        name: Dataset name (default: the one recorded in the index).
        split: Split name (default: the recorded one).
        classes: The expected class names in label order (e.g. the train split's, for a test split).
        mean, std: Normalization statistics (default: the recorded ones).
        verify: Check each shard's sha256 against the index when it is first opened (reads it once; default).
            Sizes, member names, image counts, shapes and labels are always checked.

    Raises:
        FileNotFoundError: ``folder`` has no index (the message says how to write one).
        ShardError: An invalid index, or a missing, changed or corrupt shard (named, with the fix).
        ValueError: ``classes`` differ from the recorded ones.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        name: str | None = None,
        split: str | None = None,
        classes: Sequence[str] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        verify: bool = True,
    ) -> None:
        self.folder = Path(folder).expanduser()
        self.index: RealShardIndex = read_real_index(self.folder)
        if classes is not None and list(classes) != list(self.index.classes):
            raise ValueError(
                f"{self.folder} holds classes {list(self.index.classes)[:5]}..., expected {list(classes)[:5]}...: "
                "write both splits' shards from sources with the same classes"
            )
        self.name = name or self.index.name
        self.split = split or self.index.split
        self.classes = list(self.index.classes)
        channels = self.index.image_shape[0]
        self.mean = check_stats(self.index.mean if mean is None else mean, channels, "mean")
        self.std = check_stats(self.index.std if std is None else std, channels, "std", positive=True)
        self.verify, self.device = bool(verify), torch.device("cpu")
        self._counts = self.index.counts
        # Per class, where each of its shards starts among the class's images.
        self._starts = [
            [sum(s.samples for s in shards[:k]) for k in range(len(shards))] for shards in self.index.shards
        ]
        self._readers: dict[tuple[int, int], ShardReader] = {}
        # Per shard read so far: its reader and where its images lie (None: read member by member); and the shards
        # mapped now, least recently drawn first, with the reader they were checked by and the images over the map.
        self._layouts: dict[tuple[int, int], tuple[ShardReader, StridedImages | None]] = {}
        self._maps: OrderedDict[tuple[int, int], tuple[ShardReader, mmap.mmap, np.ndarray]] = OrderedDict()
        self._stats_cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    # ------------------------------------------------------------------ the contract
    def __len__(self) -> int:
        return sum(self._counts)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        c = 0
        while index >= self._counts[c]:
            index, c = index - self._counts[c], c + 1
        return self._read([(c, np.array([index]))])[0], c

    def __repr__(self) -> str:
        return (
            f"ShardedRealSource(folder={str(self.folder)!r}, split={self.split!r}, num_images={len(self)}, "
            f"num_classes={self.num_classes}, image_shape={self.image_shape}, format={self.index.image_format!r})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return self.index.image_shape

    @property
    def targets(self) -> list[int]:
        """The labels in :meth:`batches` order (class by class)."""
        return [c for c, n in enumerate(self._counts) for _ in range(n)]

    def class_counts(self) -> list[int]:
        """Number of images of each class."""
        return list(self._counts)

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, class by class (each class in the split's order), as ``(images, labels)`` batches.

        Shards are read one after the other (at most ``MAPPED_SHARDS`` of them mapped at once).
        """
        size = check_count(batch_size)
        bounds = np.cumsum([0, *self._counts]).tolist()
        for start in range(0, len(self), size):
            stop = min(start + size, len(self))
            blocks = [
                (c, np.arange(max(start, lo) - lo, min(stop, hi) - lo))
                for c, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
                if lo < stop and hi > start
            ]
            labels = torch.cat([torch.full((len(rows),), c, dtype=torch.int64) for c, rows in blocks])
            yield self._read(blocks).to(self.device), labels

    def holdout(self, per_class: int | float, *, seed: int = 0) -> tuple[RealDataset, RealDataset]:
        """Not offered by shards read lazily: write a validation split's shards instead."""
        raise ValueError(
            f"a validation hold-out (validation=) needs an in-memory dataset, and {self.name!r} is read lazily from "
            "shards; hold the images out before writing the shards (RealDataset.holdout, then write_real_shards)"
        )

    def fingerprint(self) -> str:
        """The index's ``"sha256:<hex>"``: classes, counts, shape, format and every shard's checksum.

        It differs from the fingerprint of the split the shards were written from (recorded as
        ``index.source_fingerprint``), which hashes the pixels in the split's own order.
        """
        return self.index.fingerprint

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_readers"], state["_stats_cache"], state["_layouts"], state["_maps"] = {}, {}, {}, OrderedDict()
        return state

    # ------------------------------------------------------------------ internals
    def _gather(self, draws: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
        return self._read([(c, rows.numpy()) for c, rows in draws])

    def _read(self, blocks: Sequence[tuple[int, np.ndarray]]) -> torch.Tensor:
        """Float images ``(N, C, H, W)`` of blocks of ``(class, positions in class)``, in order; the files of shards
        read member by member are closed afterwards."""
        out = np.empty((sum(len(rows) for _, rows in blocks), *self.image_shape), dtype=np.float32)
        used: set[tuple[int, int]] = set()
        first = 0
        try:
            for c, positions in blocks:
                starts = self._starts[c]
                shard_of = np.searchsorted(starts, positions, side="right") - 1
                for k in np.unique(shard_of).tolist() if len(starts) > 1 else [0]:
                    rows = np.arange(len(positions)) if len(starts) == 1 else np.flatnonzero(shard_of == k)
                    local = positions[rows] - starts[k]
                    images = self._images(c, k)
                    if images is not None:
                        if len(rows) == len(positions):  # the whole block from one shard: gather straight into it
                            out[first : first + len(rows)] = images[local]
                        else:
                            out[first + rows] = images[local]
                        continue
                    reader = self._reader(c, k)
                    used.add((c, k))
                    for row, p in zip(rows.tolist(), local.tolist(), strict=True):
                        image, label = reader.sample(p)
                        self._check_label(reader, c, p, label)
                        out[first + row] = image.numpy()
                first += len(positions)
        finally:
            for key in used:
                self._readers[key].close()
        return torch.from_numpy(out)

    def _check_label(self, reader: ShardReader, c: int, p: int, label: int) -> None:
        if label != c:
            raise ShardError(
                f"{reader.path}: image {p} has label {label}, but this shard holds class {c} ({self.classes[c]!r}) "
                f"only; {REWRITE}"
            )

    def _images(self, c: int, k: int) -> np.ndarray | None:
        """Every image of shard ``k`` of class ``c`` as one read-only array over the mapped shard, or ``None`` when
        the shard is read member by member (PNG, or members that are not uniform)."""
        if self.index.image_format != "npy":
            return None
        reader = self._reader(c, k)  # checked once (size, checksum, members) when first needed
        key = (c, k)
        mapped = self._maps.get(key)
        if mapped is not None and mapped[0] is reader:
            self._maps.move_to_end(key)
            return mapped[2]
        if mapped is not None:
            self._unmap(key)  # the shard was parsed again: check it again
        known = self._layouts.get(key)
        if known is not None and known[0] is reader and known[1] is None:
            return None
        buffer = self._map(c, k)
        try:
            if known is None or known[0] is not reader:
                layout = reader.strided(buffer)
                if layout is not None:  # the labels, all checked once: a draw then reads images only
                    for p, label in enumerate(reader.labels(buffer)):
                        self._check_label(reader, c, p, label)
                known = self._layouts[key] = (reader, layout)
            if known[1] is None:
                _close(buffer)
                return None
            images = known[1].view(buffer)
        except BaseException:
            _close(buffer)
            raise
        self._maps[key] = (reader, buffer, images)
        while len(self._maps) > MAPPED_SHARDS:
            self._unmap(next(iter(self._maps)))
        return images

    def _map(self, c: int, k: int) -> mmap.mmap:
        shard = self.index.shards[c][k]
        path = self.folder / shard.file
        try:
            with open(path, "rb") as file:
                buffer = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as exc:
            raise ShardError(f"cannot map shard {path} ({exc}); {REWRITE}") from None
        if len(buffer) != shard.size:  # changed since it was checked (reading past a shrunk map would crash)
            _close(buffer)
            raise ShardError(f"shard {path} has {len(buffer)} bytes, but the index records {shard.size}; {REWRITE}")
        return buffer

    def _unmap(self, key: tuple[int, int]) -> None:
        _close(self._maps.pop(key)[1])  # the array over the map goes with the popped entry

    def _reader(self, c: int, k: int) -> ShardReader:
        reader = self._readers.get((c, k))
        if reader is None:
            shard = self.index.shards[c][k]
            self._check_file(shard)
            reader = ShardReader(
                self.folder / shard.file,
                self.index.image_format,
                (0.0, 1.0),
                self.image_shape,
                self.num_classes,
                samples=shard.samples,
                remedy=REWRITE,
            )
            self._readers[(c, k)] = reader
        return reader

    def _check_file(self, shard: ClassShard) -> None:
        path = self.folder / shard.file
        try:
            size = path.stat().st_size
        except OSError:
            raise ShardError(
                f"shard {path} is missing (listed in {self.folder / 'real-shards.json'}); {REWRITE}"
            ) from None
        if size != shard.size:
            raise ShardError(f"shard {path} has {size} bytes, but the index records {shard.size}; {REWRITE}")
        if self.verify and sha256_file(path) != shard.sha256:
            raise ShardError(f"shard {path} does not match the sha256 its index records (it changed); {REWRITE}")


def _close(buffer: mmap.mmap) -> None:
    try:
        buffer.close()
    except BufferError:  # an array over it is still referenced (an error's traceback): it is unmapped with that array
        pass
