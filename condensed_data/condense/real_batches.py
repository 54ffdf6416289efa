"""The real images of each matching iteration: drawn from a stream of their own, read ahead for lazy sources.

A matching iteration compares the synthetic images with ``n`` real images of every class. Where the real split is
read from disk (an image folder, shards, a ``datasets`` table), reading and decoding those images can take as long as
the matching step itself. :class:`RealBatches` hides that time: iteration ``i``'s images come from a generator seeded
by ``(seed, i)`` alone, so iteration ``i + 1``'s draw is known before iteration ``i`` has finished, and one background
thread reads it while the current step computes.

The per-iteration stream is also what makes the draws independent of everything else the loop randomizes (networks,
augmentation): a resumed run, a class-sharded process and a run with prefetching all draw the same images at the
same iteration. Prefetching is on for sources that are not in memory (anything but a
:class:`~condensed_data.data.RealDataset`, where a draw is one ``index_select`` and a thread would only compete for
the cores); ``prefetch=`` overrides it.

:attr:`RealBatches.waited` is the time the loop spent blocked on real data, the figure the scale benchmark reports as
a share of the iteration time.

Example:
    >>> from condensed_data.testing import tiny_real_dataset
    >>> real = tiny_real_dataset()
    >>> batches = RealBatches(real, 2, seed=0)
    >>> first = batches.get(0)
    >>> first.shape[:2], torch.equal(first, RealBatches(real, 2, seed=0).get(0))
    (torch.Size([3, 2]), True)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import torch

from condensed_data.data.real import RealDataset
from condensed_data.data.source import RealSource
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["RealBatches"]


class RealBatches:
    """``(K, n, C, H, W)`` real images per iteration, each iteration's draw from its own seeded generator.

    Args:
        real: The training split (any :class:`~condensed_data.data.RealSource`).
        n: Images per class per iteration.
        seed: The stream's seed; iteration ``i`` draws with a generator seeded ``derive_seed(seed, "real", i)``.
        prefetch: Read iteration ``i + 1``'s images in a background thread after returning iteration ``i``'s.
            Default: on for sources not held in memory.
    """

    def __init__(self, real: RealSource, n: int, *, seed: int, prefetch: bool | None = None) -> None:
        self.real, self.n, self.seed = real, int(n), int(seed)
        self.prefetch = not isinstance(real, RealDataset) if prefetch is None else bool(prefetch)
        self.waited = 0.0  # seconds get() spent blocked on a draw
        self.draws = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[tuple[int, tuple[int, ...] | None], Future[torch.Tensor]] | None = None

    def generator(self, iteration: int) -> torch.Generator:
        """The generator iteration ``iteration`` draws its real images with."""
        return make_generator(derive_seed(self.seed, "real", iteration))

    def _draw(self, iteration: int, keep: tuple[int, ...] | None) -> torch.Tensor:
        return self.real.sample_per_class(self.n, generator=self.generator(iteration), keep=keep)

    def get(self, iteration: int, *, keep: Sequence[int] | None = None) -> torch.Tensor:
        """Iteration ``iteration``'s images (``keep``: only those classes, as in ``sample_per_class``)."""
        key = (int(iteration), None if keep is None else tuple(int(k) for k in keep))
        start = time.perf_counter()
        if not self.prefetch:
            batch = self._draw(*key)
        else:
            pending, self._pending = self._pending, None
            if pending is not None and pending[0] == key:
                batch = pending[1].result()
            else:
                if pending is not None:  # a jump (a resumed run): the read-ahead is not needed
                    pending[1].result()
                batch = self._executor().submit(self._draw, *key).result()
            self._pending = (key[0] + 1, key[1]), self._executor().submit(self._draw, key[0] + 1, key[1])
        self.waited += time.perf_counter() - start
        self.draws += 1
        return batch

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:  # one thread: draws stay in order and never touch the source concurrently
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="real-batches")
        return self._pool

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The stream's seed, for a checkpoint: a resumed run draws what the interrupted one would have."""
        return {"real_seed": torch.tensor(self.seed, dtype=torch.int64)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Take the seed out of ``state`` (a method's whole state; a state written before the seed was kept has
        none, and the constructed seed stays)."""
        seed = state.pop("real_seed", None)
        if seed is not None:
            self.close()
            self.seed = int(seed)

    def close(self) -> None:
        """Wait for a read-ahead in flight and stop the thread (a later :meth:`get` starts it again)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[1].cancel() or pending[1].exception()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.update(_pool=None, _pending=None)
        return state
