"""Export an artifact to another storage: webdataset shards (``condensed-data export PATH --to webdataset``), or
plain stored tensors (``--to tensors``: e.g. a generator-backed set materialized once).

>>> export_webdataset("out/fmnist-dm-ipc10", "out/fmnist-dm-ipc10-webdataset", shard_size=1000)  # doctest: +SKIP
>>> export_tensors("out/fmnist-dcgm-ipc10", "out/fmnist-dcgm-ipc10-tensors")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from condensed_data.artifact.card import render_card
from condensed_data.artifact.folder import save_artifact
from condensed_data.artifact.manifest import Manifest
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.interop.webdataset import IMAGE_FORMATS, write_shards
from condensed_data.sources.tensors import save_tensors

__all__ = ["export_webdataset", "export_tensors"]

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
    manifest = m.replace(kind="webdataset", files={})
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
    once, so it loads without running the generator. Method, recipe and evaluation results are carried over: they
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
    manifest = ds.manifest.replace(kind="tensors", files={})
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
