"""The Parquet view of an artifact: ``data/train-*.parquet``, what ``datasets.load_dataset`` and the Hub viewer read.

Columns, in the layout of the ``datasets`` library's features (recorded in the Parquet schema metadata and in the
dataset card's ``dataset_info``):

* ``image``: an ``Image`` feature, a struct ``{bytes, path}`` holding an 8-bit PNG (grey for 1 channel, RGB for 3,
  RGBA for 4). Values are mapped from ``value_space.pixel_range`` to 0..255, clipped and rounded.
* ``label``: a ``ClassLabel`` with the class names (for soft labels: the argmax class).
* ``soft_label``: only for soft-label sets, the stored label vector as a list of float32.

The view is *lossy* (8-bit, clipped): ``images.safetensors`` stays the exact source of truth, and
``CondensedDataset`` never reads the view. ``benchmarks/parquet_view.py`` measures what training on it loses.

Loading-side code: ``pyarrow`` (a core dependency) is imported inside functions.

>>> import torch
>>> from condensed_data.artifact.manifest import Manifest
>>> m = Manifest.example()
>>> png = encode_images(torch.zeros(1, 1, 8, 8), m.value_space.pixel_range)[0]
>>> png[:4] == b"\\x89PNG"
True
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from condensed_data.artifact.manifest import Manifest

__all__ = [
    "VIEW_DIR",
    "VIEW_GLOB",
    "MAX_SHARD_BYTES",
    "view_files",
    "view_features",
    "quantize",
    "encode_images",
    "write_view",
    "read_view",
]

logger = logging.getLogger(__name__)

VIEW_DIR = "data"
VIEW_GLOB = "data/train-*.parquet"
# A shard holds at most this many bytes of PNG data (the Hub viewer and `datasets` stream row groups; smaller files
# upload and resume better).
MAX_SHARD_BYTES = 256 * 1024 * 1024
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def view_files(names: Sequence[str]) -> list[str]:
    """The Parquet view's files among ``names`` (e.g. a manifest's ``files``), sorted."""
    return sorted(n for n in names if n.startswith(f"{VIEW_DIR}/train-") and n.endswith(".parquet"))


def view_features(manifest: Manifest) -> dict[str, Any]:
    """The view's columns as ``datasets`` features serialized (``Features.to_dict()`` layout)."""
    features: dict[str, Any] = {
        "image": {"_type": "Image"},
        "label": {"names": list(manifest.classes), "_type": "ClassLabel"},
    }
    if manifest.label_kind == "soft":
        features["soft_label"] = {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"}
    return features


def view_skip_reason(manifest: Manifest) -> str | None:
    """Why ``manifest``'s set gets no Parquet view (``None``: it gets one)."""
    if manifest.image_shape[0] not in _MODES:
        return f"{manifest.image_shape[0]}-channel images have no PNG mode (1, 3 or 4 channels)"
    return None


def quantize(images: torch.Tensor, pixel_range: Sequence[float]) -> np.ndarray:
    """(N, C, H, W) float images in ``pixel_range`` -> (N, H, W, C) uint8, clipped and rounded to 1/255 steps.

    Raises:
        ValueError: non-finite values (NaN or infinite pixels have no 8-bit value).
    """
    x = images.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError("images hold NaN or infinite values, which have no 8-bit value")
    lo, hi = float(pixel_range[0]), float(pixel_range[1])
    scaled = ((x - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0
    return scaled.round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def encode_images(images: torch.Tensor, pixel_range: Sequence[float]) -> list[bytes]:
    """Each image as PNG bytes (see :func:`quantize`)."""
    pixels = quantize(images, pixel_range)
    channels = pixels.shape[3]
    if channels not in _MODES:
        raise ValueError(f"{channels}-channel images have no PNG mode (1, 3 or 4 channels)")
    out = []
    for img in pixels:
        buf = io.BytesIO()
        Image.fromarray(img[:, :, 0] if channels == 1 else img, mode=_MODES[channels]).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def _shards(sizes: Sequence[int], max_bytes: int) -> list[tuple[int, int]]:
    bounds, start, total = [], 0, 0
    for i, size in enumerate(sizes):
        if i > start and total + size > max_bytes:
            bounds.append((start, i))
            start, total = i, 0
        total += size
    bounds.append((start, len(sizes)))
    return bounds


def write_view(
    folder: str | os.PathLike,
    images: torch.Tensor,
    labels: torch.Tensor,
    manifest: Manifest,
    *,
    max_shard_bytes: int = MAX_SHARD_BYTES,
) -> list[str]:
    """Write the Parquet view of ``images``/``labels`` under ``folder/data/``; return the file names written.

    Names are ``data/train-00000-of-00001.parquet`` (more shards, ``-of-0000N``, when the PNG bytes exceed
    ``max_shard_bytes``). ``labels`` are (N,) class indices or (N, K) soft labels, as ``manifest.label_kind`` says.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    reason = view_skip_reason(manifest)
    if reason:
        raise ValueError(f"no Parquet view: {reason}")
    pngs = encode_images(images, manifest.value_space.pixel_range)
    labels = labels.detach().cpu()
    soft = manifest.label_kind == "soft"
    hard = (labels.argmax(dim=1) if soft else labels).to(torch.int64).tolist()
    features = view_features(manifest)
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    fields = [pa.field("image", image_type), pa.field("label", pa.int64())]
    if soft:
        fields.append(pa.field("soft_label", pa.list_(pa.float32())))
    schema = pa.schema(fields, metadata=metadata)
    bounds = _shards([len(p) for p in pngs], max_shard_bytes)
    out = Path(folder) / VIEW_DIR
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for index, (start, stop) in enumerate(bounds):
        columns = [
            pa.array([{"bytes": p, "path": None} for p in pngs[start:stop]], type=image_type),
            pa.array(hard[start:stop], type=pa.int64()),
        ]
        if soft:
            columns.append(pa.array(labels[start:stop].to(torch.float32).tolist(), type=pa.list_(pa.float32())))
        name = f"{VIEW_DIR}/train-{index:05d}-of-{len(bounds):05d}.parquet"
        pq.write_table(pa.Table.from_arrays(columns, schema=schema), Path(folder) / name)
        names.append(name)
    return names


def read_view(folder: str | os.PathLike, manifest: Manifest) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode the Parquet view back to (N, C, H, W) float images in ``pixel_range`` and labels (soft if stored).

    What a consumer of the view sees (8-bit), for comparisons with the exact tensors.
    """
    import pyarrow.parquet as pq

    folder = Path(folder)
    names = view_files(manifest.files) or view_files(
        [p.relative_to(folder).as_posix() for p in (folder / VIEW_DIR).glob("*.parquet")]
    )
    if not names:
        raise FileNotFoundError(f"{folder} has no Parquet view ({VIEW_GLOB})")
    lo, hi = manifest.value_space.pixel_range
    images, hard, soft = [], [], []
    for name in names:
        table = pq.read_table(folder / name)
        for cell in table.column("image").to_pylist():
            arr = np.asarray(Image.open(io.BytesIO(cell["bytes"])), dtype=np.float32)
            if arr.ndim == 2:
                arr = arr[:, :, None]
            images.append(torch.from_numpy(arr).permute(2, 0, 1) / 255.0 * (hi - lo) + lo)
        hard += table.column("label").to_pylist()
        if "soft_label" in table.column_names:
            soft += table.column("soft_label").to_pylist()
    labels = torch.tensor(soft, dtype=torch.float32) if soft else torch.tensor(hard, dtype=torch.int64)
    return torch.stack(images), labels
