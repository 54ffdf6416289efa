"""RealDataset: an in-memory, class-indexed real image-classification dataset.

Condensation draws a batch of real images per class at every iteration, so the dataset keeps all images in one
float tensor and caches, per class, the indices of its images; a draw is then a few ``randperm`` calls and a single
``index_select``. Images stay in pixel space ([0, 1]); the protocol's normalization is carried as ``mean``/``std``
and applied with :meth:`RealDataset.normalize`, so condensed images and real ones live in the same value space.
"""

from __future__ import annotations

import hashlib
import json
import logging
import operator
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from condensed_data.data._checks import (
    channel_stats,
    check_classes,
    check_count,
    check_generator,
    check_images,
    check_labels,
    check_stats,
    check_text,
    draw_per_class,
)
from condensed_data.data.holdout import VALIDATION_SPLIT, holdout_rows

__all__ = ["RealDataset"]

logger = logging.getLogger(__name__)

_FINGERPRINT_VERSION = b"condensed-data/real-dataset-fingerprint/v1\n"
_FINGERPRINT_CHUNK = 4096  # images quantized per step: bounds the temporary memory of fingerprint()


class RealDataset(Dataset[tuple[torch.Tensor, int]]):
    """An in-memory, class-indexed real image-classification dataset.

    Args:
        images: float tensor ``(N, C, H, W)`` of pixel values in [0, 1] (not normalized). Other float dtypes are
            converted to float32.
        labels: integer tensor ``(N,)`` of class indices in ``[0, len(classes))``.
        classes: class names; the index of a name is its label.
        name: the dataset's name, e.g. ``"fashion-mnist"``.
        split: the split, e.g. ``"train"`` or ``"test"``.
        mean: per-channel normalization mean of the evaluation protocol; defaults to the mean of ``images``.
        std: per-channel normalization std; defaults to the (population) std of ``images`` (1.0 for a constant
            channel).

    Raises:
        TypeError: images, labels or classes have the wrong type.
        ValueError: a shape, dtype, value range, label range, or statistic is invalid; the message says which.

    Example:
        >>> import torch
        >>> ds = RealDataset(torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 0, 1, 0, 1]),
        ...                  classes=["cat", "dog"], name="toy", split="train")
        >>> len(ds), ds.num_classes, ds.image_shape, ds.class_counts()
        (6, 2, (1, 4, 4), [3, 3])
        >>> ds.sample_per_class(2, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([2, 2, 1, 4, 4])
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]
    name: str
    split: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        classes: Sequence[str],
        name: str,
        split: str,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        class_list = check_classes(classes)
        images = check_images(images)
        labels = check_labels(labels, num_images=images.shape[0], classes=class_list)
        if mean is None or std is None:
            computed_mean, computed_std = channel_stats(images)
            mean = computed_mean if mean is None else mean
            std = computed_std if std is None else std
        channels = images.shape[1]
        self._set_fields(
            images,
            labels,
            classes=class_list,
            name=check_text(name, "name"),
            split=check_text(split, "split"),
            mean=check_stats(mean, channels, "mean"),
            std=check_stats(std, channels, "std", positive=True),
        )

    def _set_fields(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        classes: list[str],
        name: str,
        split: str,
        mean: tuple[float, ...],
        std: tuple[float, ...],
    ) -> None:
        self.images, self.labels, self.classes = images, labels, classes
        self.name, self.split, self.mean, self.std = name, split, mean, std
        self._by_class: list[torch.Tensor] | None = None  # CPU index tensors, one per class
        self._fingerprint: str | None = None
        self._stats_cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}

    # ------------------------------------------------------------------ torchvision-like surface
    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], int(self.labels[index])

    def __repr__(self) -> str:
        return (
            f"RealDataset(name={self.name!r}, split={self.split!r}, num_images={len(self)}, "
            f"num_classes={self.num_classes}, image_shape={self.image_shape}, device={self.images.device})"
        )

    @property
    def num_classes(self) -> int:
        """Number of classes (``len(classes)``), including classes without images."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        _, c, h, w = self.images.shape
        return (c, h, w)

    @property
    def targets(self) -> list[int]:
        """The labels as a list of ints, as torchvision datasets expose them."""
        return self.labels.tolist()

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label."""
        return {name: i for i, name in enumerate(self.classes)}

    # ------------------------------------------------------------------ class-indexed access
    def indices_of(self, c: int) -> torch.Tensor:
        """Indices (a cached CPU LongTensor, do not modify it) of the images of class ``c``, in dataset order.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.zeros(3, 1, 2, 2), torch.tensor([1, 0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train", mean=(0.5,), std=(0.5,))
            >>> ds.indices_of(1).tolist()
            [0, 2]
        """
        return self._class_index()[self._check_class(c)]

    def class_counts(self) -> list[int]:
        """Number of images of each class, indexed by label."""
        return [int(idx.numel()) for idx in self._class_index()]

    def sample(self, c: int, n: int, *, generator: torch.Generator) -> torch.Tensor:
        """``n`` distinct random images of class ``c``: the first ``n`` of a random permutation of the class.

        Args:
            c: class index.
            n: number of images, at most the number of images of the class (draws are without replacement).
            generator: the source of randomness.

        Returns:
            ``(n, C, H, W)`` on the dataset's device.

        Raises:
            ValueError: ``c`` is out of range, or ``n`` is not in ``[1, count of class c]``.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(4, 1, 2, 2), torch.tensor([0, 0, 1, 1]), classes=["a", "b"],
            ...                  name="toy", split="train")
            >>> ds.sample(1, 2, generator=torch.Generator().manual_seed(0)).shape
            torch.Size([2, 1, 2, 2])
        """
        check_generator(generator)
        return self.images.index_select(0, self._draw(c, n, generator).to(self.images.device))

    def sample_per_class(
        self,
        n: int,
        *,
        generator: torch.Generator,
        classes: Sequence[int] | None = None,
        keep: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """``n`` random images of every class (or of ``classes``, in that order), gathered in one copy.

        Class ``k`` of the result holds the same images as ``sample(k, n)`` would with the generator in the same
        state, so ``sample_per_class(n, classes=[c])[0]`` equals ``sample(c, n)``.

        Args:
            n: images per class, at most the smallest count among the requested classes.
            generator: the source of randomness (used class by class, in order).
            classes: class indices to draw from; all classes when ``None``.
            keep: positions (into the requested classes) whose images are returned; the generator still advances
                for every requested class, so a process that keeps only its own classes stays in step with one
                that keeps them all (class-sharded condensation). All when ``None``.

        Returns:
            ``(K, n, C, H, W)`` on the dataset's device, ``K`` the number of requested (or kept) classes.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2]), classes=["a", "b", "c"],
            ...                  name="toy", split="train")
            >>> ds.sample_per_class(2, generator=torch.Generator().manual_seed(0), classes=[2, 0]).shape
            torch.Size([2, 2, 1, 2, 2])
        """
        draws = [rows for _, rows in draw_per_class(self, n, generator, classes, keep)]
        batch = self.images.index_select(0, torch.cat(draws).to(self.images.device))
        return batch.view(len(draws), n, *self.image_shape)

    def subset_per_class(self, n: int, *, generator: torch.Generator) -> RealDataset:
        """A new dataset of ``n`` random images per class (the "random-real" baseline), grouped by class.

        Raises:
            ValueError: some class has fewer than ``n`` images; the message names it.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train")
            >>> ds.subset_per_class(2, generator=torch.Generator().manual_seed(0)).labels.tolist()
            [0, 0, 1, 1]
        """
        check_generator(generator)
        counts = self.class_counts()
        smallest = min(range(self.num_classes), key=counts.__getitem__)
        if check_count(n) > counts[smallest]:
            raise ValueError(
                f"cannot take {n} images per class from {self.name}/{self.split}: class {smallest} "
                f"({self.classes[smallest]!r}) has only {counts[smallest]}; use n <= {counts[smallest]}"
            )
        images = self.sample_per_class(n, generator=generator).reshape(-1, *self.image_shape)
        labels = torch.arange(self.num_classes, device=self.labels.device).repeat_interleave(n)
        subset = RealDataset.__new__(RealDataset)
        subset._set_fields(
            images, labels, classes=list(self.classes), name=self.name, split=self.split, mean=self.mean, std=self.std
        )
        return subset

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, in dataset order, as ``(images, labels)`` views of at most ``batch_size`` rows.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(5, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0]), classes=["a", "b"],
            ...                  name="toy", split="test")
            >>> [len(y) for _, y in ds.batches(2)]
            [2, 2, 1]
        """
        size = check_count(batch_size)
        for start in range(0, len(self), size):
            yield self.images[start : start + size], self.labels[start : start + size]

    def holdout(self, per_class: int | float, *, seed: int = 0) -> tuple[RealDataset, RealDataset]:
        """``(train_part, validation)``: a class-stratified, deterministic validation split held out of this one.

        Hyperparameters are chosen by condensing on ``train_part`` and scoring on ``validation``, never on the test
        split. Each class gives the same number (or share) of its images, chosen from a seed derived from
        ``(seed, class)``; both parts keep this dataset's order, classes and normalization statistics (the
        protocol's, not recomputed on a part). See :mod:`condensed_data.data.holdout`.

        Args:
            per_class: Images per class held out (an integer), or a fraction of each class (a float in ``(0, 1)``).
            seed: Chooses which images (default 0: the same validation split for every run).

        Raises:
            ValueError: the hold-out would leave some class without a training image (the message names it).

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 0, 1, 0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train")
            >>> train, validation = ds.holdout(1)
            >>> len(train), len(validation), validation.split
            (4, 2, 'validation')
        """
        train, validation = holdout_rows(self._class_index(), per_class, seed=seed, what=f"{self.name}/{self.split}")
        return self._rows(train, self.split), self._rows(validation, VALIDATION_SPLIT)

    def _rows(self, rows: torch.Tensor, split: str) -> RealDataset:
        """A new dataset of the images at ``rows``, with these classes and statistics, named ``split``."""
        part = RealDataset.__new__(RealDataset)
        images = self.images.index_select(0, rows.to(self.images.device))
        labels = self.labels.index_select(0, rows.to(self.labels.device))
        part._set_fields(
            images, labels, classes=list(self.classes), name=self.name, split=split, mean=self.mean, std=self.std
        )
        return part

    # ------------------------------------------------------------------ value space
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel, for any ``(..., C, H, W)`` float tensor on any device.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train", mean=(0.5,), std=(0.25,))
            >>> ds.normalize(torch.ones(1, 1, 1, 1)).item()
            2.0
        """
        mean, std = self._stats_like(x)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std + mean`` per channel: the inverse of :meth:`normalize`."""
        mean, std = self._stats_like(x)
        return x * std + mean

    def fingerprint(self) -> str:
        """A ``"sha256:<hex>"`` digest of the data, stable across runs, machines and devices.

        It hashes the images quantized to uint8 (``round(x * 255)``), their shape, the labels and the class names;
        not the name, split or statistics, so the same data loaded by two routes has the same fingerprint.

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.zeros(2, 1, 2, 2), torch.tensor([0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train", mean=(0.5,), std=(0.5,))
            >>> ds.fingerprint().startswith("sha256:")
            True
        """
        if self._fingerprint is None:
            digest = hashlib.sha256(_FINGERPRINT_VERSION)
            header = {"shape": list(self.images.shape), "classes": self.classes}
            digest.update(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8"))
            for chunk in self.images.split(_FINGERPRINT_CHUNK):
                quantized = chunk.detach().to("cpu", torch.float32).mul(255).round_().clamp_(0, 255).to(torch.uint8)
                digest.update(memoryview(quantized.contiguous().numpy()))
            digest.update(self.labels.detach().cpu().to(torch.int64).numpy().astype("<i8").tobytes())
            self._fingerprint = "sha256:" + digest.hexdigest()
        return self._fingerprint

    def to(self, device: torch.device | str) -> RealDataset:
        """The dataset with images and labels on ``device`` (``self`` when already there).

        Example:
            >>> import torch
            >>> ds = RealDataset(torch.rand(2, 1, 2, 2), torch.tensor([0, 1]), classes=["a", "b"],
            ...                  name="toy", split="train")
            >>> ds.to("cpu") is ds
            True
        """
        images, labels = self.images.to(device), self.labels.to(device)
        if images is self.images and labels is self.labels:
            return self
        moved = RealDataset.__new__(RealDataset)
        moved._set_fields(
            images, labels, classes=self.classes, name=self.name, split=self.split, mean=self.mean, std=self.std
        )
        moved._by_class, moved._fingerprint = self._by_class, self._fingerprint
        return moved

    # ------------------------------------------------------------------ pickling (DataLoader workers)
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_by_class"] = None  # cheap to rebuild, and keeps the pickle to the data itself
        state["_stats_cache"] = {}
        return state

    # ------------------------------------------------------------------ internals
    def _class_index(self) -> list[torch.Tensor]:
        if self._by_class is None:
            labels = self.labels.cpu()
            order = torch.argsort(labels, stable=True)
            counts = torch.bincount(labels, minlength=self.num_classes).tolist()
            self._by_class = [part.clone() for part in torch.split(order, counts)]
        return self._by_class

    def _check_class(self, c: int) -> int:
        try:
            index = operator.index(c)
        except TypeError:
            raise TypeError(
                f"class must be an integer index, got {c!r}; look names up with dataset.class_to_idx[name]"
            ) from None
        if not 0 <= index < self.num_classes:
            raise ValueError(
                f"class index {index} is out of range: {self.name} has {self.num_classes} classes "
                f"(0..{self.num_classes - 1}); look names up with dataset.class_to_idx[name]"
            )
        return index

    def _draw(self, c: int, n: int, generator: torch.Generator) -> torch.Tensor:
        pool = self.indices_of(c)
        count = pool.numel()
        if check_count(n) > count:
            raise ValueError(
                f"cannot draw {n} images of class {c} ({self.classes[c]!r}): it has only {count} images in "
                f"{self.name}/{self.split}; draws are without replacement, so ask for at most {count}"
            )
        permutation = torch.randperm(count, generator=generator, device=generator.device)[:n]
        return pool[permutation.cpu()]

    def _stats_like(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        channels = len(self.mean)
        if x.dim() < 3 or x.shape[-3] != channels:
            raise ValueError(
                f"expected a tensor shaped (..., {channels}, H, W) for {self.name}'s {channels}-channel "
                f"statistics, got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise ValueError(f"normalize/denormalize need a float tensor, got {x.dtype}; convert with x.float() / 255")
        key = (x.device, x.dtype)
        if key not in self._stats_cache:
            # Cached per (device, dtype): one host-to-device copy per device, not one per call.
            mean = torch.tensor(self.mean, dtype=x.dtype, device=x.device).view(channels, 1, 1)
            std = torch.tensor(self.std, dtype=x.dtype, device=x.device).view(channels, 1, 1)
            self._stats_cache[key] = (mean, std)
        return self._stats_cache[key]
