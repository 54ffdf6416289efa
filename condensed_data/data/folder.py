"""ImageFolderSource: an image folder read lazily, behind the :class:`~condensed_data.data.RealSource` contract.

``root/<class>/<image>`` is indexed once (:mod:`condensed_data.data.folder_index`: classes, files, image sizes,
unreadable files, statistics, cached next to the data and invalidated when the listing changes); after that a draw
decodes only the files it drew, so memory holds one batch, not the split. A class-sharded process (``keep=``) reads
only the files of its own classes, while its generator advances as if it drew them all.

Draws consume the generator exactly as :meth:`RealDataset.sample_per_class
<condensed_data.data.RealDataset.sample_per_class>` does over the same files in the same (sorted) order, so the
folder gives the very batches :func:`~condensed_data.data.from_image_folder` would, without holding them.

Decoding runs in ``workers`` threads (PIL releases the GIL while decoding; a thread pool is reused across draws,
where a ``DataLoader`` would start its worker processes for every draw). ``cache`` keeps decoded images as uint8 in
memory, filled as they are read: ``"all"``, ``"none"``, or ``"auto"`` (when the whole split fits ``cache_bytes``).

Example:
    >>> import tempfile, pathlib, torch
    >>> from PIL import Image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for c in ("cat", "dog"):
    ...     (root / c).mkdir()
    ...     for i in range(3):
    ...         Image.new("RGB", (4, 4), (40 * i, 0, 0)).save(root / c / f"{i}.png")
    >>> source = ImageFolderSource(root)
    >>> source.classes, source.image_shape, source.class_counts()
    (['cat', 'dog'], (3, 4, 4), [3, 3])
    >>> source.sample_per_class(2, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 2, 3, 4, 4])
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from condensed_data.data._checks import check_count, check_stats
from condensed_data.data._convert import image_to_tensor
from condensed_data.data.folder_index import FolderIndex, check_unchanged, load_index, save_index, stats_key
from condensed_data.data.lazy import LazySource
from condensed_data.data.real import RealDataset

__all__ = ["CACHE_MODES", "ON_ERROR", "ImageFolderSource"]

logger = logging.getLogger(__name__)

CACHE_MODES = ("auto", "none", "all")
ON_ERROR = ("fail", "skip")
_FINGERPRINT_VERSION = b"condensed-data/image-folder-listing/v1\n"


def read_image(path: Path, *, image_size: tuple[int, int] | None, grayscale: bool) -> torch.Tensor:
    """One file as a uint8 ``(C, H, W)`` tensor (RGB, or one channel), resized (bilinear) to ``(H, W)`` if given."""
    with Image.open(path) as opened:
        image = opened.convert("L" if grayscale else "RGB")
    if image_size is not None:
        image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
    return image_to_tensor(image, where=str(path))


class ImageFolderSource(LazySource, torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """A real split read lazily from ``root/<class name>/<image file>``.

    Args:
        root: The split's folder.
        split: Split name (``"train"``, ``"test"``).
        name: Dataset name (default: the folder's name).
        classes: The expected class names, in label order (e.g. the train split's for a test split); the class
            folders must be exactly these. Default: the sorted folder names.
        image_size: ``(height, width)`` to resize every image to; without it all images must share one size.
        grayscale: Read images as one channel (default RGB).
        mean, std: Normalization statistics; computed in one streaming pass (cached with the index) when omitted.
        cache: Keep decoded images (uint8) in memory as they are read: ``"all"``, ``"none"``, or ``"auto"``
            (when the whole split fits ``cache_bytes``).
        cache_bytes: The memory budget of ``cache="auto"``.
        workers: Threads that decode a draw's files (0: decode in the calling thread).
        files: An explicit listing for a layout other than ``root/<class>/<image>``: class name -> image paths
            relative to ``root`` (:func:`~condensed_data.data.folder_index.load_index`); classes keep its order.
        on_error: ``"fail"`` (default): unreadable or truncated files are an error naming the first and the count;
            ``"skip"``: they are left out (with a warning). Files are checked when indexed (PIL's ``verify``:
            e.g. PNG checksums); a format PIL cannot verify without decoding (JPEG) that turns out truncated when
            a draw decodes it fails that draw, naming the file.

    Raises:
        FileNotFoundError: ``root`` is not a folder or has no class folders.
        ValueError: Bad files (``on_error="fail"``), an empty class, class folders other than ``classes``, or mixed
            image sizes without ``image_size``; the message names the files and the fix.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        split: str = "train",
        name: str | None = None,
        classes: Sequence[str] | None = None,
        image_size: tuple[int, int] | None = None,
        grayscale: bool = False,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        cache: str = "auto",
        cache_bytes: int = 2**30,
        workers: int = 0,
        on_error: str = "fail",
        files: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        if cache not in CACHE_MODES:
            raise ValueError(f"cache must be one of {', '.join(CACHE_MODES)}, got {cache!r}")
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {on_error!r}")
        self.index: FolderIndex = load_index(root, workers=workers, files=files)
        self.name, self.split = name or self.index.root.name, split
        self.image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.grayscale, self.workers, self.device = grayscale, int(workers), torch.device("cpu")
        self.classes = self._check_classes(classes)
        self._folder_of = [self.index.classes.index(name) for name in self.classes]
        self._members = self._usable_files(on_error)
        counts = [len(m) for m in self._members]
        self._offsets = [sum(counts[:c]) for c in range(len(counts))]
        self._image_shape = self._check_sizes()
        self._cache: dict[int, torch.Tensor] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._stats_cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, torch.Tensor]] = {}
        if cache == "all" or (cache == "auto" and len(self) * _numel(self._image_shape) <= cache_bytes):
            self._cache = {}
        channels = self._image_shape[0]
        if mean is None or std is None:
            computed = self._statistics()
            mean = computed[0] if mean is None else mean
            std = computed[1] if std is None else std
        self.mean = check_stats(mean, channels, "mean")
        self.std = check_stats(std, channels, "std", positive=True)

    # ------------------------------------------------------------------ the contract
    def __len__(self) -> int:
        return sum(len(m) for m in self._members)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        c, i = self._locate(index)
        return self._read([(c, i)])[0].to(torch.float32).div_(255), c

    def __repr__(self) -> str:
        return (
            f"ImageFolderSource(root={str(self.index.root)!r}, split={self.split!r}, num_images={len(self)}, "
            f"num_classes={self.num_classes}, image_shape={self.image_shape}, cache={self._cache is not None})"
        )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image (after resizing)."""
        return self._image_shape

    @property
    def targets(self) -> list[int]:
        """The labels, as torchvision datasets expose them."""
        return [c for c, m in enumerate(self._members) for _ in m]

    def class_counts(self) -> list[int]:
        """Number of (readable) images of each class."""
        return [len(m) for m in self._members]

    def preload(self, classes: Sequence[int] | None = None) -> None:
        """Decode every image of ``classes`` (default: all) into the uint8 cache now, rather than as draws reach
        them; a class-sharded process preloads its own classes only.

        Raises:
            ValueError: the source keeps no cache (``cache="none"``, or ``"auto"`` over a split larger than
                ``cache_bytes``).
        """
        if self._cache is None:
            raise ValueError(
                f"preload needs the in-memory cache, and {self.name}/{self.split} keeps none; construct the source "
                "with cache='all' (or a cache_bytes large enough for cache='auto')"
            )
        wanted = range(self.num_classes) if classes is None else [self._check_class(c) for c in classes]
        for c in wanted:  # class by class: the decoded list of one class at a time, beside the cache
            self._read([(c, i) for i in range(len(self._members[c]))])

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, class by class in file order, as ``(images, labels)`` batches."""
        size = check_count(batch_size)
        items = [(c, i) for c, m in enumerate(self._members) for i in range(len(m))]
        for start in range(0, len(items), size):
            part = items[start : start + size]
            images = torch.stack(self._read(part)).to(torch.float32).div_(255)
            yield images, torch.tensor([c for c, _ in part], dtype=torch.int64)

    def holdout(self, per_class: int | float, *, seed: int = 0) -> tuple[RealDataset, RealDataset]:
        """Not offered by a lazily read folder yet: hold out a validation folder on disk instead."""
        raise ValueError(
            f"a validation hold-out (validation=) needs an in-memory dataset, and {self.name!r} is read lazily; "
            "split the folder on disk (PATH/train, PATH/val) or load it with data.from_image_folder(...)"
        )

    def fingerprint(self) -> str:
        """``"sha256:<hex>"`` of the folder's listing (names, sizes, mtimes), the classes and the reading options.

        It does not hash the pixels (that would read the whole split); see :mod:`condensed_data.data.folder_index`.
        """
        digest = hashlib.sha256(_FINGERPRINT_VERSION)
        digest.update(repr((self.index.listing, self.classes, self.image_size, self.grayscale)).encode())
        return "sha256:" + digest.hexdigest()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"], state["_stats_cache"] = None, {}
        return state

    # ------------------------------------------------------------------ internals
    def _check_classes(self, expected: Sequence[str] | None) -> list[str]:
        found = list(self.index.classes)
        if expected is None or list(expected) == found:
            return found
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        if missing or extra:
            raise ValueError(
                f"{self.index.root} must have one folder per class of the dataset: "
                + (f"missing {missing[:5]}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unexpected {extra[:5]}" if extra else "")
                + "; add or remove class folders so that both splits have the same classes"
            )
        return list(expected)

    def _usable_files(self, on_error: str) -> list[list[int]]:
        """Per class (in label order), the indices into the index's file list of the files to read."""
        bad = self.index.bad
        if bad and on_error == "fail":
            first = next(iter(bad))
            raise ValueError(
                f"{len(bad)} unreadable image file(s) in {self.index.root}, e.g. {self.index.root / first} "
                f"({bad[first]}); fix or remove them, or pass on_error='skip' to leave them out"
            )
        if bad:
            logger.warning("skipping %d unreadable image file(s) in %s", len(bad), self.index.root)
        members = []
        for name in self.classes:
            c = self.index.classes.index(name)
            keep = [i for i in range(len(self.index.files[c])) if self.index.relpath(c, i) not in bad]
            if not keep:
                raise ValueError(
                    f"class folder {self.index.root / self.index.folders[c]} has no readable images"
                    + (f" of class {name!r}" if self.index.folders[c] != name else "")
                    + "; add images or remove the folder"
                )
            members.append(keep)
        return members

    def _check_sizes(self) -> tuple[int, int, int]:
        channels = 1 if self.grayscale else 3
        if self.image_size is not None:
            return (channels, *self.image_size)
        sizes = self.index.sizes
        if len(sizes) > 1:
            (a, file_a), (b, file_b) = list(sizes.items())[:2]
            raise ValueError(
                f"images in {self.index.root} have different sizes ({file_a} is {a}, {file_b} is {b}); pass "
                "image_size=(height, width) to resize them on reading"
            )
        width, height = (int(v) for v in next(iter(sizes)).split("x"))
        return (channels, height, width)

    def _statistics(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and population std over every image: one streaming pass, cached with the index."""
        key = stats_key(self.image_size, self.grayscale)
        found = self.index.stats.get(key)
        if found is not None:
            return found["mean"], found["std"]
        channels = self._image_shape[0]
        total = torch.zeros(channels, dtype=torch.float64)
        squares = torch.zeros(channels, dtype=torch.float64)
        count = 0
        cache, self._cache = self._cache, None  # one pass over the split must not fill the cache with all of it
        try:
            for images, _ in self.batches(256):
                x = images.to(torch.float64)
                total += x.sum(dim=(0, 2, 3))
                squares += x.square().sum(dim=(0, 2, 3))
                count += x.shape[0] * x.shape[2] * x.shape[3]
        finally:
            self._cache = cache
        mean = total / count
        std = (squares / count - mean.square()).clamp_min(0).sqrt()
        stds = [float(s) if s > 0 else 1.0 for s in std]  # a constant channel: centre it only, as RealDataset does
        self.index.stats[key] = {"mean": mean.tolist(), "std": stds}
        save_index(self.index)
        return mean.tolist(), stds

    def _read(self, items: list[tuple[int, int]]) -> list[torch.Tensor]:
        """uint8 images of ``(class, position in class)`` items, from the cache or decoded (in threads)."""
        keys = [self._offsets[c] + i for c, i in items]
        cache = self._cache if self._cache is not None else {}
        todo = [(k, c, i) for k, (c, i) in zip(keys, items, strict=True) if k not in cache]
        if todo:
            decoded = self._map(lambda t: self._decode(t[1], t[2]), todo)
            fresh = {k: image for (k, _, _), image in zip(todo, decoded, strict=True)}
            if self._cache is not None:
                self._cache.update(fresh)
        else:
            fresh = {}
        return [cache[k] if k in cache else fresh[k] for k in keys]

    def _gather(self, draws: list[tuple[int, torch.Tensor]]) -> torch.Tensor:
        pixels = self._read([(c, int(i)) for c, rows in draws for i in rows])
        return torch.stack(pixels).to(torch.float32).div_(255)

    def _decode(self, c: int, i: int) -> torch.Tensor:
        path = check_unchanged(self.index, self._folder_of[c], self._members[c][i])
        try:
            image = read_image(path, image_size=self.image_size, grayscale=self.grayscale)
        except OSError as exc:
            raise ValueError(f"cannot read image {path} ({exc}); remove or replace the file and rerun") from exc
        if tuple(image.shape) != self._image_shape:
            raise ValueError(
                f"{path} is {tuple(image.shape)} but {self.name} images are {self._image_shape}; pass image_size="
            )
        return image

    def _map(self, fn, items: list) -> list:
        if self.workers <= 0 or len(items) < 2:
            return [fn(item) for item in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="image-folder")
        return list(self._pool.map(fn, items))

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} images")
        for c in range(self.num_classes - 1, -1, -1):
            if index >= self._offsets[c]:
                return c, index - self._offsets[c]
        raise IndexError(index)


def _numel(shape: tuple[int, ...]) -> int:
    out = 1
    for s in shape:
        out *= s
    return out
