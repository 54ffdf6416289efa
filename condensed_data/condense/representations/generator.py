"""Generator + codes: a class-conditional generator and one learnable code per image (DCGM; training wing).

The generator is shared by every class, so a run over several processes splits the data, not the classes
(``sharding = "data"``). The artifact (kind ``generator``) stores ``generator/config.json``,
``generator/model.safetensors`` and ``generator/codes.safetensors``, which
:class:`condensed_data.sources.generator.GeneratorSource` rebuilds from the library's own architectures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from condensed_data.condense.representations.base import Representation
from condensed_data.data import RealSource
from condensed_data.models.generator import architecture_of, save_codes, save_generator
from condensed_data.sources.generator import GENERATOR_FOLDER

__all__ = ["GeneratorCodes"]


class GeneratorCodes(Representation):
    """Images ``G(z_{c,k}, c)``: a conditional generator ``G`` (trained) and codes ``z``, ``ipc`` per class.

    Args:
        real: The real data (classes, shape, normalization).
        ipc: Codes (images) per class.
        generator_model: The conditional generator to optimize, already on ``device`` (a prior or a fresh one).
        lr_codes: Learning rate of the codes.
        lr_generator: Learning rate of the generator's weights.
        provenance: Recorded in the exported generator config (method, prior).
        device: Where the codes live.
        generator: Source of the codes' random draw.
    """

    kind: ClassVar[str] = "generator"
    sharding: ClassVar[str] = "data"

    def __init__(
        self,
        real: RealSource,
        *,
        ipc: int,
        generator_model: nn.Module,
        lr_codes: float,
        lr_generator: float,
        provenance: dict[str, Any] | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, device=torch.device(device))
        self.generator = generator_model
        self.generator.train()
        for p in self.generator.parameters():
            p.requires_grad_(True)
        latent_dim = int(self.generator.config.latent_dim)
        codes = torch.randn((real.num_classes * ipc, latent_dim), generator=generator)
        self.codes = codes.to(self.device).requires_grad_(True)
        self.lr_codes, self.lr_generator = lr_codes, lr_generator
        self.provenance = dict(provenance or {})

    def parameters(self) -> list[torch.Tensor]:
        return [self.codes, *self.generator.parameters()]

    def param_groups(self) -> list[dict[str, Any]]:
        return [
            {"params": [self.codes], "lr": self.lr_codes},
            {"params": list(self.generator.parameters()), "lr": self.lr_generator},
        ]

    def generate(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixel-space images (differentiable) and labels of the block ``classes``."""
        rows = slice(None) if classes == range(self.real.num_classes) else self.rows(classes)
        labels = self.labels[rows]
        return self.generator(self.codes[rows], labels), labels

    def fit_codes(self, targets: torch.Tensor, *, steps: int, lr: float, chunk: int = 256) -> tuple[float, float]:
        """Fit the codes, generator frozen, so that ``G(z_i, label_i)`` reconstructs ``targets[i]``.

        ``steps`` Adam steps (learning rate ``lr``) on each code's mean squared pixel error; codes are independent
        (the generator has no batch statistics and Adam is element-wise), so fitting them ``chunk`` rows at a time
        gives the same codes as fitting all at once, with bounded memory.

        Args:
            targets: Pixel-space images ``(N, C, H, W)``, one per code, class-major like the codes.
            steps: Optimizer steps per code.
            lr: Adam learning rate.
            chunk: Codes fitted together.

        Returns:
            The mean squared error per pixel before and after, over all codes.
        """
        targets = targets.to(self.device)
        if targets.dim() != 4 or len(targets) != len(self.codes):
            raise ValueError(
                f"fit_codes: expected one target image (C, H, W) per code ({len(self.codes)}), got {list(targets.shape)}"
            )
        weights = [p.requires_grad_(False) for p in self.generator.parameters()]
        before, after = 0.0, 0.0
        try:
            for rows in torch.arange(len(self.codes), device=self.device).split(chunk):
                codes = self.codes.detach()[rows].clone().requires_grad_(True)
                labels, target = self.labels[rows], targets[rows]
                optimizer = torch.optim.Adam([codes], lr=lr)
                for step in range(steps + 1):
                    error = (self.generator(codes, labels) - target).pow(2).flatten(1).mean(1)
                    if step == 0:
                        before += float(error.detach().sum())
                    if step == steps:
                        after += float(error.detach().sum())
                        break
                    optimizer.zero_grad(set_to_none=True)
                    error.sum().backward()
                    optimizer.step()
                with torch.no_grad():
                    self.codes[rows] = codes.detach()
        finally:
            for p in weights:
                p.requires_grad_(True)
        return before / len(self.codes), after / len(self.codes)

    def export(self, folder: Path) -> None:
        """Write ``generator/`` (config, weights, codes): the artifact of kind ``generator``."""
        target = Path(folder) / GENERATOR_FOLDER
        architecture = architecture_of(self.generator)
        save_generator(target, self.generator, architecture=architecture, provenance=self.provenance)
        save_codes(target, self.codes, self.labels)
