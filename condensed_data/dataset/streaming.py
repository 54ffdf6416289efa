"""``CondensedIterableDataset``: stream a sharded (``webdataset``) artifact, split across DDP ranks and workers.

Every epoch has one global order of the set's samples: the shards in order (or a seeded permutation of them), each
shard's samples in order (or a seeded permutation). The ``R x W`` consumers (``R`` ranks, ``W`` DataLoader workers
per rank) each take one contiguous slice of that order (consumer ``rank * W + worker``), so within an epoch no sample
is read twice and none is missed, whatever ``R`` and ``W``; a consumer opens only the shards its slice touches. The
ranks' shares differ by at most one sample and do not depend on ``W``. DDP training needs every rank to run the same
number of steps (a rank with one more batch waits forever in its last all-reduce): pass ``even_shares=True`` and the
epoch's last ``N mod R`` samples are left out (other ones each epoch when shuffled), so every rank gets ``N // R``
samples split alike over its workers, hence the same number of batches. Orders come from seeds derived from
``(seed, epoch)`` (:mod:`condensed_data.seeding`), so every rank and worker agrees on them without communicating.

Call ``set_epoch(e)`` before each epoch, as with ``DistributedSampler`` (the order of epoch ``e`` is the same in every
run). The state (``state_dict()``: epoch and samples yielded) lets ``torchdata``'s ``StatefulDataLoader`` resume a
stopped epoch exactly: see :func:`condensed_data.dataset.resumable.stateful_loader`.

Shards are checked against the manifest's sha256 when the dataset is created (``verify=True``), and every member name
of a shard is checked before any of its bytes are read (:class:`condensed_data.interop.webdataset.ShardReader`).

>>> ds = CondensedIterableDataset.from_pretrained("out/fmnist-wds", shuffle=True, seed=0)  # doctest: +SKIP
>>> ds.set_epoch(3)  # doctest: +SKIP
>>> for image, label in ds: ...  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from condensed_data.artifact.folder import ArtifactError, read_artifact
from condensed_data.artifact.manifest import Manifest, Recipe
from condensed_data.hub import HubOptions, redownload_hint, resolve
from condensed_data.interop.webdataset import ShardIndex, ShardReader, read_index
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["CondensedIterableDataset", "distributed_context", "epoch_order"]


def distributed_context(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """``(rank, world_size)``: the explicit arguments, else ``torch.distributed``'s if initialized, else ``(0, 1)``."""
    if (rank is None) != (world_size is None):
        raise ValueError("pass both rank= and world_size=, or neither (then torch.distributed decides)")
    if rank is None:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            rank, world_size = dist.get_rank(), dist.get_world_size()
        else:
            rank, world_size = 0, 1
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"rank must lie in [0, world_size) and world_size >= 1, got rank={rank}, world_size={world_size}"
        )
    return int(rank), int(world_size)


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int, key: object = "") -> torch.Tensor:
    """``0..n-1`` in order, or permuted by a seed derived from ``(seed, epoch, key)``.

    >>> epoch_order(4, shuffle=False, seed=0, epoch=0).tolist()
    [0, 1, 2, 3]
    >>> torch.equal(epoch_order(9, shuffle=True, seed=1, epoch=2), epoch_order(9, shuffle=True, seed=1, epoch=2))
    True
    """
    if not shuffle:
        return torch.arange(n)
    return torch.randperm(n, generator=make_generator(derive_seed(seed, "order", epoch, key)))


class CondensedIterableDataset(torch.utils.data.IterableDataset):
    """Streams the samples of an artifact of kind ``webdataset`` as ``(image, label)`` pairs.

    Items are what ``CondensedDataset`` gives: a float image ``C x H x W`` in pixel space (normalize with
    ``ds.recipe.mean`` / ``.std``) and an ``int`` label, each passed through ``transform`` / ``target_transform``.
    ``len(ds)`` is this rank's number of samples per epoch.

    Args:
        folder: A sharded artifact folder (see :mod:`condensed_data.interop.webdataset`; made by ``condensed-data export``).
        shuffle: Permute the shard order and the samples within each shard, anew each epoch.
        seed: Base seed of the permutations.
        rank, world_size: This process's place among the DDP processes; default: ``torch.distributed``'s if it is
            initialized (read when the dataset is iterated, or sent to a worker), else a single process.
        transform: Applied to each image tensor.
        target_transform: Applied to each label.
        verify: Check every file's size and sha256 against the manifest first (default).
        even_shares: Give every rank exactly ``N // R`` samples per epoch (for DDP training; see the module
            docstring). Default False: every sample once, ranks' shares differing by at most one.

    Raises:
        ArtifactError: The folder is not a sharded artifact (the message says how to make one), or a shard is bad.
        ChecksumError: A file differs from its manifest entry.

    >>> ds = CondensedIterableDataset("out/fmnist-wds", shuffle=True, seed=0)  # doctest: +SKIP
    >>> loader = torch.utils.data.DataLoader(ds, batch_size=256, num_workers=2)  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        verify: bool = True,
        even_shares: bool = False,
    ) -> None:
        self.folder = Path(folder)
        with redownload_hint(self.folder):  # a Hub cache snapshot is downloaded again, not copied
            self.manifest: Manifest = read_artifact(self.folder, verify=verify)
        if self.manifest.kind != "webdataset":
            raise ArtifactError(
                f"{self.folder} is an artifact of kind {self.manifest.kind!r}, not a sharded one: load it with "
                "CondensedDataset (map-style), or write shards with `condensed-data export "
                f"{self.folder} --to webdataset --shard-size N` and stream those"
            )
        self.index: ShardIndex = read_index(self.folder, self.manifest)
        if rank is not None or world_size is not None:
            distributed_context(rank, world_size)  # validate now
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank, self.world_size = rank, world_size
        self.transform = transform
        self.target_transform = target_transform
        self.even_shares = bool(even_shares)
        self.epoch = 0
        self._yielded = 0  # samples the current (or last) iteration of this copy has yielded
        self._resume: int | None = None  # set by load_state_dict; consumed by the next __iter__

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        force_download: bool = False,
        endpoint: str | None = None,
        **kwargs: Any,
    ) -> CondensedIterableDataset:
        """Load from a local folder or a Hub dataset repository (resolved as ``CondensedDataset.from_pretrained``).

        A Hub set is downloaded through huggingface_hub's cache (:func:`condensed_data.hub.download`): the manifest
        first, then, from the same commit, the shards it lists; pin ``revision`` to a commit sha for
        reproducibility. ``kwargs`` go to the constructor (``shuffle``, ``seed``, ``rank``, ``world_size``,
        ``transform``, ``target_transform``, ``verify``, ``even_shares``).

        >>> ds = CondensedIterableDataset.from_pretrained("org/fmnist-wds", revision="v1.0", shuffle=True)  # doctest: +SKIP
        """
        hub = HubOptions(
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            endpoint=endpoint,
            local_files_only=local_files_only,
            force_download=force_download,
        )
        return cls(resolve(name_or_path, hub), **kwargs)

    # -- epochs and resumable state -------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` for the next iteration (call it before each epoch)."""
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        """Epoch and samples yielded so far by this copy (one per DataLoader worker under ``StatefulDataLoader``)."""
        return {"epoch": self.epoch, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next iteration continue epoch ``state["epoch"]`` after its first ``state["yielded"]`` samples."""
        if set(state) != {"epoch", "yielded"} or int(state["yielded"]) < 0:
            raise ValueError(f"not a CondensedIterableDataset state: {state!r} (expected keys 'epoch' and 'yielded')")
        self.epoch = int(state["epoch"])
        self._resume = int(state["yielded"])

    # -- iteration ----------------------------------------------------------------------------------------------
    def _consumer(self) -> tuple[int, int, int]:
        """``(index, count)`` of this reader among all ranks x workers, and the samples all ranks read per epoch."""
        rank, world_size = distributed_context(self.rank, self.world_size)
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * workers + worker, world_size * workers, self._epoch_samples(world_size)

    def _epoch_samples(self, world_size: int) -> int:
        total = self.index.samples
        return total - total % world_size if self.even_shares else total

    def plan(
        self, consumer: int, consumers: int, epoch: int, total: int | None = None
    ) -> list[tuple[int, torch.Tensor]]:
        """What one consumer reads in ``epoch``: ``(shard number, positions in that shard)``, in order.

        ``total``: how many samples of the epoch's order all consumers read together (default all of them).
        """
        total = self.index.samples if total is None else total
        start, stop = consumer * total // consumers, (consumer + 1) * total // consumers
        plan, offset = [], 0
        for number in epoch_order(
            len(self.index.shards), shuffle=self.shuffle, seed=self.seed, epoch=epoch, key="shards"
        ).tolist():
            count = self.index.shards[number].samples
            lo, hi = max(start, offset), min(stop, offset + count)
            if lo < hi:
                positions = epoch_order(count, shuffle=self.shuffle, seed=self.seed, epoch=epoch, key=number)
                plan.append((number, positions[lo - offset : hi - offset]))
            offset += count
        return plan

    def _reader(self, number: int) -> ShardReader:
        shard = self.index.shards[number]
        return ShardReader(
            self.folder / shard.file,
            self.index.image_format,
            self.manifest.value_space.pixel_range,
            self.manifest.image_shape,
            self.manifest.num_classes,
            samples=shard.samples,
            first_key=number,
            key_stride=len(self.index.shards),
        )

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        skip, self._resume = self._resume or 0, None
        self._yielded = skip
        consumer, consumers, total = self._consumer()
        for number, positions in self.plan(consumer, consumers, self.epoch, total):
            if skip >= len(positions):  # resumed past this shard: do not even open it
                skip -= len(positions)
                continue
            with self._reader(number) as reader:
                for position in positions[skip:].tolist():
                    image, label = reader.sample(position)
                    if self.transform is not None:
                        image = self.transform(image)
                    if self.target_transform is not None:
                        label = self.target_transform(label)
                    self._yielded += 1
                    yield image, label
            skip = 0

    def __len__(self) -> int:
        rank, world_size = distributed_context(self.rank, self.world_size)
        total = self._epoch_samples(world_size)
        return (rank + 1) * total // world_size - rank * total // world_size

    def __getstate__(self) -> dict[str, Any]:
        # Pin the DDP context when the dataset is sent to a DataLoader worker: a spawned worker has no process group.
        state = self.__dict__.copy()
        if state["rank"] is None:
            state["rank"], state["world_size"] = distributed_context()
        return state

    # -- the torchvision-like surface ---------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        """Class names, indexed by label."""
        return list(self.manifest.classes)

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Map from class name to label."""
        return {name: i for i, name in enumerate(self.manifest.classes)}

    @property
    def recipe(self) -> Recipe:
        """The training recipe the set was made for (normalization, augmentation, epochs, lr, ...)."""
        return self.manifest.recipe

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"CondensedIterableDataset(method={m.method.name!r}, source={m.source.name!r}, "
            f"items={self.index.samples}, shards={len(self.index.shards)}, shuffle={self.shuffle}, "
            f"folder='{self.folder}')"
        )
