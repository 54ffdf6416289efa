"""Generative priors: train a small class-conditional GAN or latent diffusion model on the real data and save it.

DCGM (:mod:`condensed_data_plugins.dcgm`) starts from a class-conditional generator of the real data. Where no
pretrained one is at hand, ``condensed-data prior --kind gan --dataset fashion-mnist`` trains
:class:`~condensed_data.models.generator.ConditionalGenerator` against a small projection discriminator with the hinge
loss, and writes a generator folder (``config.json`` + ``model.safetensors``, see :mod:`condensed_data.models.generator`)
atomically. A user with a pretrained class-conditional generator passes its folder instead (its architecture
registered with :func:`condensed_data.models.generator.register_architecture`).

Our choices (DCGM's prior is not described in what we could read): hinge loss, one discriminator step per
generator step, Adam (lr 2e-4, betas 0.5 / 0.999) for both, batch 64, codes ~ N(0, I), uniformly drawn labels,
no spectral norm (its power iteration draws from the global RNG at construction). Every random draw comes from one
``torch.Generator`` seeded by ``seed``.

LD3M (:mod:`condensed_data_plugins.ld3m`) starts from a class-conditional latent diffusion model; ``condensed-data
prior --kind ldm`` trains a small one (:func:`train_ldm_prior`, :class:`LDMPriorConfig`) and saves it in diffusers
layout (:mod:`condensed_data.models.diffusion`). diffusers builds its models from the global RNG, so they are built inside
``torch.random.fork_rng`` seeded from the same ``torch.Generator``: the global state is left as it was.

>>> train_gan_prior(load_dataset("digits"), "out/priors/digits-gan", config=PriorConfig(iterations=500))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from condensed_data.artifact.folder import write_folder_atomically
from condensed_data.data import RealDataset, require_in_memory
from condensed_data.hub import HubOptions, download_model, locate
from condensed_data.models.generator import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    GeneratorError,
    _stages,
    load_generator,
    save_generator,
)
from condensed_data.nn.init import build
from condensed_data.seeding import derive_seed, make_generator

__all__ = [
    "PriorConfig",
    "LDMPriorConfig",
    "Discriminator",
    "train_gan_prior",
    "train_ldm_prior",
    "load_prior",
    "KINDS",
]

logger = logging.getLogger(__name__)

KINDS = ("gan", "ldm")


@dataclass(frozen=True)
class PriorConfig:
    """How a GAN prior is trained (every field is ours; see the module docstring).

    Attributes:
        iterations: Generator steps (each with one discriminator step).
        batch_size: Real (and generated) images per step.
        lr: Adam learning rate of both networks.
        beta1: Adam's first beta (0.5, the DCGAN setting).
        latent_dim, embed_dim, width: Sizes of the generator (:class:`ConditionalGeneratorConfig`).
        disc_width: Channels of the discriminator's first layer.
    """

    iterations: int = 4000
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 32
    disc_width: int = 16

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "latent_dim", "embed_dim", "width", "disc_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"prior option {name} must be a positive integer, got {value!r}")
        if not self.lr > 0 or not 0 <= self.beta1 < 1:
            raise ValueError(f"prior options need lr > 0 and 0 <= beta1 < 1, got lr={self.lr}, beta1={self.beta1}")


class Discriminator(nn.Module):
    """A small projection discriminator (Miyato & Koyama 2018 style; ours): conv features, then
    ``linear(h) + <embed(y), h>`` on the summed features ``h``. No normalization layers."""

    def __init__(self, *, num_classes: int, image_shape: tuple[int, int, int], width: int = 32) -> None:
        super().__init__()
        c, h, w = image_shape
        layers: list[nn.Module] = [nn.Conv2d(c, width, 3, padding=1), nn.LeakyReLU(0.2)]
        channels = width
        for _ in range(max(1, _stages(h, w))):
            layers += [nn.Conv2d(channels, 2 * channels, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            channels *= 2
        self.features = nn.Sequential(*layers)
        self.num_classes = num_classes
        self.linear = nn.Linear(channels, 1)
        self.embed = nn.Linear(num_classes, channels, bias=False)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """One score per image ``(N,)``; higher means "real"."""
        h = self.features(images).sum(dim=(2, 3))
        onehot = nn.functional.one_hot(labels.long(), self.num_classes).to(h.dtype)
        return self.linear(h).squeeze(1) + (self.embed(onehot) * h).sum(dim=1)


def train_gan_prior(
    real: RealDataset,
    output: str | os.PathLike,
    *,
    config: PriorConfig = PriorConfig(),
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Train a class-conditional GAN on ``real`` and save its generator to the folder ``output``.

    Args:
        real: Real training data (pixel values in [0, 1]; the generator outputs that range).
        output: Folder to create (``config.json`` + ``model.safetensors``), written atomically.
        config: Training options.
        seed: Base seed of every random draw.
        device: Where to train.
        progress: Show a progress bar.
        overwrite: Replace an existing ``output``.

    Returns:
        The folder written.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false (checked before training).

    >>> from condensed_data.data import load_dataset
    >>> folder = train_gan_prior(load_dataset("digits"), "out/priors/digits", config=PriorConfig(iterations=2))  # doctest: +SKIP
    """
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} already exists; choose another --output or pass --overwrite")
    device = torch.device(device)
    k, shape = real.num_classes, tuple(real.image_shape)
    gen_config = ConditionalGeneratorConfig(
        num_classes=k,
        image_shape=shape,
        latent_dim=config.latent_dim,
        embed_dim=config.embed_dim,
        width=config.width,
    )
    g = make_generator(derive_seed(seed, "prior", "gan"))
    generator = build(lambda: ConditionalGenerator(gen_config), generator=g, device=device)
    disc = build(
        lambda: Discriminator(num_classes=k, image_shape=shape, width=config.disc_width), generator=g, device=device
    )
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=betas)
    images, labels = require_in_memory(real, "training a prior", "a pretrained prior").images, real.labels
    n, b = images.shape[0], min(config.batch_size, images.shape[0])
    start = time.perf_counter()
    bar = tqdm(range(config.iterations), desc=f"prior gan {real.name}", disable=not progress, mininterval=1.0)
    for _ in bar:
        pick = torch.randint(n, (b,), generator=g).to(images.device)
        x, y = images.index_select(0, pick).to(device), labels.index_select(0, pick).to(device)
        fake_y = torch.randint(k, (b,), generator=g).to(device)
        z = torch.randn((b, config.latent_dim), generator=g).to(device)
        fake = generator(z, fake_y)
        loss_d = nn.functional.relu(1 - disc(x, y)).mean() + nn.functional.relu(1 + disc(fake.detach(), fake_y)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = -disc(fake, fake_y).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        bar.set_postfix({"d": f"{float(loss_d.detach()):.3f}", "g": f"{float(loss_g.detach()):.3f}"}, refresh=False)
    bar.close()
    seconds = time.perf_counter() - start
    provenance = {
        "kind": "gan",
        "dataset": {"name": real.name, "split": real.split, "fingerprint": real.fingerprint()},
        "classes": list(real.classes),
        "training": {**dataclasses.asdict(config), "seed": seed, "seconds": round(seconds, 1)},
    }
    write_folder_atomically(
        output,
        lambda tmp: save_generator(tmp, generator, provenance=provenance),
        overwrite=overwrite,
    )
    logger.info("trained a GAN prior on %s in %.0f s; wrote %s", real.name, seconds, output)
    return output


def load_prior(
    name_or_folder: str | os.PathLike,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
    device: torch.device | str = "cpu",
    hub: HubOptions | None = None,
) -> nn.Module:
    """Load a prior generator and check that it fits the data (classes, image shape).

    Args:
        name_or_folder: A generator folder (``config.json`` + ``model.safetensors``), or a Hub *model* repository
            holding one, by :func:`condensed_data.hub.locate`'s rule (``local-dir:PATH`` / ``hf-hub:ORG/NAME``
            force either). From the Hub only those two files are fetched.
        num_classes: Classes the data has (default: whatever the prior has).
        image_shape: ``(C, H, W)`` of the data's images (default: the prior's).
        device: Where the module goes.
        hub: Revision, cache, token, ... of a Hub prior.

    Raises:
        GeneratorError: a missing, truncated or mismatched file (see
            :func:`condensed_data.models.generator.read_generator`), or a prior made for other data.

    >>> load_prior("local-dir:out/priors/digits-gan", num_classes=10, image_shape=(1, 8, 8))  # doctest: +SKIP
    """
    name = os.fspath(name_or_folder)
    missing = (
        f"prior {name} does not exist: train one with `condensed-data prior --kind gan --dataset NAME --output "
        f"{name.removeprefix('local-dir:')}`, or pass a pretrained generator's folder (local-dir:PATH) or Hub model "
        "repository (hf-hub:ORG/NAME)"
    )
    try:
        where = locate(name_or_folder)
    except FileNotFoundError:
        raise GeneratorError(missing) from None
    if where.is_hub:
        folder = download_model(where.repo_id, hub, files=[CONFIG_FILE, WEIGHTS_FILE])
        logger.info("prior %s is in %s (the folder is named by the commit)", where.repo_id, folder)
    else:
        folder = where.path
    if not folder.is_dir():
        raise GeneratorError(missing)
    module = load_generator(folder, device=device)
    config = module.config
    got = (config.num_classes, tuple(config.image_shape))
    want = (num_classes or got[0], tuple(image_shape or got[1]))
    if got != want:
        raise GeneratorError(
            f"prior {folder} generates {got[0]} classes of images {list(got[1])}, but the data has {want[0]} classes "
            f"of {list(want[1])}: train a prior on this dataset (`condensed-data prior --kind gan --dataset NAME`)"
        )
    return module


# -- latent diffusion priors (LD3M) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LDMPriorConfig:
    """How a small latent diffusion prior is trained (every value is ours; LD3M itself uses a pretrained LDM).

    Two stages: an ``AutoencoderKL`` (images resized to ``image_size``, ``[-1, 1]``; L1 + MSE reconstruction plus a
    KL term of weight ``kl_weight``; no perceptual or adversarial loss, unlike the LDM paper's autoencoders), then a
    class-conditional ``UNet2DModel`` on its scaled latents (noise prediction, LDM's schedule: 1000 steps,
    "scaled_linear" betas from 0.0015 to 0.0195; labels dropped to a null class with probability ``class_dropout``
    so classifier-free guidance works). The latent scale is ``1 / std`` of the training latents, as in LDM.

    Attributes:
        autoencoder_iterations, denoiser_iterations: Optimizer steps of each stage.
        batch_size: Images per step (both stages).
        lr: Adam learning rate (both stages).
        image_size: Side the autoencoder works at (real images are resized to it).
        latent_channels: Channels of the latent.
        width: Channels of the autoencoder's first level (then ``2 * width``, ``2 * width``: a 4x smaller latent).
        denoiser_width: Channels of the denoiser's first level (then ``2 * denoiser_width``).
        kl_weight: Weight of the autoencoder's KL term.
        class_dropout: Probability of training the denoiser on the null class.
    """

    autoencoder_iterations: int = 1500
    denoiser_iterations: int = 5000
    batch_size: int = 64
    lr: float = 1e-3
    image_size: int = 32
    latent_channels: int = 4
    width: int = 16
    denoiser_width: int = 48
    kl_weight: float = 1e-6
    class_dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("autoencoder_iterations", "denoiser_iterations", "batch_size", "latent_channels", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"prior option {name} must be a positive integer, got {value!r}")
        if self.image_size < 8 or self.image_size % 4:
            raise ValueError(f"prior option image_size must be a multiple of 4 and >= 8, got {self.image_size}")
        if self.denoiser_width < 8 or self.denoiser_width % 8 or self.width % 8:
            raise ValueError("prior options width and denoiser_width must be multiples of 8 (group norm)")
        if not self.lr > 0 or self.kl_weight < 0 or not 0 <= self.class_dropout < 1:
            raise ValueError("prior options need lr > 0, kl_weight >= 0 and 0 <= class_dropout < 1")


LDM_SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0015,
    "beta_end": 0.0195,
    "beta_schedule": "scaled_linear",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "steps_offset": 1,
    "prediction_type": "epsilon",
}


def _seeded(generator: torch.Generator, build_fn):  # diffusers models initialize from the global RNG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2**62, (), generator=generator)))
        return build_fn()


def train_ldm_prior(
    real: RealDataset,
    output: str | os.PathLike,
    *,
    config: LDMPriorConfig = LDMPriorConfig(),
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
    overwrite: bool = False,
) -> Path:
    """Train a small class-conditional latent diffusion model on ``real``; save it as a diffusion folder.

    The folder (:mod:`condensed_data.models.diffusion`: ``unet/``, ``vae/``, ``scheduler/``, ``condensed_data.json``) is
    written atomically; ``--method ld3m --set prior=FOLDER`` condenses from it.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false (checked before training).
    """
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DModel  # the diffusion extra

    from condensed_data.models.diffusion import LatentDiffusion, save_diffusion

    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} already exists; choose another --output or pass --overwrite")
    device = torch.device(device)
    cfg = config
    k, shape = real.num_classes, tuple(real.image_shape)
    g = make_generator(derive_seed(seed, "prior", "ldm"))
    w = cfg.width
    vae = _seeded(
        g,
        lambda: AutoencoderKL(
            in_channels=shape[0],
            out_channels=shape[0],
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(w, 2 * w, 2 * w),
            layers_per_block=1,
            latent_channels=cfg.latent_channels,
            norm_num_groups=8,
            sample_size=cfg.image_size,
            mid_block_add_attention=False,
        ),
    ).to(device)
    d = cfg.denoiser_width
    unet = _seeded(
        g,
        lambda: UNet2DModel(
            sample_size=cfg.image_size // 4,
            in_channels=cfg.latent_channels,
            out_channels=cfg.latent_channels,
            block_out_channels=(d, 2 * d),
            down_block_types=("DownBlock2D", "AttnDownBlock2D"),
            up_block_types=("AttnUpBlock2D", "UpBlock2D"),
            layers_per_block=1,
            norm_num_groups=8,
            attention_head_dim=d // 2,
            num_class_embeds=k + 1,
        ),
    ).to(device)
    images, labels = require_in_memory(real, "training a prior", "a pretrained prior").images, real.labels
    n, b = images.shape[0], min(cfg.batch_size, images.shape[0])

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        pick = torch.randint(n, (b,), generator=g).to(images.device)
        x = images.index_select(0, pick).to(device)
        x = nn.functional.interpolate(x, size=(cfg.image_size,) * 2, mode="bilinear", antialias=True)
        return x * 2 - 1, labels.index_select(0, pick).to(device)

    start = time.perf_counter()
    total = cfg.autoencoder_iterations + cfg.denoiser_iterations
    bar = tqdm(total=total, desc=f"prior ldm {real.name}", disable=not progress, mininterval=1.0)
    opt = torch.optim.Adam(vae.parameters(), lr=cfg.lr)
    vae.train()
    for _ in range(cfg.autoencoder_iterations):
        x, _ = batch()
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=g).to(device)
        recon = vae.decode(z).sample
        loss = (recon - x).abs().mean() + ((recon - x) ** 2).mean() + cfg.kl_weight * posterior.kl().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix({"stage": "autoencoder", "loss": f"{float(loss.detach()):.4f}"}, refresh=False)
        bar.update()
    vae.eval().requires_grad_(False)
    with torch.no_grad():  # LDM's latent scale: unit variance on the training data
        sample = torch.cat([vae.encode(batch()[0]).latent_dist.mean for _ in range(max(1, 2048 // b))])
        vae.register_to_config(scaling_factor=float(1.0 / sample.std()))
    scale = float(vae.config.scaling_factor)
    schedule = DDIMScheduler.from_config(LDM_SCHEDULE)
    alphas = schedule.alphas_cumprod.to(device)
    opt = torch.optim.Adam(unet.parameters(), lr=cfg.lr)
    unet.train()
    for it in range(cfg.denoiser_iterations):
        x, y = batch()
        with torch.no_grad():
            z = vae.encode(x).latent_dist.mean * scale
        drop = torch.rand(b, generator=g).to(device) < cfg.class_dropout
        y = torch.where(drop, torch.full_like(y, k), y)
        t = torch.randint(LDM_SCHEDULE["num_train_timesteps"], (b,), generator=g).to(device)
        noise = torch.randn(z.shape, generator=g).to(device)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * z + (1 - a).sqrt() * noise
        loss = nn.functional.mse_loss(unet(noisy, t, class_labels=y).sample, noise)
        for group in opt.param_groups:  # cosine decay over the stage
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * it / cfg.denoiser_iterations))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        bar.set_postfix({"stage": "denoiser", "loss": f"{float(loss.detach()):.4f}"}, refresh=False)
        bar.update()
    bar.close()
    unet.eval()
    seconds = time.perf_counter() - start
    model = LatentDiffusion(unet, vae, LDM_SCHEDULE, num_classes=k, image_shape=shape, null_class=k)
    provenance = {
        "kind": "ldm",
        "dataset": {"name": real.name, "split": real.split, "fingerprint": real.fingerprint()},
        "classes": list(real.classes),
        "training": {**dataclasses.asdict(cfg), "seed": seed, "seconds": round(seconds, 1)},
    }
    write_folder_atomically(output, lambda tmp: save_diffusion(tmp, model, extra=provenance), overwrite=overwrite)
    logger.info("trained a latent diffusion prior on %s in %.0f s; wrote %s", real.name, seconds, output)
    return output
