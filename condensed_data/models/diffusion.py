"""Latent diffusion models as image decoders: LD3M's skip-blended DDIM sampling, and the folders models live in.

A *diffusion folder* is a diffusers pipeline layout, so a class-conditional diffusers checkpoint (for example a DiT
with its VAE, downloaded from the Hub) works as it is:

- ``unet/`` or ``transformer/``: the denoiser (``UNet2DModel`` or ``DiTTransformer2DModel``; ``config.json`` +
  ``diffusion_pytorch_model.safetensors``);
- ``vae/``: the autoencoder (``AutoencoderKL``);
- ``scheduler/scheduler_config.json``: the noise schedule (read into a ``DDIMScheduler``);
- ``condensed_data.json`` (optional; written by ``condensed-data prior --kind ldm`` and by LD3M artifacts): the
  number of classes, the null class for classifier-free guidance and the data's image shape. Without it the
  denoiser's class table decides (its last row is the null class when it has one row more than classes).

Only the classes above are built, from their JSON configs and safetensors weights (``use_safetensors=True``); no
code from the folder runs.

**LD3M's sampler** (Moser et al., arXiv 2403.03881, following their public code: github.com/Brian-Moser/
prune_and_distill, ``src/latentdiff/ldm/models/diffusion/ddim.py``): with ``S`` DDIM steps at timesteps ``t_{S-1} > ... > t_0`` (eta = 0), a learnable initial latent ``z``,
class conditioning ``c`` and a fixed noise ``n``:

- start: ``x = sqrt(a_{t_{S-1}}) z + sqrt(1 - a_{t_{S-1}}) n`` (the latent forward-noised to the first timestep);
- step ``k = S-1 .. 0``: ``e = eps(x, t_k, c)`` (guided), ``x0 = (x - sqrt(1 - a_t) e) / sqrt(a_t)``,
  the skip ``x0 <- (1 - w_k) x0 + w_k z`` with ``w_k = k / (S - 1)`` (1 at the first step, 0 at the last; 0 when
  ``S = 1``), then ``x = sqrt(a_prev) x0 + sqrt(1 - a_prev) e``;
- decode ``x`` with the VAE, map ``[-1, 1]`` to ``[0, 1]`` and clamp, resize to the data's shape.

``a`` is the scheduler's cumulative alpha product; ``a_prev`` after the last step is its ``final_alpha_cumprod``.
Guidance: ``e = e_u + g (e_c - e_u)`` with the null class for ``e_u`` (LD3M: ``g = 3``); ``g = 1`` skips the
unconditional pass. The noise ``n`` is drawn once per image and stored, so decoding is deterministic (the public code
redraws it on every call; fixed noise is our choice, needed for a dataset that gives the same item every time). With
a VQ autoencoder LD3M blends the quantized ``q(z)``; only KL autoencoders are supported here, for which ``q`` is the
identity.

Class conditioning is learnable per image: the outputs of the denoiser's class-embedding tables (``class_embedding``
of a ``UNet2DModel``; every block's ``class_embedder.embedding_table`` of a DiT) are replaced by per-image vectors,
initialized to the rows of the image's class.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as _checkpoint

__all__ = [
    "DiffusionError",
    "LatentDiffusion",
    "skip_weights",
    "skip_ddim",
    "load_diffusion",
    "save_diffusion",
    "DENOISERS",
    "INFO_FILE",
]

INFO_FILE = "condensed_data.json"
DENOISERS = {"unet": "UNet2DModel", "transformer": "DiTTransformer2DModel"}
AUTOENCODERS = {"vae": "AutoencoderKL"}
_INSTALL = "install the diffusion extra: pip install 'condensed-data[diffusion]'"


class DiffusionError(RuntimeError):
    """A diffusion folder that is missing, incomplete, unsupported or made for other data."""


def _diffusers() -> Any:
    try:
        import diffusers
    except ImportError:  # pragma: no cover - the extra is part of the dev install
        raise DiffusionError(f"latent-diffusion models need diffusers: {_INSTALL}") from None
    return diffusers


def skip_weights(steps: int) -> list[float]:
    """LD3M's skip weight of each step, first step first: ``k / (S - 1)`` for ``k = S-1 .. 0`` (``[0.0]`` if S=1).

    >>> skip_weights(3)
    [1.0, 0.5, 0.0]
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if steps == 1:
        return [0.0]
    return [k / (steps - 1) for k in range(steps - 1, -1, -1)]


def skip_ddim(
    eps: Callable[[torch.Tensor, int], torch.Tensor],
    z: torch.Tensor,
    noise: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    timesteps: list[int],
    *,
    final_alpha_cumprod: float,
    skip: bool = True,
) -> torch.Tensor:
    """Deterministic DDIM from the noised latent ``z`` with LD3M's linearly decaying skip (module docstring).

    Args:
        eps: The (guided) noise prediction ``eps(x, t)``.
        z: The initial latents ``(N, ...)``.
        noise: The noise that takes ``z`` to the first timestep (same shape).
        alphas_cumprod: The schedule's cumulative alpha products, indexed by training timestep.
        timesteps: The sampling timesteps, largest first.
        final_alpha_cumprod: ``a_prev`` after the last step.
        skip: Blend the predicted clean latent with ``z`` (LD3M); ``False`` is plain DDIM.

    Returns:
        The final latents.
    """
    weights = skip_weights(len(timesteps)) if skip else [0.0] * len(timesteps)
    a = alphas_cumprod.to(device=z.device, dtype=z.dtype)
    first = a[timesteps[0]]
    x = first.sqrt() * z + (1 - first).sqrt() * noise
    for k, t in enumerate(timesteps):
        a_t = a[t]
        a_prev = a[timesteps[k + 1]] if k + 1 < len(timesteps) else a.new_tensor(final_alpha_cumprod)
        e = eps(x, t)
        x0 = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
        if weights[k]:
            x0 = (1 - weights[k]) * x0 + weights[k] * z
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * e
    return x


def _rows(tables: list[nn.Embedding]) -> int:
    """Class ids every table knows (the tables of one denoiser have the same rows in practice)."""
    return min(t.num_embeddings for t in tables)


def _class_tables(denoiser: nn.Module) -> list[nn.Embedding]:
    """The class-embedding tables of a diffusers denoiser, in module order."""
    tables = [
        m
        for name, m in denoiser.named_modules()
        if isinstance(m, nn.Embedding)
        and (name == "class_embedding" or name.endswith("class_embedder.embedding_table"))
    ]
    if not tables:
        raise DiffusionError(
            f"{type(denoiser).__name__} has no class-embedding table: LD3M needs a class-conditional denoiser "
            "(UNet2DModel with num_class_embeds, or a DiT with num_embeds_ada_norm)"
        )
    return tables


class LatentDiffusion(nn.Module):
    """A frozen class-conditional latent diffusion model used as a differentiable image decoder.

    Args:
        denoiser: A diffusers ``UNet2DModel`` or ``DiTTransformer2DModel`` predicting the noise.
        vae: A diffusers ``AutoencoderKL``.
        scheduler_config: The noise schedule (a ``DDIMScheduler`` config).
        num_classes: Classes of the data (the denoiser may know more; labels index its table directly).
        image_shape: The data's ``(C, H, W)``; decoded images are resized (and gray/RGB converted) to it.
        null_class: The denoiser's unconditional class (classifier-free guidance), ``None`` if it has none.
    """

    def __init__(
        self,
        denoiser: nn.Module,
        vae: nn.Module,
        scheduler_config: dict[str, Any],
        *,
        num_classes: int,
        image_shape: tuple[int, int, int],
        null_class: int | None,
    ) -> None:
        super().__init__()
        self.denoiser = denoiser.eval().requires_grad_(False)
        self.vae = vae.eval().requires_grad_(False)
        self.scheduler_config = dict(scheduler_config)
        self.scheduler = _diffusers().DDIMScheduler.from_config(self.scheduler_config)
        self.register_buffer("alphas_cumprod", self.scheduler.alphas_cumprod.clone(), persistent=False)
        self.num_classes = int(num_classes)
        self.image_shape = tuple(int(v) for v in image_shape)
        self._tables = _class_tables(self.denoiser)
        self.class_rows = rows = _rows(self._tables)
        if null_class is not None and not 0 <= null_class < rows:
            raise DiffusionError(f"null class {null_class} is outside the denoiser's class table ({rows} rows)")
        if self.num_classes > rows - (null_class is not None):
            raise DiffusionError(
                f"the denoiser knows {rows - (null_class is not None)} classes but the data has {self.num_classes}: "
                "use a prior trained on this dataset (`condensed-data prior --kind ldm --dataset NAME`)"
            )
        self.null_class = null_class
        self._override: torch.Tensor | None = None
        start = 0
        for table in self._tables:  # each table's slice of the concatenated conditioning vector
            table.register_forward_hook(partial(self._replace_rows, slice(start, start + table.embedding_dim)))
            start += table.embedding_dim
        self.folder_info: dict[str, Any] = {}  # the folder's condensed_data.json, set by load_diffusion
        cfg = self.denoiser.config
        self.latent_channels = int(cfg.in_channels)
        size = int(cfg.sample_size if isinstance(cfg.sample_size, int) else cfg.sample_size[0])
        self.latent_shape = (self.latent_channels, size, size)
        self.vae_size = size * 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.scaling_factor = float(self.vae.config.scaling_factor)
        if int(self.vae.config.latent_channels) != self.latent_channels:
            raise DiffusionError(
                f"the denoiser works on {self.latent_channels}-channel latents but the autoencoder makes "
                f"{self.vae.config.latent_channels}: the two do not belong together"
            )

    # -- class conditioning --------------------------------------------------------------------------------------
    @property
    def conditioning_dim(self) -> int:
        """Length of one image's conditioning vector (all class tables' rows, concatenated)."""
        return sum(t.embedding_dim for t in self._tables)

    def class_conditioning(self, labels: torch.Tensor) -> torch.Tensor:
        """The denoiser's own conditioning of ``labels``: ``(N, conditioning_dim)``."""
        labels = labels.to(self._tables[0].weight.device)
        rows = self.class_rows
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= rows):
            raise DiffusionError(f"class ids must lie in [0, {rows}) for this denoiser, got {labels.unique().tolist()}")
        return torch.cat([t.weight[labels] for t in self._tables], dim=1).detach().clone()

    def _replace_rows(self, part: slice, module: nn.Module, inputs: Any, output: torch.Tensor) -> torch.Tensor | None:
        if self._override is None:
            return None
        vectors = self._override[:, part].to(output.dtype)
        n = vectors.shape[0]  # the conditional rows come first; the rest are null-class rows
        return torch.cat([vectors, output[n:]]) if output.shape[0] > n else vectors

    @contextmanager
    def _conditioned(self, conditioning: torch.Tensor) -> Iterator[None]:
        self._override = conditioning
        try:
            yield
        finally:
            self._override = None

    # -- the pieces ----------------------------------------------------------------------------------------------
    def timesteps(self, steps: int) -> list[int]:
        """The DDIM timesteps of ``steps`` sampling steps, largest first."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        self.scheduler.set_timesteps(int(steps))
        return [int(t) for t in self.scheduler.timesteps]

    def _to_vae(self, images: torch.Tensor) -> torch.Tensor:
        c = int(self.vae.config.in_channels)
        if images.shape[1] != c:
            if images.shape[1] == 1:
                images = images.expand(-1, c, -1, -1)
            else:
                raise DiffusionError(f"images have {images.shape[1]} channels, the autoencoder takes {c}")
        if tuple(images.shape[-2:]) != (self.vae_size, self.vae_size):
            images = F.interpolate(images, size=(self.vae_size, self.vae_size), mode="bilinear", antialias=True)
        return images * 2 - 1

    def _from_vae(self, images: torch.Tensor) -> torch.Tensor:
        images = ((images + 1) / 2).clamp(0, 1)
        c, h, w = self.image_shape
        if images.shape[1] != c:
            images = images.mean(dim=1, keepdim=True) if c == 1 else images.expand(-1, c, -1, -1)
        if tuple(images.shape[-2:]) != (h, w):
            images = F.interpolate(images, size=(h, w), mode="bilinear", antialias=True).clamp(0, 1)
        return images

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Scaled latents (the posterior mean) of pixel-space images in ``[0, 1]``."""
        posterior = self.vae.encode(self._to_vae(images)).latent_dist
        return posterior.mean * self.scaling_factor

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Pixel-space images in ``[0, 1]`` at the data's shape."""
        return self._from_vae(self.vae.decode(latents / self.scaling_factor).sample)

    def eps(self, x: torch.Tensor, t: int, conditioning: torch.Tensor, guidance: float) -> torch.Tensor:
        """The guided noise prediction for latents ``x`` at timestep ``t``."""
        n = x.shape[0]
        guided = guidance != 1.0 and self.null_class is not None
        labels = torch.zeros(n, dtype=torch.long, device=x.device)  # placeholders: the hooks supply the rows
        if guided:
            x = torch.cat([x, x])
            labels = torch.cat([labels, torch.full_like(labels, self.null_class)])
        timestep = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        with self._conditioned(conditioning):
            out = self.denoiser(x, timestep, class_labels=labels).sample
        out = out[:, : self.latent_channels]  # a learned variance (DiT) is split off
        if guided:
            cond, uncond = out[:n], out[n:]
            out = uncond + guidance * (cond - uncond)
        return out

    def sample(
        self,
        latents: torch.Tensor,
        conditioning: torch.Tensor,
        noise: torch.Tensor,
        *,
        steps: int,
        skip: bool = True,
        guidance: float = 1.0,
        checkpoint: bool = False,
    ) -> torch.Tensor:
        """Images from initial latents through ``steps`` skip-blended DDIM steps and the decoder (differentiable).

        ``checkpoint`` recomputes each denoiser call in the backward pass instead of keeping its activations.
        """

        def eps(x: torch.Tensor, t: int) -> torch.Tensor:
            if checkpoint and torch.is_grad_enabled():
                return _checkpoint(self.eps, x, t, conditioning, guidance, use_reentrant=False)
            return self.eps(x, t, conditioning, guidance)

        x = skip_ddim(
            eps,
            latents,
            noise,
            self.alphas_cumprod,
            self.timesteps(steps),
            final_alpha_cumprod=float(self.scheduler.final_alpha_cumprod),
            skip=skip,
        )
        return self.decode_latents(x)

    def info(self) -> dict[str, Any]:
        """What :data:`INFO_FILE` records about this model."""
        return {
            "format": "condensed-data/latent-diffusion",
            "num_classes": self.num_classes,
            "null_class": self.null_class,
            "image_shape": list(self.image_shape),
        }


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DiffusionError(f"{path} is missing") from None
    except (OSError, ValueError) as exc:
        raise DiffusionError(f"{path} is not valid JSON ({exc}); copy or download the model again") from None


def _load_part(folder: Path, names: dict[str, str], what: str, device: torch.device | str) -> nn.Module:
    diffusers = _diffusers()
    present = [sub for sub in names if (folder / sub).is_dir()]
    if not present:
        raise DiffusionError(
            f"{folder} has no {what} ({' or '.join(s + '/' for s in names)}): a diffusion folder holds a diffusers "
            "pipeline layout (denoiser, vae/, scheduler/); train one with `condensed-data prior --kind ldm`"
        )
    sub = present[0]
    config = _read_json(folder / sub / "config.json")
    expected = names[sub]
    if config.get("_class_name") != expected:
        raise DiffusionError(
            f"{folder / sub / 'config.json'} is a {config.get('_class_name')!r}; {what} {sub}/ must be a {expected} "
            f"(supported: {', '.join(sorted(set(DENOISERS.values()) | set(AUTOENCODERS.values())))})"
        )
    weights = folder / sub / "diffusion_pytorch_model.safetensors"
    if not weights.is_file():
        raise DiffusionError(f"{weights} is missing (only safetensors weights are loaded); copy the model again")
    try:
        model = getattr(diffusers, expected).from_pretrained(
            folder / sub, use_safetensors=True, low_cpu_mem_usage=False
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise DiffusionError(f"cannot load {folder / sub}: {exc}") from None
    return model.to(device)


def load_diffusion(
    folder: str | os.PathLike,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
    device: torch.device | str = "cpu",
) -> LatentDiffusion:
    """Load a diffusion folder (module docstring) for data of ``num_classes`` classes and ``image_shape``.

    Raises:
        DiffusionError: a missing folder or part, an unsupported class, or a model made for other data (the message
            names the file and the fix).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DiffusionError(
            f"diffusion model {folder} does not exist: train one with `condensed-data prior --kind ldm --dataset "
            f"NAME --output {folder}`, or pass the folder of a class-conditional diffusers model"
        )
    info = _read_json(folder / INFO_FILE) if (folder / INFO_FILE).is_file() else {}
    denoiser = _load_part(folder, DENOISERS, "denoiser", device)
    vae = _load_part(folder, AUTOENCODERS, "autoencoder", device)
    scheduler = _read_json(folder / "scheduler" / "scheduler_config.json")
    rows = _rows(_class_tables(denoiser))
    if "null_class" in info:
        null = info["null_class"]
    elif num_classes is not None and rows > num_classes:
        null = rows - 1
    else:
        null = None
    known = info.get("num_classes", num_classes if num_classes is not None else rows - (null is not None))
    if num_classes is not None and known != num_classes:
        raise DiffusionError(
            f"{folder / INFO_FILE} describes a model of {known} classes, but the data has {num_classes}: train a "
            "prior on this dataset (`condensed-data prior --kind ldm --dataset NAME`)"
        )
    shape = tuple(info.get("image_shape", image_shape or (3, 0, 0)))
    if image_shape is not None and "image_shape" in info and tuple(image_shape) != shape:
        raise DiffusionError(
            f"{folder / INFO_FILE} describes images {list(shape)}, but the data has {list(image_shape)}: train a "
            "prior on this dataset (`condensed-data prior --kind ldm --dataset NAME`)"
        )
    if image_shape is not None:
        shape = tuple(image_shape)
    if shape[1] == 0:
        raise DiffusionError(f"{folder} does not say the image shape: pass image_shape or add {INFO_FILE}")
    model = LatentDiffusion(denoiser, vae, scheduler, num_classes=int(known), image_shape=shape, null_class=null)
    model.folder_info = info
    return model.to(device)


def save_diffusion(folder: str | os.PathLike, model: LatentDiffusion, *, extra: dict[str, Any] | None = None) -> None:
    """Write ``model`` as a diffusion folder (safetensors weights, JSON configs) into the existing ``folder``."""
    folder = Path(folder)
    sub = next(k for k, v in DENOISERS.items() if v == type(model.denoiser).__name__)
    model.denoiser.save_pretrained(folder / sub, safe_serialization=True)
    model.vae.save_pretrained(folder / "vae", safe_serialization=True)
    (folder / "scheduler").mkdir(parents=True, exist_ok=True)
    (folder / "scheduler" / "scheduler_config.json").write_text(json.dumps(model.scheduler_config, indent=2) + "\n")
    index = {"_class_name": "condensed-data latent diffusion", sub: ["diffusers", type(model.denoiser).__name__]}
    index["vae"] = ["diffusers", "AutoencoderKL"]
    index["scheduler"] = ["diffusers", "DDIMScheduler"]
    (folder / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")
    (folder / INFO_FILE).write_text(json.dumps({**model.info(), **(extra or {})}, indent=2) + "\n")
