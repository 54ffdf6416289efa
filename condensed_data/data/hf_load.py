"""``hf:NAME[:CONFIG][?OPTIONS]``: a Hugging Face dataset by name, read lazily (:func:`load_hf`).

``NAME`` is a Hub id (``uoft-cs/cifar10``), read from the local ``datasets`` cache (``HF_DATASETS_OFFLINE=1`` works
once it is there), or a local folder: one written by ``save_to_disk`` (it has ``dataset_dict.json`` or
``state.json``; read with ``load_from_disk``), or any folder ``datasets.load_dataset`` reads (Parquet files, an
``imagefolder`` layout). Loading never runs a dataset script (``trust_remote_code`` stays off) and never unpickles:
the data is Arrow/Parquet.

``OPTIONS`` pass the reading options of :class:`~condensed_data.data.HFDatasetSource` on a command line, URL style:
``image=COLUMN``, ``label=COLUMN``, ``size=HxW`` (or ``size=N`` for square), ``grayscale=true|false``,
``workers=N`` (:mod:`condensed_data.data.spec`), e.g.
``hf:uoft-cs/cifar100?label=fine_label`` (quote it in a shell).

The test split is ``test``, else ``validation`` (logged); it is read with the train split's classes and
normalization statistics.

Example:
    >>> parse_spec("uoft-cs/cifar100:default?label=fine_label&size=32")
    ('uoft-cs/cifar100', 'default', {'label_column': 'fine_label', 'image_size': (32, 32)})
"""

from __future__ import annotations

import inspect
import logging
from pathlib import Path
from typing import Any

from condensed_data.data._hf_features import import_datasets
from condensed_data.data.hf import HFDatasetSource
from condensed_data.data.spec import parse_options, split_query

__all__ = ["HF_PREFIX", "load_hf", "parse_spec"]

logger = logging.getLogger(__name__)

HF_PREFIX = "hf:"
_OPTIONS = ("image", "label", "size", "grayscale", "workers")
_SAVED_MARKERS = ("dataset_dict.json", "state.json")  # what save_to_disk writes


def parse_spec(spec: str) -> tuple[str, str | None, dict[str, Any]]:
    """``(name, config, options)`` of ``NAME[:CONFIG][?key=value&...]`` (the part after ``hf:``).

    A ``NAME`` that exists as a local path keeps its colons; otherwise the last ``:`` starts the config.

    Raises:
        ValueError: An unknown option or a malformed value; the message lists the options.
    """
    spec, query = split_query(spec)
    name, config = spec, None
    if ":" in spec and not Path(spec).expanduser().exists():
        name, config = spec.rsplit(":", 1)
    if not name:
        raise ValueError(f"'{HF_PREFIX}{spec}' names no dataset; use hf:NAME (a Hub id or a folder), e.g. hf:mnist")
    return name, config or None, parse_options(query, _OPTIONS, where=f"{HF_PREFIX}{spec}")


def load_hf(spec: str, split: str) -> HFDatasetSource:
    """The ``split`` of ``hf:spec`` as an :class:`~condensed_data.data.HFDatasetSource` (see the module docstring).

    Raises:
        ImportError: ``datasets`` is not installed.
        FileNotFoundError: The dataset is neither a local folder nor in the local cache (the message says how to
            get it), or it has no such split.
    """
    name, config, options = parse_spec(spec)
    label = f"{HF_PREFIX}{spec}"
    splits = _open_splits(name, config)
    if "train" not in splits:
        raise FileNotFoundError(f"'{label}' has no train split (it has {sorted(splits)})")
    train = HFDatasetSource(splits["train"], split="train", name=label, **options)
    if split == "train":
        return train
    chosen = split if split in splits else "validation" if split == "test" and "validation" in splits else None
    if chosen is None:
        raise FileNotFoundError(
            f"'{label}' has no {split} split (it has {sorted(splits)}); add one, or skip the evaluation "
            "(condense --no-eval)"
        )
    if chosen != split:
        logger.info("%s has no %r split; using its %r split instead", label, split, chosen)
    options = {**options, "grayscale": train.grayscale}
    source = HFDatasetSource(
        splits[chosen], split=split, name=label, classes=train.classes, mean=train.mean, std=train.std, **options
    )
    if source.image_shape != train.image_shape:
        raise ValueError(
            f"'{label}': {chosen} images are {source.image_shape} but train images are {train.image_shape}; resize "
            "both on reading with ?size=HxW"
        )
    return source


def _open_splits(name: str, config: str | None) -> dict[str, Any]:
    datasets = import_datasets()
    path = Path(name).expanduser()
    if path.is_dir() and any((path / marker).is_file() for marker in _SAVED_MARKERS):
        if config is not None:
            raise ValueError(f"{path} was written by save_to_disk and has no configs; drop ':{config}'")
        loaded = datasets.load_from_disk(str(path))
        return {"train": loaded} if isinstance(loaded, datasets.Dataset) else dict(loaded)
    if not path.exists() and name.startswith((".", "/", "~")):
        raise FileNotFoundError(f"'{HF_PREFIX}{name}': {path} does not exist; give a folder or a Hub dataset id")
    kwargs = {"trust_remote_code": False} if "trust_remote_code" in _parameters(datasets.load_dataset) else {}
    try:
        loaded = datasets.load_dataset(str(path) if path.exists() else name, config, **kwargs)
    except (ConnectionError, FileNotFoundError, datasets.exceptions.DatasetNotFoundError) as exc:
        if path.exists():
            raise FileNotFoundError(
                f"'{HF_PREFIX}{name}': datasets cannot read the folder {path} ({exc}); it needs data files "
                "(Parquet, Arrow, or <split>/<class>/<image>) or a save_to_disk folder"
            ) from exc
        raise FileNotFoundError(
            f"'{HF_PREFIX}{name}' is not in the local Hugging Face datasets cache ({datasets.config.HF_DATASETS_CACHE}) "
            f"and could not be fetched ({type(exc).__name__}: {exc}). On a machine with internet, run "
            f'`python -c "import datasets; datasets.load_dataset({name!r}{f", {config!r}" if config else ""})"` '
            "(with the same HF_HOME / HF_DATASETS_CACHE), then rerun with HF_DATASETS_OFFLINE=1; or save it with "
            "save_to_disk and pass hf:FOLDER"
        ) from exc
    return dict(loaded)


def _parameters(function: Any) -> set[str]:
    try:
        return set(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return set()
