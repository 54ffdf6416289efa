"""Loading wing: readers for distilled sets published in other projects' formats (``condensed-data import FORMAT``).

Each reader takes a local file or folder and returns a :class:`ForeignSet`: the images and labels exactly as stored
(value space untouched; :mod:`condensed_data.interop.importers` converts that), the files it read, and whatever
else the format carries (the learned learning rate, the accuracies the original code recorded). Nothing here runs
code from a file: ``.pt`` files go through :func:`~condensed_data.interop.safe_torch.load_tensors_only`
(``weights_only=True``), ``.npz`` members through ``numpy.lib.format.read_array(allow_pickle=False)``, images
through PIL, Parquet through pyarrow.

======================  ===================================================================================
``mtt``                 ``images_best.pt`` + ``labels_best.pt`` (hard (N,) or soft (N, K) logits), optional
                        ``lr_best.pt``: MTT, DATM, DD-Ranking's ``images.pt`` / ``labels.pt`` / ``lr.pt`` too
``dc``                  ``res_{METHOD}_{DATASET}_{MODEL}_{IPC}ipc.pt``: ``{'data': [[images, labels], ...],
                        'accs_all_exps': {model: [acc, ...]}}`` (DC, DSA, DM); one experiment is picked
``datadam``             ``syn_data_*.pt``: ``{'data': [images, labels]}``
``idc``                 ``data.pt``: ``[data, target]``, each stored image packing factor x factor tiles
``kip``                 ``.npz`` with ``images`` (N, H, W, C) and ``labels`` (one-hot, or class indices)
``imagefolder``         ``CLASS/IMAGE.{png,jpg}`` (SRe2L, CDA, RDED, G-VBSM: ``new000/class000_id000.jpg``)
``parquet``             ``*.parquet`` with ``image`` (encoded bytes, or a struct with ``bytes``) and ``label`` or
                        ``class_id`` (RethinkDC; what ``datasets`` writes)
======================  ===================================================================================
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from condensed_data.interop.safe_torch import load_tensors_only

__all__ = ["ForeignSet", "ForeignFormatError", "Reader", "READERS", "FORMATS"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


class ForeignFormatError(ValueError):
    """A foreign file that cannot be imported; the message names the file, what is wrong and what to do."""


@dataclass
class ForeignSet:
    """What a reader found: values as stored, and where they came from."""

    images: torch.Tensor
    labels: torch.Tensor
    files: list[Path]
    root: Path
    experiment: int | None = None
    reported: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    classes: tuple[str, ...] | None = None  # names the format itself carries (folder names, Parquet features)
    pixel_data: bool = False  # 8-bit image files: pixel space by construction
    where: str = ""  # the file the images came from, for messages


@dataclass(frozen=True)
class Reader:
    """A format: its reader, the files beside a given file that belong to it, and a one-line description."""

    read: Callable[..., ForeignSet]
    companions: tuple[str, ...] = ()
    description: str = ""


def _tensor(value: Any, path: Path, what: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise ForeignFormatError(f"{path}: {what} should be a tensor, found {type(value).__name__}")
    return value


def _pair(value: Any, path: Path, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        found = (
            f"a {type(value).__name__} of length {len(value)}"
            if isinstance(value, (list, tuple))
            else type(value).__name__
        )
        raise ForeignFormatError(f"{path}: {what} should be a pair [images, labels], found {found}")
    return _tensor(value[0], path, f"{what}[0] (images)"), _tensor(value[1], path, f"{what}[1] (labels)")


def _in_folder(path: Path, names: Sequence[str], fmt: str) -> Path:
    """The first of ``names`` inside folder ``path`` (or ``path`` itself when it is a file)."""
    if path.is_file():
        return path
    for name in names:
        if (path / name).is_file():
            return path / name
    raise ForeignFormatError(f"{path}: no {' or '.join(names)} found; the {fmt!r} format reads that file")


def read_mtt(path: Path, **_: Any) -> ForeignSet:
    """``images_best.pt`` and ``labels_best.pt`` (or ``images.pt`` / ``labels.pt``), optional ``lr_best.pt``."""
    images_file = _in_folder(path, ["images_best.pt", "images.pt"], "mtt")
    folder = images_file.parent
    stem = "_best" if images_file.name.endswith("_best.pt") else ""
    labels_file = folder / f"labels{stem}.pt"
    if not labels_file.is_file():
        raise ForeignFormatError(f"{images_file}: {labels_file.name} is missing beside it; the 'mtt' format needs both")
    images = _tensor(load_tensors_only(images_file), images_file, "the images file")
    labels = _tensor(load_tensors_only(labels_file), labels_file, "the labels file")
    files, extra = [images_file, labels_file], {}
    lr_file = folder / f"lr{stem}.pt"
    if lr_file.is_file():
        lr = load_tensors_only(lr_file)
        lr = lr if isinstance(lr, (int, float)) else _tensor(lr, lr_file, "the learning rate")
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ForeignFormatError(f"{lr_file}: the learning rate should be one number, found shape {list(lr.shape)}")
        extra["syn_lr"] = float(f"{float(lr):.7g}")  # a float32 0-d tensor: its shortest decimal
        files.append(lr_file)
    return ForeignSet(images, labels, files, folder, extra=extra, where=images_file.name)


def read_dc(path: Path, *, experiment: int = -1, **_: Any) -> ForeignSet:
    """``res_*.pt``: one ``[images, labels]`` per experiment, and the accuracies the reference code recorded."""
    file = path if path.is_file() else _one(path, "res_*.pt", "dc")
    content = load_tensors_only(file)
    if not isinstance(content, dict) or "data" not in content:
        raise ForeignFormatError(
            f"{file}: expected a dict with 'data' (and 'accs_all_exps'), found {_describe(content)}"
        )
    runs = content["data"]
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ForeignFormatError(
            f"{file}: 'data' should be a non-empty list of [images, labels], found {_describe(runs)}"
        )
    if not -len(runs) <= experiment < len(runs):
        raise ForeignFormatError(
            f"{file} holds {len(runs)} experiments (0..{len(runs) - 1}); --experiment {experiment} is out of range"
        )
    index = experiment % len(runs)
    images, labels = _pair(runs[index], file, f"data[{index}]")
    reported = {}
    for model, accs in dict(content.get("accs_all_exps") or {}).items():
        values = accs if isinstance(accs, (list, tuple)) else [accs]
        reported[str(model)] = [float(a) for a in values]
    return ForeignSet(images, labels, [file], file.parent, experiment=index, reported=reported, where=file.name)


def read_datadam(path: Path, **_: Any) -> ForeignSet:
    """``syn_data_*.pt``: ``{"data": [images, labels]}``."""
    file = path if path.is_file() else _one(path, "syn_data_*.pt", "datadam")
    content = load_tensors_only(file)
    if not isinstance(content, dict) or "data" not in content:
        raise ForeignFormatError(f"{file}: expected a dict {{'data': [images, labels]}}, found {_describe(content)}")
    images, labels = _pair(content["data"], file, "data")
    return ForeignSet(images, labels, [file], file.parent, where=file.name)


def read_idc(path: Path, *, factor: int | None = None, **_: Any) -> ForeignSet:
    """``[data, target]`` in multi-formation form, decoded: each stored image is ``factor x factor`` tiles, each
    resized (bilinear) to the full size; the decoded set is tile-major, as IDC's own decoder orders it."""
    file = _in_folder(path, ["data.pt"], "idc")
    if factor is None or factor < 1:
        raise ForeignFormatError(
            f"{file}: an IDC set must be decoded with the factor it was condensed with: pass --factor 2 (or 3; "
            "1 stores plain images)"
        )
    data, target = _pair(load_tensors_only(file), file, "the [data, target] list")
    if data.dim() == 4 and factor > 1:
        h, w = data.shape[-2:]
        if h % factor or w % factor:
            raise ForeignFormatError(f"{file}: images of {h}x{w} pixels do not split into {factor}x{factor} tiles")
        th, tw = h // factor, w // factor
        tiles = [data[:, :, i * th : (i + 1) * th, j * tw : (j + 1) * tw] for i in range(factor) for j in range(factor)]
        data = torch.nn.functional.interpolate(torch.cat(tiles).float(), size=(h, w), mode="bilinear")
        target = torch.cat([target] * factor**2)
    return ForeignSet(data, target, [file], file.parent, extra={"factor": factor}, where=file.name)


def read_kip(path: Path, **_: Any) -> ForeignSet:
    """``.npz`` with ``images`` (N, H, W, C) and ``labels`` (one-hot rows, or class indices)."""
    file = path if path.is_file() else _one(path, "*.npz", "kip")
    arrays = {}
    try:
        with zipfile.ZipFile(file) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    with archive.open(member) as fh:
                        arrays[member[: -len(".npy")]] = np.lib.format.read_array(fh, allow_pickle=False)
    except ValueError as exc:  # an object array: it would need unpickling
        raise ForeignFormatError(
            f"{file}: refused, a member is an object array ({exc}); reading it would unpickle. Save plain numeric "
            "arrays: np.savez(path, images=images.astype('float32'), labels=labels)"
        ) from None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ForeignFormatError(f"{file}: not a readable .npz archive ({exc}); download it again") from None
    missing = {"images", "labels"} - set(arrays)
    if missing:
        raise ForeignFormatError(
            f"{file}: no {sorted(missing)} array; found {sorted(arrays)} (expected images, labels)"
        )
    images = torch.from_numpy(np.ascontiguousarray(arrays["images"]))
    if images.dim() == 4:
        images = images.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW
    labels = torch.from_numpy(np.ascontiguousarray(arrays["labels"]))
    extra = {}
    if labels.dim() == 2:
        labels, extra["labels"] = labels.argmax(dim=1), "argmax of the stored one-hot rows"
    return ForeignSet(images, labels, [file], file.parent, extra=extra, where=file.name)


def _decode_image(data: bytes, where: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image = image.convert("L" if image.mode in ("1", "L", "I", "I;16", "F") else "RGB")
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ForeignFormatError(f"{where}: not a readable PNG/JPEG image ({exc})") from None


def _stack(arrays: list[np.ndarray], names: list[str], root: Path) -> torch.Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        first = arrays[0].shape
        odd = next(n for n, a in zip(names, arrays, strict=True) if a.shape != first)
        raise ForeignFormatError(
            f"{root}: images differ in size or channels ({names[0]}: {list(first)}, {odd}: "
            f"{list(arrays[names.index(odd)].shape)}); resize them to one size first"
        )
    stacked = torch.from_numpy(np.stack(arrays))
    stacked = stacked.unsqueeze(1) if stacked.dim() == 3 else stacked.permute(0, 3, 1, 2)
    return stacked.float() / 255.0


def read_imagefolder(path: Path, **_: Any) -> ForeignSet:
    """``CLASS/IMAGE``: classes are the sorted folder names; 8-bit images scaled to [0, 1]."""
    if not path.is_dir():
        raise ForeignFormatError(f"{path}: the 'imagefolder' format reads a folder of class folders (CLASS/IMAGE.png)")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    arrays, labels, files = [], [], []
    for c, name in enumerate(classes):
        for file in sorted(f for f in (path / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES):
            arrays.append(_decode_image(file.read_bytes(), str(file)))
            labels.append(c)
            files.append(file)
    if not arrays:
        raise ForeignFormatError(f"{path}: no class folders with PNG/JPEG images found (expected CLASS/IMAGE.png)")
    images = _stack(arrays, [f.relative_to(path).as_posix() for f in files], path)
    return ForeignSet(images, torch.tensor(labels), files, path, classes=tuple(classes), pixel_data=True)


def read_parquet(path: Path, **_: Any) -> ForeignSet:
    """``*.parquet``: ``image`` (bytes, or a struct with ``bytes``) and ``label`` or ``class_id``."""
    import pyarrow.parquet as pq  # a dependency (the Parquet view); imported here to keep other formats light

    files = [path] if path.is_file() else sorted(path.rglob("*.parquet"))
    if not files:
        raise ForeignFormatError(f"{path}: no .parquet files found")
    arrays, labels, classes = [], [], None
    for file in files:
        try:
            table = pq.read_table(file)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a broken file
            raise ForeignFormatError(f"{file}: not a readable Parquet file ({exc})") from None
        column = next((c for c in ("label", "class_id", "labels") if c in table.column_names), None)
        if "image" not in table.column_names or column is None:
            raise ForeignFormatError(
                f"{file}: needs an 'image' column and a 'label' or 'class_id' column, found {table.column_names}"
            )
        classes = classes or _feature_names(table.schema.metadata or {}, column)
        for row, value in enumerate(table.column("image").to_pylist()):
            data = value.get("bytes") if isinstance(value, dict) else value
            if not isinstance(data, (bytes, bytearray)):
                raise ForeignFormatError(f"{file}: row {row} of 'image' holds no encoded image bytes")
            arrays.append(_decode_image(bytes(data), f"{file} row {row}"))
        labels.extend(int(v) for v in table.column(column).to_pylist())
    images = _stack(arrays, [f"row {i}" for i in range(len(arrays))], path)
    root = path if path.is_dir() else path.parent
    return ForeignSet(images, torch.tensor(labels), files, root, classes=classes, pixel_data=True, where=files[0].name)


def _feature_names(metadata: dict[bytes, bytes], column: str) -> tuple[str, ...] | None:
    """Class names from the ``datasets`` features stored in the Parquet schema metadata, if any."""
    try:
        info = json.loads(metadata[b"huggingface"])
        names = info["info"]["features"][column]["names"]
        return tuple(str(n) for n in names)
    except (KeyError, TypeError, ValueError):
        return None


def _one(folder: Path, pattern: str, fmt: str) -> Path:
    found = sorted(folder.glob(pattern))
    if len(found) != 1:
        listed = ", ".join(f.name for f in found) or "none"
        raise ForeignFormatError(
            f"{folder}: expected one {pattern} file for the {fmt!r} format, found {listed}; name the file"
        )
    return found[0]


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))[:10]}"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    return type(value).__name__


READERS: dict[str, Reader] = {
    "mtt": Reader(
        read_mtt,
        ("labels_best.pt", "lr_best.pt", "labels.pt", "lr.pt"),
        "images_best.pt + labels_best.pt (+ lr_best.pt)",
    ),
    "dc": Reader(read_dc, (), "res_{METHOD}_{DATASET}_{MODEL}_{IPC}ipc.pt"),
    "datadam": Reader(read_datadam, (), "syn_data_*.pt: {'data': [images, labels]}"),
    "idc": Reader(read_idc, (), "data.pt: [data, target], decoded with --factor"),
    "kip": Reader(read_kip, (), ".npz: images (NHWC), labels (one-hot)"),
    "imagefolder": Reader(read_imagefolder, (), "CLASS/IMAGE.png|jpg"),
    "parquet": Reader(read_parquet, (), "*.parquet: image + label/class_id"),
}
FORMATS = tuple(READERS)
