"""Dataset card (``README.md``) text and preview grid (``preview.png``) generated from a manifest.

Loading-side code: imports neither training code nor ``huggingface_hub``.

>>> from condensed_data.manifest import Manifest
>>> text = render_card(Manifest.example())
>>> text.startswith("---\\n") and "dataset-distillation" in text
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from condensed_data.manifest import Manifest

__all__ = ["render_card", "preview_grid", "save_preview"]


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "n>1M"


def _yaml_value(value: object) -> str:
    # JSON scalars and lists are valid YAML flow syntax; strings are quoted so that names like "T-shirt/top" or
    # "no" keep their meaning.
    return json.dumps(value, ensure_ascii=False)


def render_card(manifest: Manifest, *, repo_id: str | None = None) -> str:
    """The dataset card for ``manifest``: YAML metadata, evaluation table, recipe, preview and loading snippet."""
    m = manifest
    n_images = m.images_per_class * m.num_classes
    tags = [
        "dataset-distillation",
        "dataset-condensation",
        "condensed-data",
        m.method.name,
        f"ipc-{m.images_per_class}",
    ]
    meta = {
        "license": "other",
        "task_categories": ["image-classification"],
        "tags": tags,
        "source_datasets": [m.source.name],
        "size_categories": [_size_category(n_images)],
        "pretty_name": f"{m.source.name} condensed with {m.method.name} ({m.images_per_class} images per class)",
    }
    lines = ["---"]
    lines += [f"{key}: {_yaml_value(value)}" for key, value in meta.items()]
    lines.append("condensed:")
    block = {
        "method": m.method.name,
        "kind": m.kind,
        "images_per_class": m.images_per_class,
        "source_dataset": m.source.name,
        "source_split": m.source.split,
        "source_fingerprint": m.source.fingerprint,
        "label_kind": m.label_kind,
        "value_space": {
            "pixel_range": list(m.value_space.pixel_range),
            "mean": list(m.recipe.mean),
            "std": list(m.recipe.std),
        },
        "format_version": m.format_version,
    }
    lines += [f"  {key}: {_yaml_value(value)}" for key, value in block.items()]
    lines.append("---")
    name = repo_id or "path/to/this/folder"
    lines += [
        "",
        f"# {meta['pretty_name']}",
        "",
        f"A condensed (distilled) version of **{m.source.name}** ({m.source.split} split, {m.source.num_samples} images): "
        f"{n_images} synthetic images, {m.images_per_class} per class, made with the `{m.method.name}` method by "
        f"[condensed-data](https://pypi.org/project/condensed-data/) {m.library_version}. "
        "Train on it in place of the real data.",
        "",
        "```python",
        "from condensed_data import CondensedDataset",
        f'ds = CondensedDataset.from_pretrained("{name}")',
        "image, label = ds[0]   # float tensor C x H x W in pixel space, int label",
        "```",
        "",
        "## Evaluation",
        "",
    ]
    if m.evaluation:
        lines += ["| set | network | models | test accuracy | test set |", "|---|---|---|---|---|"]
        for e in m.evaluation:
            lines.append(
                f"| {e.subject} | {e.arch} | {e.models} | {100 * e.accuracy_mean:.2f} ± {100 * e.accuracy_std:.2f} % | {e.test_set} |"
            )
        protocol = m.evaluation[0].protocol
        if protocol:
            lines += ["", "Protocol: " + ", ".join(f"{k}={v}" for k, v in protocol.items()) + "."]
    else:
        lines.append("Not evaluated yet: `condensed-data evaluate PATH --write` adds results here.")
    r = m.recipe
    lines += [
        "",
        "## Training recipe",
        "",
        f"- normalize with mean {list(r.mean)} and std {list(r.std)} (images are stored in pixel space)",
        f"- augmentation: {r.augmentation}",
        f"- network: {r.arch}; {r.optimizer} lr {r.lr}, momentum {r.momentum}, weight decay {r.weight_decay}",
        f"- {r.epochs} epochs, batch size {r.batch_size}, schedule: {r.lr_schedule}",
        "",
        "## Preview",
        "",
        "![preview](preview.png)",
        "",
        "One row per class: " + ", ".join(m.classes) + ".",
        "",
        "## Method configuration",
        "",
        "```json",
        json.dumps(m.method.config, indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


def preview_grid(
    images: torch.Tensor, labels: torch.Tensor, num_classes: int, *, per_class: int = 10, scale: int = 2, pad: int = 1
) -> Image.Image:
    """A grid of up to ``per_class`` images per class, one row per class, pixel values clipped to [0, 1]."""
    if images.dim() != 4:
        raise ValueError(f"images must be (N, C, H, W), got {list(images.shape)}")
    hard = labels if labels.dim() == 1 else labels.argmax(dim=1)
    c, h, w = images.shape[1:]
    cols = max(1, min(per_class, max((int((hard == k).sum()) for k in range(num_classes)), default=1)))
    cell_h, cell_w = h * scale + pad, w * scale + pad
    canvas = np.full((num_classes * cell_h + pad, cols * cell_w + pad, 3), 255, dtype=np.uint8)
    pixels = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
    for k in range(num_classes):
        for j, i in enumerate(torch.nonzero(hard == k).flatten()[:cols].tolist()):
            img = pixels[i].permute(1, 2, 0).numpy()
            img = np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)
            if c == 1:
                img = np.repeat(img, 3, axis=2)
            y, x = pad + k * cell_h, pad + j * cell_w
            canvas[y : y + h * scale, x : x + w * scale] = img[:, :, :3]
    return Image.fromarray(canvas)


def save_preview(
    path: str | os.PathLike, images: torch.Tensor, labels: torch.Tensor, classes: Sequence[str], **kwargs
) -> None:
    """Write :func:`preview_grid` as a PNG."""
    preview_grid(images, labels, len(classes), **kwargs).save(os.fspath(path), format="PNG")
