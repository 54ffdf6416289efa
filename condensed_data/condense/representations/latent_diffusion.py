"""Diffusion latents: initial latents and class conditioning decoded by a frozen latent diffusion model (LD3M).

Each image owns an initial latent ``z`` (initialized by encoding a random real image of its class), a class
conditioning vector ``c`` (initialized to its class's row of the model's class table) and fixed start noise (stored,
so the decoded set is deterministic). Images come out of a few DDIM steps with LD3M's skip from ``z``
(:meth:`condensed_data.models.diffusion.LatentDiffusion.sample`), then the decoder. Decoding goes through the
two-stage backward (:func:`two_stage`): every image is generated without a graph, and the backward pass re-runs the
generator chunk by chunk, so memory holds one chunk's graph at a time. Every parameter is class-major and a class's
images depend only on its own rows: ``sharding = "classes"``. The artifact (kind ``latent-diffusion``) stores the
model and the latents, which :class:`condensed_data.sources.latent_diffusion.LatentDiffusionSource` decodes on the
fly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.representations.base import Representation
from condensed_data.data import RealSource
from condensed_data.models.diffusion import save_diffusion
from condensed_data.sources.latent_diffusion import DIFFUSION_FOLDER, save_latents

__all__ = ["DiffusionLatents", "two_stage"]


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

    >>> a = torch.ones(4, 2, requires_grad=True)
    >>> two_stage(lambda x: 3 * x, 3, a).sum().backward()
    >>> a.grad.unique().tolist()
    [3.0]
    """
    return _TwoStage.apply(fn, chunk, *inputs)


class DiffusionLatents(Representation):
    """Initial latents, class conditioning and fixed noise of a frozen latent diffusion model.

    Args:
        real: The real data (classes, shape, normalization); ``ipc`` random images per class are encoded as the
            initial latents.
        ipc: Images per class.
        model: The frozen model (:func:`condensed_data.models.diffusion.load_diffusion`).
        class_ids: The model's class id of each of the data's classes (``None``: class ``c`` is the model's ``c``).
        sampling: ``steps``, ``skip`` and ``guidance`` of the sampler (stored in the artifact).
        chunk: Images generated together in the two-stage backward.
        checkpointing: Recompute each denoiser call in the backward pass (less memory, more time).
        prior: Recorded in the artifact: the prior's name and, for a Hub model, its repository and commit.
        device: Where the parameters live.
        generator: Source of the random draws (real images to encode, start noise).
    """

    kind: ClassVar[str] = "latent-diffusion"
    sharding: ClassVar[str] = "classes"

    def __init__(
        self,
        real: RealSource,
        *,
        ipc: int,
        model: Any,
        class_ids: list[int] | None = None,
        sampling: dict[str, Any],
        chunk: int,
        checkpointing: bool,
        prior: dict[str, Any] | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, device=torch.device(device))
        k = real.num_classes
        self.model, self.sampling, self.chunk, self.checkpointing = model, dict(sampling), chunk, checkpointing
        self.prior = dict(prior or {})
        start = real.sample_per_class(ipc, generator=generator).flatten(0, 1).to(self.device)
        self.latents = model.encode(start).requires_grad_(True)
        ids = self.labels
        if class_ids:
            if len(class_ids) != k:
                raise ValueError(f"class_ids has {len(class_ids)} ids but the data has {k} classes")
            ids = torch.tensor(class_ids, device=self.device)[self.labels]
        self.conditioning = model.class_conditioning(ids).requires_grad_(True)
        self.noise = torch.randn(self.latents.shape, generator=generator).to(self.device)

    def parameters(self) -> list[torch.Tensor]:
        return [self.latents, self.conditioning]

    def extra_state(self) -> dict[str, torch.Tensor]:
        return {"noise": self.noise.detach().clone()}

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        noise = state["noise"]
        if tuple(noise.shape) != tuple(self.noise.shape):
            raise ValueError(f"state tensor noise has shape {list(noise.shape)}, expected {list(self.noise.shape)}")
        self.noise = noise.to(self.device)

    def _decode(self, latents: torch.Tensor, conditioning: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.model.sample(latents, conditioning, noise, **self.sampling, checkpoint=self.checkpointing)

    def generate(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel-space images of the block ``classes``, differentiable through the two-stage backward."""
        rows = self.rows(classes)
        parts = (self.latents[rows], self.conditioning[rows], self.noise[rows])
        return two_stage(self._decode, self.chunk, *parts), self.labels[rows]

    def export(self, folder: Path) -> None:
        """Write ``diffusion/`` (denoiser, autoencoder, schedule, latents): the artifact of kind ``latent-diffusion``."""
        target = Path(folder) / DIFFUSION_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        save_diffusion(target, self.model, extra={"sampling": self.sampling, "prior": self.prior})
        save_latents(target, self.latents, self.conditioning, self.noise, self.labels)
