"""Export an artifact to another storage: webdataset shards (``condensed-data export PATH --to webdataset``),
plain stored tensors (``--to tensors``: e.g. a generator-backed set materialized once), or the formats other tools
read: DD-Ranking's tensors (``--to ddranking``), a PNG image folder per class (``--to imagefolder``) and the Parquet
view alone (``--to parquet``, what ``datasets.load_dataset`` reads).

The last three are plain folders, not artifacts (no ``condensed.json``): they leave this library. Each is written to
a temporary sibling folder and renamed into place when complete.

>>> export_webdataset("out/fmnist-dm-ipc10", "out/fmnist-dm-ipc10-webdataset", shard_size=1000)  # doctest: +SKIP
>>> export_tensors("out/fmnist-dcgm-ipc10", "out/fmnist-dcgm-ipc10-tensors")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from condensed_data.artifact.card import render_card
from condensed_data.artifact.folder import save_artifact, write_folder_atomically
from condensed_data.artifact.manifest import Manifest
from condensed_data.artifact.view import VIEW_GLOB, encode_images, view_skip_reason, write_view
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.interop.webdataset import IMAGE_FORMATS, write_shards
from condensed_data.sources.tensors import save_tensors

__all__ = ["export_webdataset", "export_tensors", "export_ddranking", "export_imagefolder", "export_parquet"]

logger = logging.getLogger(__name__)


def export_webdataset(
    source: str | os.PathLike | CondensedDataset,
    output: str | os.PathLike,
    *,
    shard_size: int,
    image_format: str = "npy",
    overwrite: bool = False,
) -> Manifest:
    """Write a condensed set as an artifact of kind ``webdataset`` (tar shards + manifest); return its manifest.

    The output is written to a temporary folder and renamed into place when complete (see
    :func:`condensed_data.artifact.folder.save_artifact`). Shard layout and the PNG quantization are described in
    :mod:`condensed_data.interop.webdataset`.

    Args:
        source: An artifact folder, a Hub id (as for ``CondensedDataset.from_pretrained``) or a loaded set.
        output: The new artifact folder.
        shard_size: Samples per shard.
        image_format: ``"npy"`` (float32, exact; default) or ``"png"`` (8-bit, quantized). A PNG export clips the
            values to ``value_space.pixel_range`` and records ``value_space.clamped = true``; the source's
            evaluation results, measured on the unquantized images, are not carried over.
        overwrite: Replace an existing ``output`` folder.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        ValueError: Soft labels (shards hold ``.cls`` class indices), a bad shard size or format.

    >>> export_webdataset("out/fmnist-dm-ipc10", "out/fmnist-wds", shard_size=50)  # doctest: +SKIP
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"--format must be one of {list(IMAGE_FORMATS)}, got {image_format!r}")
    if shard_size < 1:
        raise ValueError(f"--shard-size must be >= 1 sample per shard, got {shard_size}")
    output = Path(output)
    if output.exists() and not overwrite:  # checked before the source is loaded
        raise FileExistsError(
            f"{output} already exists; choose another output folder or pass overwrite=True (CLI: --overwrite)"
        )
    ds = source if isinstance(source, CondensedDataset) else CondensedDataset.from_pretrained(source)
    m = ds.manifest
    if m.label_kind != "hard":
        raise ValueError(
            f"{ds.folder} has soft labels; webdataset shards store class indices (.cls): keep it as a tensors artifact"
        )
    images, labels = ds.tensors()
    # Shards hold the items (decoded, for a multi-formation set), so the copy has no decode rule.
    manifest = m.replace(kind="webdataset", files={}, decode=None, images_per_class=m.items_per_class)
    if image_format == "png":
        manifest = manifest.replace(
            value_space=type(m.value_space)(pixel_range=m.value_space.pixel_range, clamped=True), evaluation=()
        )

    def write(folder: Path) -> None:
        write_shards(
            folder,
            images,
            labels,
            m.classes,
            shard_size=shard_size,
            image_format=image_format,
            pixel_range=m.value_space.pixel_range,
        )
        preview = Path(ds.folder) / "preview.png"
        if preview.is_file():
            (folder / "preview.png").write_bytes(preview.read_bytes())

    final = save_artifact(output, manifest, write, overwrite=overwrite, card=render_card)
    logger.info("exported %s to %s (%d shards)", ds.folder, output, len(final.files) - 1)
    return final


def export_tensors(
    source: str | os.PathLike | CondensedDataset, output: str | os.PathLike, *, overwrite: bool = False
) -> Manifest:
    """Write a condensed set as an artifact of kind ``tensors`` (``images.safetensors`` + manifest).

    For a generator-backed set this materializes the condensed set (``mode="fixed"``: one image per stored code)
    once, so it loads without running the generator; a multi-formation set is written as its decoded items. Method, recipe and evaluation results are carried over: they
    describe the same images.

    Args:
        source: An artifact folder, a Hub id or a loaded set (a fresh-mode set exports its current epoch).
        output: The new artifact folder.
        overwrite: Replace an existing ``output`` folder.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.

    >>> export_tensors("out/fmnist-dcgm-ipc10", "out/fmnist-dcgm-ipc10-tensors").kind  # doctest: +SKIP
    'tensors'
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(
            f"{output} already exists; choose another output folder or pass overwrite=True (CLI: --overwrite)"
        )
    ds = source if isinstance(source, CondensedDataset) else CondensedDataset.from_pretrained(source)
    images, labels = ds.tensors()
    manifest = ds.manifest.replace(kind="tensors", files={}, decode=None)  # the items, decoded
    counts = set(torch.bincount(labels if labels.dim() == 1 else labels.argmax(1), minlength=len(ds.classes)).tolist())
    if len(counts) == 1:  # a fresh-mode set may hold another number per class than was condensed
        manifest = manifest.replace(images_per_class=counts.pop())

    def write(folder: Path) -> None:
        save_tensors(folder, images, labels)
        preview = Path(ds.folder) / "preview.png"
        if preview.is_file():
            (folder / "preview.png").write_bytes(preview.read_bytes())

    final = save_artifact(output, manifest, write, overwrite=overwrite, card=render_card)
    logger.info("exported %s to %s (%d images)", ds.folder, output, images.shape[0])
    return final


def _load(source: str | os.PathLike | CondensedDataset, output: Path, overwrite: bool) -> CondensedDataset:
    if output.exists() and not overwrite:  # checked before the source is loaded
        raise FileExistsError(
            f"{output} already exists; choose another output folder or pass overwrite=True (CLI: --overwrite)"
        )
    return source if isinstance(source, CondensedDataset) else CondensedDataset.from_pretrained(source)


def _hard(labels: torch.Tensor) -> torch.Tensor:
    return labels if labels.dim() == 1 else labels.argmax(dim=1)


def export_ddranking(
    source: str | os.PathLike | CondensedDataset, output: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a set as the DD-Ranking toolkit reads it: ``images.pt``, ``labels.pt`` and ``lr.pt`` in ``output``.

    * ``images.pt``: float32 (N, C, H, W), **normalized** with the recipe's mean and std (DD-Ranking trains on the
      images as given, in the evaluator's normalized space) and **class-contiguous** (all of class 0, then class 1,
      ...; DD-Ranking rebuilds hard labels as ``ones(ipc) * k``).
    * ``labels.pt``: hard labels (N,) int64, or for a soft-label set (N, K) float32 **logits**: the log of the stored
      probabilities (softmax of them gives the probabilities back; DD-Ranking's losses apply temperature and
      softmax to logits).
    * ``lr.pt``: the recipe's learning rate as a 0-d float32 tensor (DD-Ranking's ``syn_lr``).

    They are plain tensors written with ``torch.save``; DD-Ranking (and anyone) reads them with ``torch.load``
    (``weights_only=True`` suffices). These are pickle-based files: they are an export for that toolkit, never
    part of an artifact. Undo the normalization with ``images * std + mean`` (per channel).

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
    """
    output = Path(output)
    ds = _load(source, output, overwrite)
    m = ds.manifest
    images, labels = ds.tensors()
    order = torch.sort(_hard(labels), stable=True).indices
    mean = torch.tensor(m.recipe.mean, dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(m.recipe.std, dtype=torch.float32).view(1, -1, 1, 1)
    normalized = ((images[order].to(torch.float32) - mean) / std).contiguous()
    labels = labels[order]
    if labels.dim() == 2:
        labels = labels.to(torch.float32).clamp_min(torch.finfo(torch.float32).tiny).log().contiguous()
    else:
        labels = labels.to(torch.int64).contiguous()

    def write(folder: Path) -> None:
        torch.save(normalized, folder / "images.pt")
        torch.save(labels, folder / "labels.pt")
        torch.save(torch.tensor(m.recipe.lr, dtype=torch.float32), folder / "lr.pt")

    write_folder_atomically(output, write, overwrite=overwrite)
    logger.info("exported %s to %s for DD-Ranking (%d images)", ds.folder, output, images.shape[0])
    return output


def imagefolder_name(index: int, name: str, num_classes: int) -> str:
    """The class folder name of an image-folder export: zero-padded index, then the class name made path-safe.

    The index prefix makes the alphabetical order (how ``torchvision.datasets.ImageFolder`` numbers classes) the
    class order. ``imagefolder_name(3, "T-shirt/top", 10) == "3_T-shirt_top"``.
    """
    safe = "".join(c if c.isalnum() or c in "-._ " else "_" for c in name).strip() or "class"
    return f"{index:0{len(str(num_classes - 1))}d}_{safe}"


def export_imagefolder(
    source: str | os.PathLike | CondensedDataset, output: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a set as 8-bit PNG files, one folder per class: ``output/<k>_<class>/<n>.png`` (see :func:`imagefolder_name`).

    Values are mapped from ``value_space.pixel_range`` to 0..255 (clipped, rounded) as in the Parquet view;
    ``classes.json`` lists the class names in order. Soft labels are reduced to their argmax class (the folder).
    ``torchvision.datasets.ImageFolder(output)`` and DD-Ranking's ``image_path`` read it.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        ValueError: images with a channel count PNG cannot hold (not 1, 3 or 4).
    """
    import json

    output = Path(output)
    ds = _load(source, output, overwrite)
    m = ds.manifest
    images, labels = ds.tensors()
    pngs = encode_images(images, m.value_space.pixel_range)
    hard = _hard(labels).tolist()
    if labels.dim() == 2:
        logger.warning("%s has soft labels; the image folder keeps only each image's argmax class", ds.folder)
    names = [imagefolder_name(k, c, m.num_classes) for k, c in enumerate(m.classes)]
    width = len(str(max(len(hard) - 1, 0)))

    def write(folder: Path) -> None:
        for name in names:
            (folder / name).mkdir()
        for i, (png, k) in enumerate(zip(pngs, hard, strict=True)):
            (folder / names[k] / f"{i:0{width}d}.png").write_bytes(png)
        (folder / "classes.json").write_text(json.dumps(list(m.classes), ensure_ascii=False, indent=1) + "\n")

    write_folder_atomically(output, write, overwrite=overwrite)
    logger.info("exported %s to %s (%d PNG images in %d class folders)", ds.folder, output, len(pngs), len(names))
    return output


def export_parquet(
    source: str | os.PathLike | CondensedDataset, output: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write the Parquet view alone (``output/data/train-*.parquet`` and a ``README.md`` whose metadata points
    ``datasets.load_dataset(output)`` at it): 8-bit images, labels with class names, soft labels if any.

    For a generator or latent-diffusion set the images are materialized once (``mode="fixed"``).

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
        ValueError: images with a channel count PNG cannot hold (not 1, 3 or 4).
    """
    from condensed_data.artifact.card import view_metadata

    output = Path(output)
    ds = _load(source, output, overwrite)
    m = ds.manifest
    reason = view_skip_reason(m)
    if reason:
        raise ValueError(f"{ds.folder}: cannot write a Parquet view: {reason}")
    images, labels = ds.tensors()
    n = images.shape[0]

    def write(folder: Path) -> None:
        from condensed_data.artifact.folder import sha256_file
        from condensed_data.artifact.manifest import FileEntry

        names = write_view(folder, images, labels, m)
        files = {
            name: FileEntry(sha256=sha256_file(folder / name), size=(folder / name).stat().st_size) for name in names
        }
        title = f"{m.source.name} condensed with {m.method.name}: 8-bit Parquet view"
        body = (
            f"# {title}\n\n{n} images ({m.items_per_class} per class) of a set condensed by condensed-data, as 8-bit "
            f"PNG with class labels ({VIEW_GLOB}). The exact float images are in the original artifact.\n"
        )
        (folder / "README.md").write_text(view_metadata(m.replace(files=files), n) + body, encoding="utf-8")

    write_folder_atomically(output, write, overwrite=overwrite)
    logger.info("exported %s to %s (Parquet view, %d images)", ds.folder, output, n)
    return output
