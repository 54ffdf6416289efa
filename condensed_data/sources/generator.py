"""Source for artifacts of kind ``generator``: a class-conditional generator plus learned per-image codes.

Files (under ``generator/``, see :mod:`condensed_data.models.generator`): ``config.json`` (the architecture's name and
sizes), ``model.safetensors`` (weights), ``codes.safetensors`` (codes and labels). The generator is rebuilt from
this library's own classes, never from code in the artifact, and images are produced on the fly:

- ``mode="fixed"`` (default): exactly the condensed set, one image per stored code, in stored order. No
  randomness at all; item ``i`` is bit-identical in every worker, process and run on a machine, because items are
  generated in aligned blocks (``i // block_size``) whatever the access order.
- ``mode="fresh"``: ``samples_per_class`` items per class (any number), class-major. Item ``i`` of epoch ``e``
  uses the code of a random stored image of its class plus Gaussian noise of scale ``noise``, both drawn from a
  generator seeded by ``derive_seed(seed, "fresh", e, i)``: a new set each epoch, the same set for the same
  ``(seed, e)``. ``set_epoch(e)`` selects the epoch, as with ``DistributedSampler`` (call it before creating the
  epoch's iterator: workers copy the dataset then; ``persistent_workers=True`` would keep the old epoch).
  Items of a batch fetched together are generated in one pass; the batch only changes float rounding (~1e-7).

Generation is batched and cached: a DataLoader fetches a whole batch through ``__getitems__`` (one generator pass
per batch); single-item access generates the item's whole aligned block and keeps blocks in an LRU cache bounded by
``cache_bytes``. Each process (DataLoader worker) builds the generator once, lazily, on the CPU; pickling sends only
the config, the weights and the codes (no module, no cache).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.artifact.folder import ArtifactError
from condensed_data.artifact.manifest import Manifest
from condensed_data.models.generator import GeneratorError, instantiate, load_codes, read_generator
from condensed_data.seeding import derive_seed, make_generator
from condensed_data.sources.base import BlockCache, Source

__all__ = ["GeneratorSource", "GENERATOR_FOLDER", "MODES"]

GENERATOR_FOLDER = "generator"
MODES = ("fixed", "fresh")


class GeneratorSource(Source):
    """Images generated on the fly from a generator artifact (see the module docstring).

    Args:
        folder: The artifact folder.
        manifest: Its manifest (kind ``generator``).
        mode: ``"fixed"`` or ``"fresh"``.
        samples_per_class: Items per class in fresh mode (default: the stored images per class).
        seed: Base seed of fresh mode (default: the manifest's seed).
        noise: Scale of the Gaussian noise added to a stored code in fresh mode (ours; 0 resamples stored codes).
        block_size: Items generated together on single-item access.
        cache_bytes: Bound of the block cache per process.
    """

    OPTIONS: ClassVar[tuple[str, ...]] = ("mode", "samples_per_class", "seed", "noise")

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        *,
        mode: str = "fixed",
        samples_per_class: int | None = None,
        seed: int | None = None,
        noise: float | None = None,
        block_size: int = 256,
        cache_bytes: int = 512 << 20,
    ) -> None:
        super().__init__(folder, manifest)
        if mode not in MODES:
            raise ValueError(f"mode must be 'fixed' or 'fresh', got {mode!r}")
        if mode == "fixed" and (samples_per_class is not None or noise is not None):
            raise ValueError(
                "samples_per_class and noise apply to mode='fresh' only; mode='fixed' is exactly the stored set"
            )
        if samples_per_class is not None and (isinstance(samples_per_class, bool) or samples_per_class < 1):
            raise ValueError(f"samples_per_class must be an integer >= 1, got {samples_per_class!r}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        where = self.folder / GENERATOR_FOLDER
        try:
            self.architecture, self.config, self.state = read_generator(where)
            config = self.config
            self.codes, self.labels = load_codes(
                where, latent_dim=int(config["latent_dim"]), num_classes=manifest.num_classes
            )
        except GeneratorError as exc:
            raise ArtifactError(str(exc)) from None
        self._check(where)
        self.mode = mode
        self.samples_per_class = samples_per_class or manifest.images_per_class
        self.seed = manifest.seed if seed is None else int(seed)
        self.noise = 0.5 if noise is None else float(noise)
        if not math.isfinite(self.noise) or self.noise < 0:
            raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
        self.block_size = int(block_size)
        self.epoch = 0
        self._by_class = [torch.nonzero(self.labels == c).flatten() for c in range(manifest.num_classes)]
        self._module: torch.nn.Module | None = None
        self._cache = BlockCache(cache_bytes)

    def _check(self, where: Path) -> None:
        m, config = self.manifest, self.config
        shape, classes = tuple(config.get("image_shape", ())), config.get("num_classes")
        if shape != tuple(m.image_shape) or classes != m.num_classes:
            raise ArtifactError(
                f"{where / 'config.json'} describes a generator of {classes} classes and images {list(shape)}, but "
                f"the manifest says {m.num_classes} classes of {list(m.image_shape)}: the generator does not belong "
                "to this artifact; copy or download the artifact again"
            )
        counts = torch.bincount(self.labels, minlength=m.num_classes)
        if self.labels.numel() == 0 or int(counts.min()) < 1:
            raise ArtifactError(f"{where / 'codes.safetensors'}: every class needs at least one code")

    # -- pickling: a worker gets the tensors, never the module or the cache ------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_module"] = None
        return state

    def set_epoch(self, epoch: int) -> None:
        """Use the samples of epoch ``epoch`` (fresh mode; fixed mode has the same items in every epoch)."""
        epoch = int(epoch)
        if epoch != self.epoch and self.mode == "fresh":
            self._cache.clear()
        self.epoch = epoch

    def __len__(self) -> int:
        if self.mode == "fixed":
            return self.codes.shape[0]
        return self.manifest.num_classes * self.samples_per_class

    @property
    def targets(self) -> list[int]:
        if self.mode == "fixed":
            return self.labels.tolist()
        return torch.arange(self.manifest.num_classes).repeat_interleave(self.samples_per_class).tolist()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = self._index(index)
        block = self._block(index // self.block_size)
        return block[index % self.block_size], self._label(index)

    def items(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, int]]:
        """Items ``indices``, generated together (what a DataLoader's ``__getitems__`` calls)."""
        indices = [self._index(i) for i in indices]
        if self.mode == "fixed" or all((self.epoch, i // self.block_size) in self._cache for i in indices):
            return [self[i] for i in indices]
        images = self._generate(torch.tensor(indices, dtype=torch.int64))
        return [(image, self._label(i)) for image, i in zip(images, indices, strict=True)]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        images = torch.cat(
            [self._generate(torch.arange(s, min(s + self.block_size, n))) for s in range(0, n, self.block_size)]
        )
        return images, torch.tensor(self.targets, dtype=torch.int64)

    # -- internals -------------------------------------------------------------------------------------------
    def _index(self, index: int) -> int:
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        return index % n

    def _label(self, index: int) -> int:
        if self.mode == "fixed":
            return int(self.labels[index])
        return index // self.samples_per_class

    def _block(self, number: int) -> torch.Tensor:
        start = number * self.block_size
        key = (self.epoch if self.mode == "fresh" else 0, number)
        return self._cache.get(
            key, lambda: self._generate(torch.arange(start, min(start + self.block_size, len(self))))
        )

    def _inputs(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes and labels of items ``indices`` (fresh mode: drawn from each item's own seed)."""
        if self.mode == "fixed":
            return self.codes[indices], self.labels[indices]
        codes = torch.empty((indices.numel(), self.codes.shape[1]))
        labels = indices // self.samples_per_class
        for row, (i, c) in enumerate(zip(indices.tolist(), labels.tolist(), strict=True)):
            g = make_generator(derive_seed(self.seed, "fresh", self.epoch, i))
            pool = self._by_class[c]
            pick = pool[int(torch.randint(pool.numel(), (), generator=g))]
            codes[row] = self.codes[pick] + self.noise * torch.randn(self.codes.shape[1], generator=g)
        return codes, labels

    @torch.no_grad()
    def _generate(self, indices: torch.Tensor) -> torch.Tensor:
        if self._module is None:
            self._module = instantiate(self.architecture, self.config, self.state, device="cpu")
        codes, labels = self._inputs(indices)
        return self._module(codes, labels).float().contiguous()
