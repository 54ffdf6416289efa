"""The built-in real datasets by name: :func:`load_dataset` and :func:`list_datasets`."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from condensed_data.data import cifar, digits, fashion_mnist, mnist, svhn, tiny_imagenet
from condensed_data.data.adapters import from_image_folder
from condensed_data.data.folder import ImageFolderSource
from condensed_data.data.real import RealDataset
from condensed_data.data.shard_format import INDEX_NAME as SHARD_INDEX
from condensed_data.data.shards import ShardedRealSource
from condensed_data.data.source import RealSource
from condensed_data.data.spec import parse_options, split_query

__all__ = ["list_datasets", "load_dataset"]

logger = logging.getLogger(__name__)

Loader = Callable[[str, "str | os.PathLike[str] | None", bool], RealSource]


@dataclass(frozen=True)
class _Entry:
    splits: tuple[str, ...]
    load: Loader


def _load_fashion_mnist(split: str, root: str | os.PathLike[str] | None, download: bool) -> RealDataset:
    return fashion_mnist.load_fashion_mnist(split, root=root, download=download)


def _load_digits(split: str, root: str | os.PathLike[str] | None, download: bool) -> RealDataset:
    # Bundled with scikit-learn: there is nothing to locate or download, so root/download do not apply.
    if root is not None or download:
        logger.debug("digits ships with scikit-learn; ignoring root=%r, download=%r", root, download)
    return digits.load_digits(split)


_DATASETS: dict[str, _Entry] = {
    "cifar10": _Entry(cifar.SPLITS, lambda s, r, d: cifar.load_cifar(cifar.CIFAR10, s, root=r, download=d)),
    "cifar100": _Entry(cifar.SPLITS, lambda s, r, d: cifar.load_cifar(cifar.CIFAR100, s, root=r, download=d)),
    "digits": _Entry(digits.SPLITS, _load_digits),
    "fashion-mnist": _Entry(fashion_mnist.SPLITS, _load_fashion_mnist),
    "mnist": _Entry(mnist.SPLITS, lambda s, r, d: mnist.load_mnist(s, root=r, download=d)),
    "svhn": _Entry(svhn.SPLITS, lambda s, r, d: svhn.load_svhn(s, root=r, download=d)),
    "tiny-imagenet": _Entry(
        tiny_imagenet.SPLITS, lambda s, r, d: tiny_imagenet.load_tiny_imagenet(s, root=r, download=d)
    ),
}
_ALIASES = {
    "fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
    "cifar-10": "cifar10", "cifar-100": "cifar100", "cifar_10": "cifar10", "cifar_100": "cifar100",
    "tiny_imagenet": "tiny-imagenet", "tinyimagenet": "tiny-imagenet", "tiny-imagenet-200": "tiny-imagenet",
}  # fmt: skip


IMAGEFOLDER_PREFIX = "imagefolder:"


def _load_image_folder(root: str, split: str) -> RealDataset:
    """``PATH/<split>/<class>/<image>``; every split is normalized with the train split's statistics."""
    base = Path(root)
    folder = base / split
    if split == "test" and not folder.is_dir() and (base / "val").is_dir():
        folder = base / "val"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder} is not a folder; '{IMAGEFOLDER_PREFIX}{root}' expects {base}/train/<class>/<image> and "
            f"{base}/test/<class>/<image> (or val/)"
        )
    name = f"{IMAGEFOLDER_PREFIX}{base}"
    train = from_image_folder(base / "train", split="train", name=name)
    if split == "train":
        return train
    return from_image_folder(folder, split=split, name=name, mean=train.mean, std=train.std)


FOLDER_PREFIX = "folder:"
_FOLDER_OPTIONS = ("size", "grayscale", "workers", "cache", "on_error")


def _load_folder(spec: str, split: str) -> ImageFolderSource:
    """``folder:PATH[?OPTIONS]``, read lazily: the train split is ``PATH/train`` (or ``PATH`` itself), the test split
    ``PATH/test`` (or ``PATH/val``), with the train split's classes and statistics. ``OPTIONS`` (``size``,
    ``grayscale``, ``workers``, ``cache``, ``on_error``; :mod:`condensed_data.data.spec`) apply to both splits."""
    root, query = split_query(spec)
    name = f"{FOLDER_PREFIX}{spec}"
    options = parse_options(query, _FOLDER_OPTIONS, where=f"{FOLDER_PREFIX}{root}")
    base = Path(root).expanduser()
    train_dir = base / "train" if (base / "train").is_dir() else base
    train = ImageFolderSource(train_dir, split="train", name=name, **options)
    if split == "train":
        return train
    folder = next((base / s for s in (split, "val") if (base / s).is_dir() and train_dir != base), None)
    if folder is None:
        raise FileNotFoundError(
            f"'{name}' has no {split} split: expected {base}/train/<class>/<image> and {base}/{split}/<class>/<image> "
            "(or val/); add it, or skip the evaluation (condense --no-eval)"
        )
    return ImageFolderSource(
        folder, split=split, name=name, classes=train.classes, mean=train.mean, std=train.std, **options
    )


SHARDS_PREFIX = "shards:"


def _load_shards(root: str, split: str) -> ShardedRealSource:
    """``shards:PATH``, class-bucketed shards read lazily: the train split is ``PATH/train`` (or ``PATH`` itself),
    the test split ``PATH/test`` (or ``PATH/val``), with the train split's classes and statistics."""
    base = Path(root).expanduser()
    train_dir = base / "train" if (base / "train" / SHARD_INDEX).is_file() else base
    name = f"{SHARDS_PREFIX}{root}"
    train = ShardedRealSource(train_dir, split="train", name=name)
    if split == "train":
        return train
    folder = next((base / s for s in (split, "val") if (base / s / SHARD_INDEX).is_file() and train_dir != base), None)
    if folder is None:
        raise FileNotFoundError(
            f"'{name}' has no {split} split: expected shards in {base}/train and {base}/{split} (or val/), each "
            "written by data.write_real_shards(...); add them, or skip the evaluation (condense --no-eval)"
        )
    return ShardedRealSource(folder, split=split, name=name, classes=train.classes, mean=train.mean, std=train.std)


def list_datasets() -> list[str]:
    """The names :func:`load_dataset` accepts, sorted.

    Example:
        >>> list_datasets()
        ['cifar10', 'cifar100', 'digits', 'fashion-mnist', 'mnist', 'svhn', 'tiny-imagenet']
    """
    return sorted(_DATASETS)


def load_dataset(
    name: str, split: str = "train", *, root: str | os.PathLike[str] | None = None, download: bool = False
) -> RealSource:
    """Load a built-in real dataset split.

    ``mnist``, ``fashion-mnist`` (IDX files), ``cifar10``, ``cifar100`` (their binary versions, never the pickled
    Python version), ``svhn`` (``*_32x32.mat``) and ``digits`` (scikit-learn's) load into memory as a
    :class:`~condensed_data.data.RealDataset`; ``tiny-imagenet`` (``tiny-imagenet-200/``, its ``val`` images as the
    test split) is read lazily as an :class:`~condensed_data.data.ImageFolderSource`. Files are looked for in
    ``root``, ``root/<name>``, ``$CONDENSED_DATA_HOME/<name>``, ``/usr/share/datasets/<name>`` and the data home
    (:mod:`condensed_data.data.locate`); the error of a missing dataset lists the places and the fixes.

    Args:
        name: one of :func:`list_datasets` (case-insensitive; ``fashion_mnist``/``fmnist``, ``cifar-10`` and
            ``tiny_imagenet`` also work), or
            ``"imagefolder:PATH"`` for ``PATH/train/<class>/<image>`` and ``PATH/test/...`` (or ``val/``) read into
            memory, or ``"folder:PATH"`` for the same layout (or ``PATH/<class>/<image>`` as the train split alone)
            read lazily (:class:`~condensed_data.data.ImageFolderSource`: for data that does not fit in memory),
            with reading options after ``?`` (``folder:PATH?size=64&workers=4``; :mod:`condensed_data.data.spec`).
            ``"shards:PATH"`` for class-bucketed shards in ``PATH/train`` (or ``PATH``) and ``PATH/test`` (or
            ``val/``) read lazily (:class:`~condensed_data.data.ShardedRealSource`, written by ``write_real_shards``).
            ``"hf:NAME[:CONFIG]"`` reads a Hugging Face dataset (a Hub id in the local cache, or a folder) lazily
            (:class:`~condensed_data.data.HFDatasetSource`; options in :mod:`condensed_data.data.hf_load`).
        split: ``"train"`` or ``"test"``.
        root: a folder to look in first, for datasets read from files.
        download: download a dataset that is not on the machine (through torchvision's md5-checked downloads; not
            ``digits``, which ships with scikit-learn).

    Raises:
        ValueError: unknown name (the message lists the known ones) or unknown split (lists the valid ones).

    Example:
        >>> ds = load_dataset("digits", "test")
        >>> ds.name, ds.split, ds.num_classes
        ('digits', 'test', 10)
    """
    if isinstance(name, str) and name.startswith(FOLDER_PREFIX):
        return _load_folder(name[len(FOLDER_PREFIX) :], split)
    if isinstance(name, str) and name.startswith("hf:"):  # a Hugging Face dataset, memory-mapped (hf_load.py)
        from condensed_data.data.hf_load import HF_PREFIX, load_hf

        return load_hf(name[len(HF_PREFIX) :], split)
    if isinstance(name, str) and name.startswith(SHARDS_PREFIX):
        return _load_shards(name[len(SHARDS_PREFIX) :], split)
    if isinstance(name, str) and name.startswith(IMAGEFOLDER_PREFIX):
        return _load_image_folder(name[len(IMAGEFOLDER_PREFIX) :], split)
    key = name.strip().lower() if isinstance(name, str) else name
    key = _ALIASES.get(key, key)
    if key not in _DATASETS:
        raise ValueError(
            f"unknown dataset {name!r}; known datasets: {', '.join(list_datasets())}. "
            f"For your own images use '{IMAGEFOLDER_PREFIX}PATH' (PATH/train/<class>/*.png and PATH/test/...; "
            f"'{FOLDER_PREFIX}PATH' reads them lazily), '{SHARDS_PREFIX}PATH' for class-bucketed shards, 'hf:NAME' "
            "for a Hugging Face dataset, or from_torchvision(), from_image_folder() or from_tensors() in Python"
        )
    entry = _DATASETS[key]
    if split not in entry.splits:
        raise ValueError(f"unknown split {split!r} for {key}; valid splits: {', '.join(entry.splits)}")
    return entry.load(split, root, download)
