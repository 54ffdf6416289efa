"""LD3M: Latent Dataset Distillation with Diffusion Models (Moser, Raue, Palacio, Frolov & Dengel, arXiv 2403.03881).

The condensed set lives in the latent space of a frozen class-conditional latent diffusion model. Each synthetic
image owns an initial latent ``z`` (initialized by encoding a random real image of its class) and a class
conditioning vector ``c`` (initialized to its class's embedding); images come out of a few deterministic DDIM steps
in which the predicted clean latent is blended with ``z`` by a weight decaying linearly from 1 to 0 (LD3M's skip),
then the decoder (:mod:`condensed_data.models.diffusion` has the sampler and its equations).

What follows the public code (``../shared/reference/METHODS.md`` section 4): the learnable quantities and their
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.augment import DSA
from condensed_data.condense.method import MethodConfig, RandomNetworkMethod
from condensed_data.condense.objectives import make_objective
from condensed_data.data import RealDataset
from condensed_data.hub import HubOptions, cached_revision, download_model, locate
from condensed_data.models.diffusion import DiffusionError, load_diffusion, save_diffusion
from condensed_data.sources.latent_diffusion import DIFFUSION_FOLDER, save_latents

__all__ = ["LD3M", "LD3MConfig", "two_stage"]


@dataclass
class LD3MConfig(MethodConfig):
    """LD3M's options (see the module docstring for which are the paper's).

    Attributes:
        prior: A class-conditional latent diffusion model in diffusers pipeline layout: a folder (``condensed-data
            prior --kind ldm`` makes one) or a Hub model id (``org/name`` or ``hf-hub:org/name``; only configs and
            safetensors weights are downloaded). The artifact stores the model either way.
        prior_revision: Hub branch, tag or commit of ``prior`` (default: main; the commit used is recorded).
        class_ids: The model's class id of each of the data's classes, e.g. the ImageNet ids of an ImageNet subset
            with an ImageNet model (default: class ``c`` is the model's class ``c``). Only the initial
            conditioning uses them.
        objective: Matching objective: ``"dm"`` (default), ``"atom"``, ``"echo"``.
        objective_options: Options of the objective.
        steps: DDIM steps from latent to image (LD3M: 10; fewer is faster).
        skip: LD3M's linearly decaying skip from the initial latent; ``False`` is plain DDIM (the ablation).
        guidance: Classifier-free guidance scale (LD3M: 3.0; 1 turns guidance off and halves the cost).
        lr: SGD learning rate of latents and conditioning.
        momentum: SGD momentum (LD3M: 0.5).
        batch_real: Real images per class per iteration.
        net: Architecture of the random feature extractor.
        dsa_strategy: Siamese augmentation ops, ``"none"`` to disable.
        iters_per_net: Iterations that share one random network.
        chunk: Images generated together in the two-stage backward (LD3M's ``sg_batch``: 10).
        checkpointing: Recompute each denoiser call in the backward pass (less memory, more time).
    """

    prior: str = ""
    prior_revision: str = ""
    class_ids: list[int] = dataclasses.field(default_factory=list)
    objective: str = "dm"
    objective_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    steps: int = 10
    skip: bool = True
    guidance: float = 3.0
    lr: float = 0.1
    momentum: float = 0.5
    batch_real: int = 256
    net: str = "convnet"
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"
    iters_per_net: int = 1
    chunk: int = 10
    checkpointing: bool = True

    def __post_init__(self) -> None:
        for name in ("steps", "batch_real", "iters_per_net", "chunk"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not self.lr > 0 or not 0 <= self.momentum < 1:
            raise ValueError(f"ld3m needs lr > 0 and 0 <= momentum < 1, got lr={self.lr}, momentum={self.momentum}")
        if not self.guidance >= 1:
            raise ValueError(f"guidance must be >= 1 (1 turns it off), got {self.guidance}")
        make_objective(self.objective, self.objective_options)


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


class _TwoStage(torch.autograd.Function):
    """Images from ``fn`` computed without a graph; the backward pass re-runs ``fn`` chunk by chunk."""

    @staticmethod
    def forward(ctx: Any, fn: Callable[..., torch.Tensor], chunk: int, *inputs: torch.Tensor) -> torch.Tensor:
        ctx.fn, ctx.chunk = fn, chunk
        ctx.save_for_backward(*inputs)
        n = inputs[0].shape[0]
        return torch.cat([fn(*(x[s : s + chunk] for x in inputs)) for s in range(0, n, chunk)])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        inputs = ctx.saved_tensors
        wanted = ctx.needs_input_grad[2:]
        grads = [torch.zeros_like(x) if w else None for x, w in zip(inputs, wanted, strict=True)]
        chunk, n = ctx.chunk, inputs[0].shape[0]
        for s in range(0, n, chunk):
            with torch.enable_grad():
                parts = [x[s : s + chunk].detach().requires_grad_(w) for x, w in zip(inputs, wanted, strict=True)]
                out = ctx.fn(*parts)
                leaves = [p for p in parts if p.requires_grad]
                got = iter(torch.autograd.grad(out, leaves, grad[s : s + chunk]))
            for g, p in zip(grads, parts, strict=True):
                if p.requires_grad:
                    g[s : s + chunk] = next(got)
        return (None, None, *grads)


def two_stage(fn: Callable[..., torch.Tensor], chunk: int, *inputs: torch.Tensor) -> torch.Tensor:
    """``fn(*inputs)`` (row-wise over chunks of ``chunk`` rows) without keeping its graph: the backward pass
    recomputes each chunk with gradient, so memory holds one chunk's graph at a time (LD3M's two-stage backward).

    ``fn`` must be deterministic and row-independent (the same rows give the same output in any chunk).
    """
    return _TwoStage.apply(fn, chunk, *inputs)


class LD3M(RandomNetworkMethod):
    """Initial latents and class conditioning of a frozen latent diffusion model, matched to real data."""

    name: ClassVar[str] = "ld3m"
    config_class: ClassVar[type[MethodConfig]] = LD3MConfig
    kind: ClassVar[str] = "latent-diffusion"
    sharding: ClassVar[str] = "classes"
    default_iterations: ClassVar[int] = 1000

    def __init__(
        self,
        real: RealDataset,
        *,
        ipc: int,
        config: MethodConfig | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, config=config, device=device, generator=generator)
        cfg = self.config
        if not cfg.prior:
            raise ValueError(
                "ld3m needs a class-conditional latent diffusion model: train one with `condensed-data prior --kind "
                f"ldm --dataset {real.name}` and pass --set prior=FOLDER (or the folder of a diffusers model)"
            )
        k = real.num_classes
        self.prior_folder = _prior_folder(cfg.prior, cfg.prior_revision)
        self.model = load_diffusion(
            self.prior_folder, num_classes=k, image_shape=tuple(real.image_shape), device=self.device
        )
        self.labels = torch.arange(k, device=self.device).repeat_interleave(ipc)
        start = real.sample_per_class(ipc, generator=generator).flatten(0, 1).to(self.device)
        self.latents = self.model.encode(start).requires_grad_(True)
        ids = self.labels
        if cfg.class_ids:
            if len(cfg.class_ids) != k:
                raise ValueError(f"class_ids has {len(cfg.class_ids)} ids but the data has {k} classes")
            ids = torch.tensor(cfg.class_ids, device=self.device)[self.labels]
        self.conditioning = self.model.class_conditioning(ids).requires_grad_(True)
        self.noise = torch.randn(self.latents.shape, generator=generator).to(self.device)
        self.objective = make_objective(cfg.objective, cfg.objective_options)
        self.dsa = None if cfg.dsa_strategy == "none" else DSA(cfg.dsa_strategy)
        self.batch_real = min(cfg.batch_real, min(real.class_counts()))
        self._real_groups = torch.arange(k, device=self.device).repeat_interleave(self.batch_real)
        self._syn_groups = self.labels
        self._rows = slice(0, k * ipc)

    def shard(self, index: int, count: int) -> None:
        super().shard(index, count)
        self._rows = self.own_rows()
        self._syn_groups = self.labels[self._rows]

    # -- the contract ------------------------------------------------------------------------------------------
    def parameters(self) -> list[torch.Tensor]:
        return [self.latents, self.conditioning]

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.config.lr, momentum=self.config.momentum)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {**super().state_dict(), "noise": self.noise.detach().clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        noise = state.pop("noise")
        if tuple(noise.shape) != tuple(self.noise.shape):
            raise ValueError(f"state tensor noise has shape {list(noise.shape)}, expected {list(self.noise.shape)}")
        super().load_state_dict(state)
        self.noise = noise.to(self.device)

    def _decode(self, latents: torch.Tensor, conditioning: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        return self.model.sample(
            latents,
            conditioning,
            noise,
            steps=cfg.steps,
            skip=cfg.skip,
            guidance=cfg.guidance,
            checkpoint=cfg.checkpointing,
        )

    def images(self, rows: slice | None = None) -> torch.Tensor:
        """Decoded images of ``rows`` (all by default), differentiable through the two-stage backward."""
        rows = rows or slice(None)
        noise = self.noise[rows]
        return two_stage(self._decode, self.config.chunk, self.latents[rows], self.conditioning[rows], noise)

    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        net = self.network(iteration, generator)
        keep = self.shard_classes if self.shard_count > 1 else None
        real = self.real.sample_per_class(self.batch_real, generator=generator, keep=keep)
        real = self.real.normalize(real.flatten(0, 1).to(self.device))
        syn = self.real.normalize(self.images(self._rows))
        real, syn = self.augment_pair(real, syn, generator)
        return self.objective.compare(*self.features(net, real, syn))

    @torch.no_grad()
    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images().float().cpu(), self.labels.cpu()

    def export(self, folder: Path) -> None:
        """Write ``diffusion/`` (denoiser, autoencoder, schedule, latents): the artifact of kind ``latent-diffusion``."""
        cfg = self.config
        target = Path(folder) / DIFFUSION_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        sampling = {"steps": cfg.steps, "skip": cfg.skip, "guidance": cfg.guidance}
        prior: dict[str, Any] = {"name": cfg.prior}
        pinned = cached_revision(self.prior_folder)
        if pinned is not None:
            prior.update(repo_id=pinned[0], revision=pinned[1])
        save_diffusion(target, self.model, extra={"sampling": sampling, "prior": prior})
        save_latents(target, self.latents, self.conditioning, self.noise, self.labels)
