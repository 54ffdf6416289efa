"""What :class:`~condensed_data.data.hf.HFDatasetSource` reads from a Hugging Face ``datasets.Dataset`` before its
first draw: which column holds the images and which the labels, the labels themselves, and cached statistics.

``datasets`` is an optional dependency (``pip install 'condensed-data[hf]'``), imported only when one of these
functions runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from condensed_data.data.paths import data_home

__all__ = ["Columns", "find_columns", "import_datasets", "read_labels", "read_stats", "write_stats"]

logger = logging.getLogger(__name__)

_STATS_FORMAT = "condensed-data/hf-stats/v1"
IMAGE_KIND, ARRAY_KIND = "image", "array"


def import_datasets() -> Any:
    """The ``datasets`` module, or an ImportError that names the extra to install."""
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(
            "reading a Hugging Face dataset needs the `datasets` package: pip install 'condensed-data[hf]'"
        ) from exc
    return datasets


@dataclass(frozen=True)
class Columns:
    """The image column (``kind``: ``"image"`` for an ``Image`` feature, ``"array"`` for a uint8 array) and the
    label column (``names``: the ``ClassLabel`` names, or ``None`` for plain integers)."""

    image: str
    kind: str
    label: str
    names: list[str] | None


def find_columns(features: Any, *, image_column: str | None, label_column: str | None) -> Columns:
    """The image and label columns of ``features``: the ones named, else the only ``Image`` (or uint8 array) column
    and the only ``ClassLabel`` column.

    Raises:
        ValueError: A named column is missing or of the wrong type, or the choice is ambiguous or impossible; the
            message lists the columns and their types, and says how to name them.
    """
    datasets = import_datasets()
    described = ", ".join(f"{name} ({_describe(feature)})" for name, feature in features.items())

    def fail(problem: str) -> ValueError:
        return ValueError(
            f"{problem}; the dataset's columns are: {described}. Name them: image_column=... and label_column=... "
            "(on the command line: hf:NAME?image=COLUMN&label=COLUMN)"
        )

    def image_kind(feature: Any) -> str | None:
        if isinstance(feature, datasets.Image):
            return IMAGE_KIND
        arrays = (datasets.Array2D, datasets.Array3D)
        return ARRAY_KIND if isinstance(feature, arrays) and feature.dtype == "uint8" else None

    if image_column is None:
        found = [name for name, feature in features.items() if image_kind(feature)]
        if len(found) != 1:
            raise fail(
                "no image column (an Image feature or a uint8 array)" if not found else f"{found} all hold images"
            )
        image_column = found[0]
    elif image_column not in features or image_kind(features[image_column]) is None:
        where = "is not a column" if image_column not in features else "holds no images (Image or uint8 array)"
        raise fail(f"image_column={image_column!r} {where}")
    if label_column is None:
        found = [name for name, feature in features.items() if isinstance(feature, datasets.ClassLabel)]
        if len(found) != 1:
            raise fail("no ClassLabel column" if not found else f"{found} are all ClassLabel columns")
        label_column = found[0]
    elif label_column not in features:
        raise fail(f"label_column={label_column!r} is not a column")
    feature = features[label_column]
    if isinstance(feature, datasets.ClassLabel):
        names = list(feature.names)
    elif isinstance(feature, datasets.Value) and feature.dtype.startswith(("int", "uint")):
        names = None
    else:
        raise fail(f"label_column={label_column!r} holds neither class labels nor integers")
    return Columns(image_column, image_kind(features[image_column]) or "", label_column, names)


def read_labels(dataset: Any, column: str, *, num_classes: int | None, where: str) -> np.ndarray:
    """The label column as int64 (one Arrow column read, no image decoded), checked to be in ``[0, num_classes)``
    (``num_classes=None``: only ``>= 0``)."""
    labels = dataset.select_columns([column]).with_format("arrow")[:].column(0)
    if labels.null_count:
        raise ValueError(f"{where}: {labels.null_count} rows have no label in column {column!r}; drop them first")
    values = np.array(labels.to_numpy(), dtype=np.int64)  # a writable copy (torch.from_numpy needs one)
    if values.size == 0:
        raise ValueError(f"{where} has no rows")
    bad = (values < 0) | (values >= (num_classes if num_classes is not None else np.iinfo(np.int64).max))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        hint = " (-1 marks an unlabelled row: this split has no labels)" if values[first] == -1 else ""
        limit = f"[0, {num_classes})" if num_classes is not None else "non-negative"
        raise ValueError(
            f"{where}: {int(bad.sum())} labels in column {column!r} are not {limit}, e.g. row {first} has "
            f"{int(values[first])}{hint}; use a labelled split or pick another label_column"
        )
    return values


def read_stats(fingerprint: str) -> tuple[list[float], list[float]] | None:
    """Cached statistics of the data identified by ``fingerprint`` (``None`` when there are none)."""
    try:
        record = json.loads(_stats_path(fingerprint).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(record, dict)
        or record.get("format") != _STATS_FORMAT
        or record.get("fingerprint") != fingerprint
    ):
        return None
    return record["mean"], record["std"]


def write_stats(fingerprint: str, mean: list[float], std: list[float]) -> None:
    """Cache statistics under ``$CONDENSED_DATA_HOME/hf-stats/`` (atomically; a failure only costs a recount)."""
    path = _stats_path(fingerprint)
    record = {"format": _STATS_FORMAT, "fingerprint": fingerprint, "mean": mean, "std": std}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("cannot cache the statistics at %s (%s); they will be recomputed next time", path, exc)


def _stats_path(fingerprint: str) -> Path:
    return data_home() / "hf-stats" / f"{hashlib.sha256(fingerprint.encode()).hexdigest()[:32]}.json"


def _describe(feature: Any) -> str:
    kind = type(feature).__name__
    dtype = getattr(feature, "dtype", None)
    return f"{kind} {dtype}" if kind.startswith(("Value", "Array")) else kind
