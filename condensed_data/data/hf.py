"""HFDatasetSource: a Hugging Face ``datasets.Dataset`` read lazily, behind the :class:`~condensed_data.data.RealSource`
contract.

A ``datasets.Dataset`` is a memory-mapped Arrow table, so the split is never turned into one tensor: the label
column is read once (one Arrow column, no image decoded) into a per-class index of row positions, and a draw then
fetches and decodes only the rows it drew. A class-sharded process (``keep=``) decodes only its own classes' rows,
while its generator advances as if it drew them all.

Draws consume the generator exactly as :meth:`RealDataset.sample_per_class
<condensed_data.data.RealDataset.sample_per_class>` does over the same rows in the same order, so the source gives
the very batches an in-memory dataset of the same rows would. The image column is an ``Image`` feature (PNG/JPEG
bytes or file paths) or a uint8 ``Array2D``/``Array3D``; the labels come from a ``ClassLabel`` column (its names are
the classes) or a named integer column. Normalization statistics are computed in one streaming pass (which also
checks that every image has one size) and cached under ``$CONDENSED_DATA_HOME/hf-stats/``, keyed by
:meth:`HFDatasetSource.fingerprint`.

Example:
    >>> import datasets, torch
    >>> from PIL import Image
    >>> features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog"])})
    >>> rows = {"image": [Image.new("RGB", (4, 4), (40 * i, 0, 0)) for i in range(6)], "label": [0, 1] * 3}
    >>> source = HFDatasetSource(datasets.Dataset.from_dict(rows, features=features), mean=(0.5,) * 3, std=(0.5,) * 3)
    >>> source.classes, source.image_shape, source.class_counts()
    (['cat', 'dog'], (3, 4, 4), [3, 3])
    >>> source.sample_per_class(2, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 2, 3, 4, 4])
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from PIL import Image

from condensed_data.data._checks import check_classes, check_count, check_stats
from condensed_data.data._convert import image_to_tensor
from condensed_data.data._hf_features import (
    IMAGE_KIND,
    find_columns,
    import_datasets,
    read_labels,
    read_stats,
    write_stats,
)
from condensed_data.data.holdout import VALIDATION_SPLIT, holdout_rows
from condensed_data.data.lazy import LazySource

__all__ = ["HFDatasetSource"]

logger = logging.getLogger(__name__)

_FINGERPRINT_VERSION = b"condensed-data/hf-dataset/v1\n"
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})  # PIL modes read as one channel when grayscale=None


class HFDatasetSource(LazySource, torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """One split of a Hugging Face ``datasets.Dataset``, read lazily.

    Args:
        dataset: The split (a ``datasets.Dataset``, memory-mapped; not a ``DatasetDict`` or a streamed dataset).
        split: Split name (default: the dataset's own, else ``"train"``).
        name: Dataset name (default: the dataset's ``info.dataset_name``).
        classes: The expected class names, in label order (e.g. the train split's for a test split). Default: the
            ``ClassLabel`` names, or ``"0"``, ``"1"``, ... for a plain integer label column.
        image_column: The column of images (default: the only ``Image`` or uint8 array column).
        label_column: The column of labels (default: the only ``ClassLabel`` column).
        image_size: ``(height, width)`` to resize every image to (bilinear); without it all images must share one
            size.
        grayscale: Read images as one channel (``True``) or RGB (``False``); default: as the data is (one channel
            when the feature's mode, or else the first image, is grayscale).
        mean, std: Normalization statistics; computed in one streaming pass (and cached) when omitted.
        workers: Threads that decode a draw's images (0: decode in the calling thread).

    Raises:
        ImportError: ``datasets`` is not installed.
        TypeError: ``dataset`` is not one memory-mapped split.
        ValueError: The columns cannot be found (the message lists them), labels are missing or out of range, the
            class names differ from ``classes``, or images have mixed sizes without ``image_size``.
    """

    def __init__(
        self,
        dataset: Any,
        *,
        split: str | None = None,
        name: str | None = None,
        classes: Sequence[str] | None = None,
        image_column: str | None = None,
        label_column: str | None = None,
        image_size: tuple[int, int] | None = None,
        grayscale: bool | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        workers: int = 0,
    ) -> None:
        self.dataset = _check_dataset(dataset, import_datasets())
        self.split = split or (str(dataset.split) if dataset.split else "train")
        self.name = name or dataset.info.dataset_name or dataset.info.builder_name or "hf-dataset"
        self.columns = find_columns(dataset.features, image_column=image_column, label_column=label_column)
        names = self._check_classes(classes)
        labels = read_labels(
            dataset, self.columns.label, num_classes=None if names is None else len(names), where=self._where
        )
        self.classes = check_classes(names if names is not None else [str(c) for c in range(int(labels.max()) + 1)])
        self._labels = torch.from_numpy(labels)
        order = torch.argsort(self._labels, stable=True)
        self._by_class = list(torch.split(order, torch.bincount(self._labels, minlength=len(self.classes)).tolist()))
        self._view = dataset.select_columns([self.columns.image]).with_format("arrow")
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.workers, self.device = int(workers), torch.device("cpu")
        self._pool: ThreadPoolExecutor | None = None
        self._stats_cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        self.grayscale = self._resolve_grayscale(grayscale)
        self._image_shape: tuple[int, int, int] | None = None
        self._image_shape = self._first_shape()
        self._fingerprint: str | None = None
        if mean is None or std is None:
            computed = self._statistics()
            mean = computed[0] if mean is None else mean
            std = computed[1] if std is None else std
        self.mean = check_stats(mean, self._image_shape[0], "mean")
        self.std = check_stats(std, self._image_shape[0], "std", positive=True)

    # ------------------------------------------------------------------ the contract
    def __len__(self) -> int:
        return int(self._labels.numel())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        return self._decode_rows([index])[0].to(torch.float32).div_(255), int(self._labels[index])

    def __repr__(self) -> str:
        return (
            f"HFDatasetSource(name={self.name!r}, split={self.split!r}, num_images={len(self)}, "
            f"num_classes={self.num_classes}, image_shape={self.image_shape}, image_column={self.columns.image!r}, "
            f"label_column={self.columns.label!r})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image (after resizing)."""
        assert self._image_shape is not None
        return self._image_shape

    @property
    def targets(self) -> list[int]:
        """The labels, in row order, as torchvision datasets expose them."""
        return self._labels.tolist()

    def class_counts(self) -> list[int]:
        """Number of images of each class."""
        return [int(rows.numel()) for rows in self._by_class]

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, in row order, as ``(images, labels)`` batches of at most ``batch_size``."""
        size = check_count(batch_size)
        for start in range(0, len(self), size):
            rows = list(range(start, min(start + size, len(self))))
            images = torch.stack(self._decode_rows(rows)).to(torch.float32).div_(255)
            yield images, self._labels[start : start + size].clone()

    def holdout(self, per_class: int | float, *, seed: int = 0) -> tuple[HFDatasetSource, HFDatasetSource]:
        """``(train_part, validation)``: the class-stratified hold-out of :meth:`RealDataset.holdout
        <condensed_data.data.RealDataset.holdout>` (the same rows), as two lazily read sources with these classes
        and statistics."""
        train, validation = holdout_rows(self._by_class, per_class, seed=seed, what=self._where)
        return self._rows(train, self.split), self._rows(validation, VALIDATION_SPLIT)

    # The same per-channel statistics arithmetic (and per-device cache) as the in-memory dataset.

    def fingerprint(self) -> str:
        """``"sha256:<hex>"`` of the dataset's own fingerprint, its Arrow files (names and sizes), the columns, the
        classes and the reading options.

        ``datasets`` derives its fingerprint from how the data was made (the source files, or the content of an
        in-memory table) and keeps it in its cache and in ``save_to_disk`` folders, so this is stable across runs.
        It does not hash the pixels (that would read the whole split).
        """
        if self._fingerprint is None:
            files = [
                [f["filename"].replace("\\", "/").rsplit("/", 1)[-1], _size(f["filename"])]
                for f in self.dataset.cache_files
            ]
            record = {
                "dataset": self.dataset._fingerprint,
                "files": files,
                "rows": len(self),
                "columns": [self.columns.image, self.columns.label],
                "classes": self.classes,
                "image_size": self.image_size,
                "grayscale": self.grayscale,
            }
            digest = hashlib.sha256(_FINGERPRINT_VERSION)
            digest.update(json.dumps(record, sort_keys=True).encode())
            self._fingerprint = "sha256:" + digest.hexdigest()
        return self._fingerprint

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"], state["_stats_cache"] = None, {}
        return state

    # ------------------------------------------------------------------ internals
    def _check_classes(self, expected: Sequence[str] | None) -> list[str] | None:
        found = self.columns.names
        if expected is None or found is None or list(expected) == found:
            return found if expected is None else list(expected)
        raise ValueError(
            f"{self._where}: the classes of column {self.columns.label!r} ({found[:5]}{'...' if len(found) > 5 else ''}) "
            f"differ from the expected ones ({list(expected)[:5]}...); every split must have the train split's classes"
        )

    def _resolve_grayscale(self, grayscale: bool | None) -> bool:
        if grayscale is not None:
            return bool(grayscale)
        mode = getattr(self.dataset.features[self.columns.image], "mode", None)
        if mode is None:
            with self._open(self._cells([0])[0], 0) as first:
                mode = first.mode
        logger.debug(
            "%s: images read as %s (their mode is %s)", self._where, "grayscale" if mode in _GRAY_MODES else "RGB", mode
        )
        return mode in _GRAY_MODES

    def _first_shape(self) -> tuple[int, int, int]:
        if self.image_size is not None:
            return (1 if self.grayscale else 3, *self.image_size)
        return tuple(self._decode_rows([0])[0].shape)  # type: ignore[return-value]

    def _statistics(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and population std over every image: one streaming pass, cached by fingerprint."""
        found = read_stats(self.fingerprint())
        if found is not None:
            return found
        logger.info("computing the normalization statistics of %s (%d images, one pass)", self._where, len(self))
        channels = self.image_shape[0]
        total = torch.zeros(channels, dtype=torch.float64)
        squares = torch.zeros(channels, dtype=torch.float64)
        count = 0
        for images, _ in self.batches(256):
            x = images.to(torch.float64)
            total += x.sum(dim=(0, 2, 3))
            squares += x.square().sum(dim=(0, 2, 3))
            count += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / count
        std = (squares / count - mean.square()).clamp_min(0).sqrt()
        stds = [float(s) if s > 0 else 1.0 for s in std]  # a constant channel: centre it only, as RealDataset does
        write_stats(self.fingerprint(), mean.tolist(), stds)
        return mean.tolist(), stds

    def _cells(self, rows: list[int]) -> list[Any]:
        """The stored images of ``rows``: ``{"bytes", "path"}`` dicts (Image feature) or uint8 arrays."""
        column = self._view[rows].column(0)
        if self.columns.kind == IMAGE_KIND:
            return column.to_pylist()
        return list(column.combine_chunks().to_numpy(zero_copy_only=False))

    def _open(self, cell: Any, row: int) -> Image.Image:
        if self.columns.kind != IMAGE_KIND:
            pixels = image_to_tensor(cell, where=f"{self._where} row {row}").permute(1, 2, 0)
            return Image.fromarray(pixels.squeeze(-1).numpy() if pixels.shape[-1] == 1 else pixels.numpy())
        data, path = (cell or {}).get("bytes"), (cell or {}).get("path")
        try:
            return Image.open(io.BytesIO(data) if data is not None else path)
        except (OSError, TypeError, ValueError) as exc:
            what = "has no image" if data is None and not path else f"cannot be read ({exc})"
            raise ValueError(
                f"{self._where}: row {row} of column {self.columns.image!r} {what}; remove the row "
                "(dataset.filter) or fix the file"
            ) from exc

    def _decode(self, cell: Any, row: int) -> torch.Tensor:
        with self._open(cell, row) as opened:
            try:
                image = opened.convert("L" if self.grayscale else "RGB")
            except OSError as exc:  # a truncated or corrupt file fails when it is decoded, not when it is opened
                raise ValueError(
                    f"{self._where}: row {row} of column {self.columns.image!r} cannot be decoded ({exc}); remove the "
                    "row (dataset.filter) or fix the file"
                ) from exc
        if self.image_size is not None:
            image = image.resize((self.image_size[1], self.image_size[0]), Image.Resampling.BILINEAR)
        pixels = image_to_tensor(image, where=f"{self._where} row {row}")
        if self._image_shape is not None and tuple(pixels.shape) != self._image_shape:
            raise ValueError(
                f"{self._where}: row {row} is an image of {tuple(pixels.shape)} but row 0 is {self._image_shape}; "
                "images have different sizes: pass image_size=(height, width) to resize them on reading "
                "(on the command line: hf:NAME?size=HxW)"
            )
        return pixels

    def _gather(self, draws: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
        rows = torch.cat([self._by_class[c][positions] for c, positions in draws]).tolist()
        return torch.stack(self._decode_rows(rows)).to(torch.float32).div_(255)

    def _decode_rows(self, rows: list[int]) -> list[torch.Tensor]:
        """uint8 ``(C, H, W)`` images of ``rows``, fetched in one Arrow ``take`` and decoded (in threads)."""
        items = list(zip(self._cells(rows), rows, strict=True))
        if self.workers <= 0 or len(items) < 2:
            return [self._decode(cell, row) for cell, row in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hf-dataset")
        return list(self._pool.map(lambda item: self._decode(*item), items))

    def _rows(self, rows: torch.Tensor, split: str) -> HFDatasetSource:
        return HFDatasetSource(
            self.dataset.select(rows.tolist(), keep_in_memory=True),
            split=split,
            name=self.name,
            classes=self.classes,
            image_column=self.columns.image,
            label_column=self.columns.label,
            image_size=self.image_size,
            grayscale=self.grayscale,
            mean=self.mean,
            std=self.std,
            workers=self.workers,
        )


def _check_dataset(dataset: Any, datasets: Any) -> Any:
    if isinstance(dataset, datasets.DatasetDict):
        raise TypeError(f"pass one split of the DatasetDict, e.g. dataset['train'] (it has {list(dataset)})")
    if isinstance(dataset, (datasets.IterableDataset, datasets.IterableDatasetDict)):
        raise TypeError(
            "a streamed dataset (streaming=True) cannot be drawn from by class; load it without streaming: "
            "datasets keeps it memory-mapped on disk, not in memory"
        )
    if not isinstance(dataset, datasets.Dataset):
        raise TypeError(f"expected a datasets.Dataset, got {type(dataset).__name__}")
    return dataset


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return -1
