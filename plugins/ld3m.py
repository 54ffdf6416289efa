"""LD3M: Latent Dataset Distillation with Diffusion Models (Moser, Raue, Palacio, Frolov & Dengel, arXiv 2403.03881).

The condensed set lives in the latent space of a frozen class-conditional latent diffusion model. Each synthetic
image owns an initial latent ``z`` (initialized by encoding a random real image of its class) and a class
conditioning vector ``c`` (initialized to its class's embedding); images come out of a few deterministic DDIM steps
in which the predicted clean latent is blended with ``z`` by a weight decaying linearly from 1 to 0 (LD3M's skip),
then the decoder (:mod:`condensed_data.models.diffusion` has the sampler and its equations). The representation is
:class:`condensed_data.condense.representations.DiffusionLatents`; this module is the recipe.

What follows the public code (github.com/Brian-Moser/prune_and_distill, the code link of the paper's arXiv v4:
``distill_dm_LD3M.py``, ``src/glad_utils.py`` and its DDIM sampler): the learnable quantities and their
initialization, the skip, DDIM with eta 0 and 10 steps by default, classifier-free guidance 3.0, SGD with momentum
0.5 on latents and conditioning, and the loop: generate every image without gradient in chunks (``chunk``: 10), take
the objective's gradient with respect to the images, then re-run the generator chunk by chunk with gradient and
back-propagate into ``z`` and ``c`` (two-stage backward), each denoiser call under gradient checkpointing.

What is ours: the prior (LD3M uses the ImageNet LDM cin256-v2; on machines without one, ``condensed-data prior
--kind ldm`` trains a small one, see :func:`condensed_data.condense.priors.train_ldm_prior`); the fixed per-image noise that
starts sampling (stored, so the decoded set is deterministic); the learning rate (``lr`` 0.1 instead of LD3M's
``lr_w`` 1, from short runs on Fashion-MNIST; the loss scale depends on the embedding width); the KL autoencoder
(LD3M blends a VQ-quantized ``z``; with a KL autoencoder there is nothing to quantize).

The matching objective is any registered one (``objective``: ``dm`` by default as in ``distill_dm_LD3M.py``,
``atom``, ``echo``), computed as DM does (random ConvNet per iteration, Siamese DSA, ``batch_real`` per class).
Several processes: sharded by classes, as pixels are (each process decodes and optimizes its own classes).

>>> from condensed_data.condense.registry import get_method
>>> cfg = get_method("ld3m").config_class()
>>> cfg.steps, cfg.guidance, cfg.skip
(10, 3.0, True)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.matching import MatchingConfig, MatchingMethod
from condensed_data.condense.method import MethodConfig, require_positive_ints
from condensed_data.condense.representations import DiffusionLatents, Representation
from condensed_data.hub import HubOptions, cached_revision, download_model, locate
from condensed_data.models.diffusion import DiffusionError, load_diffusion

__all__ = ["LD3M", "LD3MConfig"]


@dataclass
class LD3MConfig(MatchingConfig):
    """LD3M's options (see the module docstring for which are the paper's); the matching loop's options are
    :class:`~condensed_data.condense.matching.MatchingConfig`'s.

    Attributes:
        prior: A class-conditional latent diffusion model in diffusers pipeline layout: a folder (``condensed-data
            prior --kind ldm`` makes one) or a Hub model id (``org/name`` or ``hf-hub:org/name``; only configs and
            safetensors weights are downloaded). The artifact stores the model either way.
        prior_revision: Hub branch, tag or commit of ``prior`` (default: main; the commit used is recorded).
        class_ids: The model's class id of each of the data's classes, e.g. the ImageNet ids of an ImageNet subset
            with an ImageNet model (default: class ``c`` is the model's class ``c``). Only the initial
            conditioning uses them.
        steps: DDIM steps from latent to image (LD3M: 10; fewer is faster).
        skip: LD3M's linearly decaying skip from the initial latent; ``False`` is plain DDIM (the ablation).
        guidance: Classifier-free guidance scale (LD3M: 3.0; 1 turns guidance off and halves the cost).
        lr: SGD learning rate of latents and conditioning.
        momentum: SGD momentum (LD3M: 0.5).
        chunk: Images generated together in the two-stage backward (LD3M's ``sg_batch``: 10).
        checkpointing: Recompute each denoiser call in the backward pass (less memory, more time).
    """

    prior: str = ""
    prior_revision: str = ""
    class_ids: list[int] = dataclasses.field(default_factory=list)
    steps: int = 10
    skip: bool = True
    guidance: float = 3.0
    lr: float = 0.1
    momentum: float = 0.5
    chunk: int = 10
    checkpointing: bool = True

    def __post_init__(self) -> None:
        require_positive_ints(self, "steps", "chunk")
        if not self.lr > 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"ld3m needs lr > 0 and 0 <= momentum < 1, got lr={self.lr}, momentum={self.momentum}")
        if not self.guidance >= 1:
            raise ValueError(f"guidance must be >= 1 (1 turns it off), got {self.guidance}")
        super().__post_init__()


def _prior_folder(prior: str, revision: str) -> Path:
    """The local folder of ``prior`` by :func:`condensed_data.hub.locate`'s rule: a folder, or a Hub model, downloaded."""
    try:
        where = locate(prior)
    except FileNotFoundError:
        raise DiffusionError(
            f"prior {prior} does not exist: train one with `condensed-data prior --kind ldm --dataset NAME`, or pass "
            "a diffusers model's folder (local-dir:PATH) or Hub model repository (hf-hub:ORG/NAME)"
        ) from None
    if not where.is_hub:
        return where.path  # a missing local-dir: folder gets load_diffusion's message
    return download_model(where.repo_id, HubOptions(revision=revision or None))


class LD3M(MatchingMethod):
    """Initial latents and class conditioning of a frozen latent diffusion model, matched to real data."""

    name: ClassVar[str] = "ld3m"
    config_class: ClassVar[type[MethodConfig]] = LD3MConfig
    representation_class: ClassVar[type[Representation]] = DiffusionLatents
    default_iterations: ClassVar[int] = 1000

    def build_representation(self, generator: torch.Generator) -> Representation:
        cfg, real = self.config, self.real
        if not cfg.prior:
            raise ValueError(
                "ld3m needs a class-conditional latent diffusion model: train one with `condensed-data prior --kind "
                f"ldm --dataset {real.name}` and pass --set prior=FOLDER (or the folder of a diffusers model)"
            )
        self.prior_folder = folder = _prior_folder(cfg.prior, cfg.prior_revision)
        model = load_diffusion(
            folder, num_classes=real.num_classes, image_shape=tuple(real.image_shape), device=self.device
        )
        prior: dict[str, Any] = {"name": cfg.prior}
        pinned = cached_revision(folder)
        if pinned is not None:
            prior.update(repo_id=pinned[0], revision=pinned[1])
        return DiffusionLatents(
            real,
            ipc=self.ipc,
            model=model,
            class_ids=cfg.class_ids or None,
            sampling={"steps": cfg.steps, "skip": cfg.skip, "guidance": cfg.guidance},
            chunk=cfg.chunk,
            checkpointing=cfg.checkpointing,
            prior=prior,
            device=self.device,
            generator=generator,
        )

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.representation.param_groups(), lr=self.config.lr, momentum=self.config.momentum)
