"""Source for artifacts of kind ``tensors``: images and labels stored in ``images.safetensors``.

With multi-formation (the manifest's ``decode`` block) the file holds the stored images and one label per item;
each item is decoded from its stored image on access (:mod:`condensed_data.sources.decode`), the same rule the
set was condensed through.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from condensed_data.artifact.folder import ArtifactError
from condensed_data.artifact.manifest import Manifest
from condensed_data.sources.base import Source
from condensed_data.sources.decode import decode_tiles

__all__ = ["TensorSource", "IMAGES_FILE", "save_tensors"]

IMAGES_FILE = "images.safetensors"


def save_tensors(folder: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
    """Write ``images`` (N, C, H, W) float32 and ``labels`` (M,) int64 or (M, K) soft labels to ``folder``.

    ``M`` is the number of items: ``N``, or ``N * factor**2`` for a multi-formation set.
    """
    from safetensors.torch import save_file

    path = Path(folder) / IMAGES_FILE
    bad = _non_finite(images)
    if bad:
        raise ValueError(
            f"{path}: {bad}; a condensed set must be finite. Nothing was saved: check the optimization (a learning "
            "rate too high diverges) or replace the values (torch.nan_to_num) before saving"
        )
    if labels.is_floating_point() and _non_finite(labels):
        raise ValueError(f"{path}: soft labels {_non_finite(labels)}; nothing was saved: labels must be finite")
    tensors = {
        "images": images.detach().to("cpu", torch.float32).contiguous(),
        "labels": labels.detach().cpu().contiguous(),
    }
    save_file(tensors, str(path), metadata={"format": "condensed-data/tensors"})


def _non_finite(x: torch.Tensor) -> str:
    """A description of the non-finite values of ``x`` ("" when every value is finite)."""
    if not x.is_floating_point():
        return ""
    finite = torch.isfinite(x)
    if bool(finite.all()):
        return ""
    nan = int(torch.isnan(x).sum())
    inf = int((~finite).sum()) - nan
    first = int((~finite).reshape(x.shape[0], -1).any(dim=1).nonzero()[0]) if x.dim() else 0
    return f"{nan} NaN and {inf} infinite value(s), the first in item {first}"


class TensorSource(Source):
    """Stored images and labels, validated against the manifest on load."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        super().__init__(folder, manifest)
        path = self.folder / IMAGES_FILE
        try:
            tensors = load_file(str(path))
        except FileNotFoundError:
            raise ArtifactError(f"{path} is missing: an artifact of kind 'tensors' stores its images there") from None
        except (SafetensorError, OSError) as exc:
            raise ArtifactError(
                f"{path} is not a readable safetensors file ({exc}); download or copy it again"
            ) from None
        missing = {"images", "labels"} - set(tensors)
        if missing:
            raise ArtifactError(f"{path} lacks tensor(s) {sorted(missing)}; it needs 'images' and 'labels'")
        images, labels = tensors["images"], tensors["labels"]
        self._check(path, images, labels)
        self.images = images
        self.labels = labels

    def _check(self, path: Path, images: torch.Tensor, labels: torch.Tensor) -> None:
        m = self.manifest
        if images.dim() != 4 or tuple(images.shape[1:]) != tuple(m.image_shape):
            raise ArtifactError(
                f"{path}: images have shape {list(images.shape)}, but the manifest says [N, {', '.join(map(str, m.image_shape))}]"
            )
        if not images.is_floating_point():
            raise ArtifactError(f"{path}: images must be floating point, got {images.dtype}")
        bad = _non_finite(images)
        if bad:
            raise ArtifactError(
                f"{path}: images hold {bad}; a condensed set must be finite. Write the set again (condense with a "
                "lower learning rate), or re-export it after replacing those values (torch.nan_to_num)"
            )
        per_image = m.factor**2
        if labels.shape[0] != images.shape[0] * per_image:
            if per_image == 1:
                raise ArtifactError(f"{path}: {images.shape[0]} images but {labels.shape[0]} labels")
            raise ArtifactError(
                f"{path}: {images.shape[0]} stored images decode (decode.factor {m.factor}) into "
                f"{images.shape[0] * per_image} items, but there are {labels.shape[0]} labels: one label per item"
            )
        k = m.num_classes
        if m.label_kind == "hard":
            if labels.dim() != 1 or labels.is_floating_point():
                raise ArtifactError(
                    f"{path}: hard labels must be a 1-D integer tensor, got {labels.dtype} {list(labels.shape)}"
                )
            if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= k):
                raise ArtifactError(
                    f"{path}: labels must lie in [0, {k - 1}] for {k} classes, found {int(labels.min())}..{int(labels.max())}"
                )
        elif labels.dim() != 2 or labels.shape[1] != k:
            raise ArtifactError(f"{path}: soft labels must have shape [N, {k}], got {list(labels.shape)}")
        elif _non_finite(labels):
            raise ArtifactError(
                f"{path}: soft labels hold {_non_finite(labels)}; write the set again with finite labels"
            )

    def __len__(self) -> int:
        return self.labels.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int | torch.Tensor]:
        factor = self.manifest.factor
        if factor == 1:
            image = self.images[index]
        else:
            stored, tile = divmod(range(len(self))[index], factor * factor)
            image = decode_tiles(self.images[stored : stored + 1], factor)[tile]
        if self.manifest.label_kind == "hard":
            return image, int(self.labels[index])
        return image, self.labels[index]

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item and its label (multi-formation sets: the decoded items)."""
        return decode_tiles(self.images, self.manifest.factor).clone(), self.labels.clone()

    @property
    def targets(self) -> list[int]:
        labels = self.labels if self.manifest.label_kind == "hard" else self.labels.argmax(dim=1)
        return labels.tolist()
