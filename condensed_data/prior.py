"""Generative priors: train a small class-conditional GAN on the real data, save it, load and check it.

DCGM (:mod:`condensed_data_plugins.dcgm`) starts from a class-conditional generator of the real data. Where no
pretrained one is at hand, ``condensed-data prior --kind gan --dataset fashion-mnist`` trains
:class:`~condensed_data.generative.ConditionalGenerator` against a small projection discriminator with the hinge
loss, and writes a generator folder (``config.json`` + ``model.safetensors``, see :mod:`condensed_data.generative`)
atomically. A user with a pretrained class-conditional generator passes its folder instead (its architecture
registered with :func:`condensed_data.generative.register_architecture`).

Our choices (DCGM's prior is not described in what we could read): hinge loss, one discriminator step per
generator step, Adam (lr 2e-4, betas 0.5 / 0.999) for both, batch 64, codes ~ N(0, I), uniformly drawn labels,
no spectral norm (its power iteration draws from the global RNG at construction). Every random draw comes from one
``torch.Generator`` seeded by ``seed``.

>>> train_gan_prior(load_dataset("digits"), "out/priors/digits-gan", config=PriorConfig(iterations=500))  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from condensed_data.artifact import write_folder_atomically
from condensed_data.data import RealDataset
from condensed_data.generative import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    GeneratorError,
    _stages,
    load_generator,
    save_generator,
)
from condensed_data.nn.init import build
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["PriorConfig", "Discriminator", "train_gan_prior", "load_prior", "KINDS"]

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
    images, labels = real.images, real.labels
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
    folder: str | os.PathLike,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, int, int] | None = None,
    device: torch.device | str = "cpu",
) -> nn.Module:
    """Load a prior generator and check that it fits the data (classes, image shape).

    Raises:
        GeneratorError: a missing, truncated or mismatched file (see
            :func:`condensed_data.generative.read_generator`), or a prior made for other data.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GeneratorError(
            f"prior {folder} does not exist: train one with `condensed-data prior --kind gan --dataset NAME "
            f"--output {folder}`, or pass the folder of a pretrained generator"
        )
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
