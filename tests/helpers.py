"""Small in-code fixtures shared by the tests."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
import torch

from condensed_data.artifact.card import render_card
from condensed_data.artifact.folder import save_artifact
from condensed_data.artifact.manifest import Manifest, MethodSpec, Recipe, SourceInfo
from condensed_data.sources.tensors import save_tensors

# Under CI and `make test` every prerequisite must be there: a missing dataset, extra or server is a failure.
STRICT = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"} or os.environ.get(
    "CONDENSED_DATA_STRICT_TESTS", ""
).strip() in {"1", "true"}


def unavailable(reason: str) -> NoReturn:
    """A test's prerequisite is missing: a failure under CI and ``make test`` (:data:`STRICT`), a skip elsewhere."""
    if STRICT:
        pytest.fail(
            f"{reason} (under CI and `make test` a missing prerequisite is a failure, not a skip)", pytrace=False
        )
    pytest.skip(reason)


def require(module: str, install: str = "pip install -e '.[dev]'") -> ModuleType:
    """Import ``module``, or report it unavailable (see :func:`unavailable`) with how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{module} is not installed ({install}): {exc}")


def tiny_manifest(*, classes: int = 3, ipc: int = 2, shape=(1, 8, 8), label_kind: str = "hard") -> Manifest:
    return Manifest(
        kind="tensors",
        method=MethodSpec(name="dm", config={"lr_img": 1.0}),
        source=SourceInfo(name="digits", split="train", num_samples=100, fingerprint="sha256:" + "ab" * 32),
        classes=tuple(f"c{i}" for i in range(classes)),
        images_per_class=ipc,
        image_shape=tuple(shape),
        recipe=Recipe(mean=(0.5,) * shape[0], std=(0.25,) * shape[0]),
        label_kind=label_kind,
        seed=0,
    )


def tiny_tensors(*, classes: int = 3, ipc: int = 2, shape=(1, 8, 8)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    images = torch.rand((classes * ipc, *shape), generator=g)
    labels = torch.arange(classes).repeat_interleave(ipc)
    return images, labels


def make_artifact(folder: Path, *, classes: int = 3, ipc: int = 2, shape=(1, 8, 8), labels=None, **kw) -> Manifest:
    images, default_labels = tiny_tensors(classes=classes, ipc=ipc, shape=shape)
    labels = default_labels if labels is None else labels
    manifest = tiny_manifest(classes=classes, ipc=ipc, shape=shape, **kw)
    return save_artifact(folder, manifest, lambda tmp: save_tensors(tmp, images, labels), card=render_card)


def optimize(method, iterations: int, *, seed: int = 1):
    """Run ``iterations`` plain optimizer steps of a method (what the driver does, without checkpoints)."""
    from condensed_data.seeding import make_generator

    optimizer = method.make_optimizer()
    g = make_generator(seed)
    for it in range(iterations):
        loss = method.loss(iteration=it, generator=g)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return method


def accuracy_vs_random_real(method, train, test, *, epochs: int = 150, models: int = 4) -> tuple[float, float]:
    """Mean test accuracy of ``method``'s set and of random real images (same ipc, protocol and seeds)."""
    from condensed_data.evaluate.protocol import EvalConfig, evaluate, evaluate_random_real

    cfg = EvalConfig(epochs=epochs, models=models, precision="fp32")
    images, labels = method.synthetic()
    ours = evaluate(images, labels, test, config=cfg, seed=0)[0]
    rand = evaluate_random_real(train, test, ipc=method.ipc, config=cfg, seed=0)[0]
    return ours.accuracy_mean, rand.accuracy_mean


def make_tiny_dit(folder):
    """A tiny randomly initialized DiT (3 classes + a null class, learned sigma) with an RGB ``AutoencoderKL`` and a
    DDIM schedule, saved as a diffusers pipeline folder (``transformer/``, ``vae/``, ``scheduler/``): an "external"
    class-conditional latent diffusion model for 8x8 data."""
    import diffusers
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        dit = diffusers.DiTTransformer2DModel(
            num_attention_heads=2,
            attention_head_dim=8,
            in_channels=4,
            out_channels=8,  # learned sigma, as the published DiT checkpoints
            num_layers=2,
            sample_size=4,
            patch_size=2,
            num_embeds_ada_norm=3,
            norm_num_groups=4,
        )
        vae = diffusers.AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            block_out_channels=(8, 8),
            latent_channels=4,
            norm_num_groups=4,
        )
    dit.save_pretrained(folder / "transformer", safe_serialization=True)
    vae.save_pretrained(folder / "vae", safe_serialization=True)
    diffusers.DDIMScheduler().save_pretrained(folder / "scheduler")
    return folder
