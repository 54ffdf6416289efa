"""Resumable loading: a torchdata ``StatefulDataLoader`` over a condensed set, map-style or streamed.

A training job that saves ``loader.state_dict()`` with its checkpoint and, after a restart, calls
``loader.load_state_dict(state)`` on a loader built the same way gets exactly the batches of the interrupted epoch it
had not yet seen, in the same order, with or without worker processes.

- Map-style sets (``CondensedDataset`` or any sized ``Dataset``) are read through :class:`EpochSampler`: all indices,
  or a permutation seeded by ``(seed, epoch)``; this rank's contiguous share (no padding, no repeats); its state is
  the epoch and the number of indices handed out.
- ``CondensedIterableDataset`` carries its own state (epoch and samples yielded by each worker); shuffling, seed and
  rank are its constructor's arguments.

``torchdata`` is an optional dependency (``pip install condensed-data[loading]``), imported only when a loader is
built. The returned loader has ``set_epoch(e)``: call it before each epoch, as with ``DistributedSampler``; a state
loaded with ``load_state_dict`` takes precedence for the epoch it was saved in.

>>> loader = stateful_loader(ds, batch_size=64, shuffle=True, seed=0, num_workers=2)  # doctest: +SKIP
>>> for epoch in range(start_epoch, epochs):  # doctest: +SKIP
...     loader.set_epoch(epoch)
...     for images, labels in loader: ...
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import torch

from condensed_data.dataset.streaming import CondensedIterableDataset, distributed_context, epoch_order

__all__ = ["CondensedIterableDataset", "EpochSampler", "stateful_loader", "INSTALL_HINT"]

INSTALL_HINT = "pip install condensed-data[loading]"


class EpochSampler(torch.utils.data.Sampler[int]):
    """Indices ``0..n-1`` for one rank: in order or permuted per epoch, split without repeats, resumable.

    Rank ``r`` of ``R`` gets positions ``[r * n // R, (r + 1) * n // R)`` of the epoch's order, so the ranks' shares
    differ by at most one index and together hold every index once. With ``even_shares=True`` the order is first
    cut to ``R * (n // R)`` indices, so every rank runs the same number of steps (what DDP training needs).

    Args:
        n: Number of items of the dataset.
        shuffle: Permute the indices anew each epoch (seeded by ``(seed, epoch)``).
        seed: Base seed.
        rank, world_size: Explicit DDP place; default ``torch.distributed``'s if initialized, else one process.
        even_shares: Leave out the epoch's last ``n mod R`` indices so that every rank gets ``n // R``.

    >>> list(EpochSampler(5, rank=1, world_size=2))
    [2, 3, 4]
    >>> list(EpochSampler(5, rank=1, world_size=2, even_shares=True))
    [2, 3]
    """

    def __init__(
        self,
        n: int,
        *,
        shuffle: bool = False,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        even_shares: bool = False,
    ) -> None:
        self.n = int(n)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.rank, self.world_size = distributed_context(rank, world_size)
        self.even_shares = bool(even_shares)
        self._used = self.n - self.n % self.world_size if self.even_shares else self.n  # indices handed out per epoch
        self.epoch = 0
        self.yielded = 0
        self._resume: int | None = None

    def set_epoch(self, epoch: int) -> None:
        """Use the order of epoch ``epoch`` for the next iteration."""
        self.epoch = int(epoch)

    def _share(self) -> torch.Tensor:
        order = epoch_order(self.n, shuffle=self.shuffle, seed=self.seed, epoch=self.epoch, key="indices")
        used, r, world = self._used, self.rank, self.world_size
        return order[r * used // world : (r + 1) * used // world]

    def __iter__(self) -> Iterator[int]:
        skip, self._resume = self._resume or 0, None
        self.yielded = skip
        for index in self._share()[skip:].tolist():
            self.yielded += 1
            yield index

    def __len__(self) -> int:
        return (self.rank + 1) * self._used // self.world_size - self.rank * self._used // self.world_size

    def state_dict(self) -> dict[str, int]:
        """Epoch and indices handed out so far in it."""
        return {"epoch": self.epoch, "yielded": self.yielded}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next iteration continue epoch ``state["epoch"]`` after its first ``state["yielded"]`` indices."""
        if set(state) != {"epoch", "yielded"} or int(state["yielded"]) < 0:
            raise ValueError(f"not an EpochSampler state: {state!r} (expected keys 'epoch' and 'yielded')")
        self.epoch = int(state["epoch"])
        self._resume = int(state["yielded"])


@functools.cache
def _loader_class() -> type:
    try:
        from torchdata.stateful_dataloader import StatefulDataLoader
    except ImportError as exc:
        raise ImportError(
            f"resumable loading needs torchdata (>=0.10,<0.12), which is not installed: `{INSTALL_HINT}`"
        ) from exc

    class CondensedStatefulLoader(StatefulDataLoader):
        """torchdata's ``StatefulDataLoader`` plus ``set_epoch``, forwarded to the sampler or the dataset."""

        def set_epoch(self, epoch: int) -> None:
            for target in (self.sampler, self.dataset):
                if hasattr(target, "set_epoch"):
                    target.set_epoch(epoch)

    return CondensedStatefulLoader


def stateful_loader(
    dataset: torch.utils.data.Dataset,
    *,
    batch_size: int = 1,
    shuffle: bool | None = None,
    seed: int | None = None,
    num_workers: int = 0,
    rank: int | None = None,
    world_size: int | None = None,
    drop_last: bool = False,
    even_shares: bool | None = None,
    **kwargs: Any,
) -> Any:
    """A torchdata ``StatefulDataLoader`` over ``dataset`` whose ``state_dict()`` resumes mid-epoch exactly.

    Args:
        dataset: A ``CondensedDataset`` (or any map-style dataset with ``len``), or a ``CondensedIterableDataset``.
        batch_size: Samples per batch.
        shuffle: Map-style: permute each epoch (default False). Iterable: must match the dataset's own setting if
            given (set it with ``CondensedIterableDataset(..., shuffle=True)``).
        seed: Base seed of the permutations (map-style default 0; iterable: as for ``shuffle``).
        num_workers: DataLoader worker processes.
        rank, world_size: Map-style: the DDP place (default ``torch.distributed``'s if initialized). Iterable:
            pass them to the dataset instead.
        drop_last: Drop a last incomplete batch (per worker, for an iterable dataset).
        even_shares: Map-style: every rank gets ``len(dataset) // world_size`` items per epoch, so DDP ranks run
            the same number of steps (default False: every item once). Iterable: the dataset's own option.
        **kwargs: Passed on to ``StatefulDataLoader`` (``collate_fn``, ``pin_memory``, ``prefetch_factor``, ...).

    Returns:
        A ``StatefulDataLoader`` (subclass) with ``state_dict()``, ``load_state_dict()`` and ``set_epoch(e)``.

    Raises:
        ImportError: torchdata is missing (the message says ``pip install condensed-data[loading]``).
        ValueError: Options that belong to the iterable dataset were given differently here.

    >>> loader = stateful_loader(ds, batch_size=64, shuffle=True, seed=0, num_workers=2)  # doctest: +SKIP
    >>> state = loader.state_dict()  # save it with the checkpoint  # doctest: +SKIP
    >>> loader = stateful_loader(ds, batch_size=64, shuffle=True, seed=0, num_workers=2)  # doctest: +SKIP
    >>> loader.load_state_dict(state)  # the next iteration continues where the saved one stopped  # doctest: +SKIP
    """
    loader_class = _loader_class()
    common = dict(batch_size=batch_size, num_workers=num_workers, drop_last=drop_last, **kwargs)
    if isinstance(dataset, torch.utils.data.IterableDataset):
        given = {"shuffle": shuffle, "seed": seed, "rank": rank, "world_size": world_size, "even_shares": even_shares}
        for name, value in given.items():
            if value is not None and value != getattr(dataset, name, None):
                raise ValueError(
                    f"{name}={value!r} conflicts with the iterable dataset's own {name}="
                    f"{getattr(dataset, name, None)!r}: an iterable dataset orders and splits its samples itself; "
                    f"pass {name}= to CondensedIterableDataset(...) (or .from_pretrained) instead"
                )
        return loader_class(dataset, **common)
    sampler = EpochSampler(
        len(dataset),  # type: ignore[arg-type]
        shuffle=bool(shuffle),
        seed=0 if seed is None else seed,
        rank=rank,
        world_size=world_size,
        even_shares=bool(even_shares),
    )
    return loader_class(dataset, sampler=sampler, **common)
