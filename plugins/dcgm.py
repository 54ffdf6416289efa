"""DCGM: Dataset Condensation via Generative Model (Zhang, Wang, Xue, Yan, Zhang, Bai & Shou, arXiv 2309.07698).

The dataset is condensed into a class-conditional generator and one learnable code per synthetic image (a codebook
of ``ipc`` codes per class), not into pixels, so the artifact grows slowly with the number of classes and the
resolution. Two regularizers shape the generated set: an intra-class loss pushes each sample away from the other
samples of its class (diversity) and an inter-class loss widens the gaps between class centres (discriminability).

**What the paper fixes and what is ours.** DCGM's code is not public and its full text could not be read; only the
abstract (and a later paper's one-line description: "a class-conditional GAN with a learnable codebook per image")
were verified. Everything below beyond "conditional generator + per-image codes + a matching objective + intra- and
inter-class losses" is our design, not the paper's, and the exact DCGM formulation may differ:

- Representation: :class:`condensed_data.models.generator.ConditionalGenerator` (a DCGAN-style generator with group norm,
  sigmoid output in pixel space [0, 1]) and codes ``z_{c,k}``, ``k < ipc``, initialized from ``N(0, I)``. Both the
  generator and the codes are optimized. Images are ``G(z_{c,k}, c)``.
- Start: a prior generator (``prior`` option: a folder from ``condensed-data prior --kind gan`` or a pretrained
  class-conditional generator in the same layout). Without one (``prior=""``), the generator starts from a random
  initialization (a warning says so); the tests on tiny data do that, real runs should not.
- Loss per iteration, with one random network (frozen, ``net``; a fresh one every ``iters_per_net`` iterations),
  a real batch of ``batch_real`` images per class and one DSA draw per class shared by real and generated images:
  ``L = L_match + lambda_intra * L_intra + lambda_inter * L_inter`` where
  ``L_match`` is the objective's loss (``objective``: DM's class-mean embeddings by default, any registered
  objective: ``atom``, ``echo``), and, on the final embeddings ``h`` of the generated images,
  ``L_intra = sum_c mean_{i != j in c} cos(h_i, h_j)`` (:func:`condensed_data.condense.objectives.intra_class_loss`) and
  ``L_inter = -sum_c mean_{c' != c} ||mu_c - mu_c'||`` with ``mu_c`` the mean of the class's L2-normalized
  embeddings (:func:`condensed_data.condense.objectives.inter_class_loss`). No adversarial term during condensation.
- Optimizer: Adam, ``lr_gen`` on the generator and ``lr_codes`` on the codes. Learning rates and the iteration
  count are our defaults from short runs on scikit-learn digits (300 iterations, IPC 1); not tuned on larger data.
- Loss weights: DM's summed loss grows with the embedding width and scale (about 2,500 on Fashion-MNIST with a
  random generator and 2048-d ConvNet-3 embeddings, about 0.9 on 8x8 digits), while both regularizers are
  bounded, so a weight means different things on different data. The defaults (10 and 10) put each regularizer's
  gradient on the generator at roughly 1-2% of the matching gradient at the start on Fashion-MNIST (measured:
  |grad| match 13,000, intra 18, inter 11) and more once a prior has made the match small; on 8x8 digits use
  about 0.1 for ``lambda_inter`` (as the test does). Sweep them for your data.
- Several processes: the generator is shared (``sharding = "data"``). Every process draws the same random stream,
  generates all synthetic images and keeps its share of each class's real batch; the driver averages gradients.
  For the default ``dm`` objective the averaged gradient equals the single-process one exactly (the mean-embedding
  gradient is linear in the real mean); for other objectives it is an average of per-share gradients.

The artifact (kind ``generator``) stores ``generator/config.json``, ``generator/model.safetensors`` and
``generator/codes.safetensors``; :class:`condensed_data.dataset.condensed.CondensedDataset` rebuilds the generator and
materializes images on the fly (``mode="fixed"``: the condensed set; ``mode="fresh"``: new samples each epoch).

>>> from condensed_data.condense.registry import get_method
>>> cfg = get_method("dcgm").config_class()
>>> cfg.objective, cfg.lambda_intra, cfg.lambda_inter
('dm', 10.0, 10.0)
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.augment import DSA
from condensed_data.condense.method import MethodConfig, RandomNetworkMethod
from condensed_data.condense.objectives import inter_class_loss, intra_class_loss, make_objective
from condensed_data.condense.priors import load_prior
from condensed_data.data import RealDataset
from condensed_data.models.generator import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    architecture_of,
    save_codes,
    save_generator,
)
from condensed_data.nn.init import build
from condensed_data.sources.generator import GENERATOR_FOLDER

__all__ = ["DCGM", "DCGMConfig"]

logger = logging.getLogger(__name__)


@dataclass
class DCGMConfig(MethodConfig):
    """DCGM's options (all defaults are ours; see the module docstring).

    Attributes:
        prior: Folder of the prior generator (``condensed-data prior``); ``""`` starts from a random generator.
        objective: Matching objective: ``"dm"`` (default), ``"atom"``, ``"echo"``.
        objective_options: Options of the objective.
        lambda_intra: Weight of the intra-class (diversity) loss; 0 disables it.
        lambda_inter: Weight of the inter-class (centre-gap) loss; 0 disables it.
        lr_gen: Adam learning rate of the generator.
        lr_codes: Adam learning rate of the per-image codes.
        batch_real: Real images per class per iteration.
        net: Architecture of the random feature extractor.
        dsa_strategy: Siamese augmentation ops, ``"none"`` to disable.
        iters_per_net: Iterations that share one random network.
        latent_dim, embed_dim, width: Generator sizes when there is no prior (a prior brings its own).
    """

    prior: str = ""
    objective: str = "dm"
    objective_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    lambda_intra: float = 10.0
    lambda_inter: float = 10.0
    lr_gen: float = 1e-3
    lr_codes: float = 5e-2
    batch_real: int = 256
    net: str = "convnet"
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"
    iters_per_net: int = 1
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        for name in ("lambda_intra", "lambda_inter"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr_gen", "lr_codes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("batch_real", "iters_per_net", "latent_dim", "embed_dim", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        make_objective(self.objective, self.objective_options)


class DCGM(RandomNetworkMethod):
    """A class-conditional generator and per-image codes, matched to real data under random networks."""

    name: ClassVar[str] = "dcgm"
    config_class: ClassVar[type[MethodConfig]] = DCGMConfig
    kind: ClassVar[str] = "generator"
    sharding: ClassVar[str] = "data"
    default_iterations: ClassVar[int] = 5000

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
        k = real.num_classes
        if cfg.prior:
            self.generator = load_prior(
                Path(cfg.prior), num_classes=k, image_shape=tuple(real.image_shape), device=self.device
            )
        else:
            logger.warning(
                "dcgm: no prior given, starting from a randomly initialized generator; for real runs train one with "
                "`condensed-data prior --kind gan --dataset %s` and pass --set prior=FOLDER",
                real.name,
            )
            gen_config = ConditionalGeneratorConfig(
                num_classes=k,
                image_shape=tuple(real.image_shape),
                latent_dim=cfg.latent_dim,
                embed_dim=cfg.embed_dim,
                width=cfg.width,
            )
            self.generator = build(lambda: ConditionalGenerator(gen_config), generator=generator, device=self.device)
        self.generator.train()
        for p in self.generator.parameters():
            p.requires_grad_(True)
        latent_dim = int(self.generator.config.latent_dim)
        self.codes = torch.randn((k * ipc, latent_dim), generator=generator).to(self.device).requires_grad_(True)
        self.labels = torch.arange(k, device=self.device).repeat_interleave(ipc)
        self.objective = make_objective(cfg.objective, cfg.objective_options)
        self.dsa = None if cfg.dsa_strategy == "none" else DSA(cfg.dsa_strategy)
        self.batch_real = min(cfg.batch_real, min(real.class_counts()))
        self._real_groups = torch.arange(k, device=self.device).repeat_interleave(self.batch_real)
        self._syn_groups = self.labels
        self._share: torch.Tensor | None = None  # rows of the real batch this process keeps (data sharding)
        self.terms: dict[str, float] = {}  # the last loss's parts, for logging and ablations

    # -- the contract ------------------------------------------------------------------------------------------
    def shard(self, index: int, count: int) -> None:
        super().shard(index, count)
        if self.batch_real < count:
            raise ValueError(f"batch_real ({self.batch_real}) must be >= the number of processes ({count})")
        mine = torch.tensor_split(torch.arange(self.batch_real), count)[index]
        starts = torch.arange(self.real.num_classes) * self.batch_real
        self._share = (starts.unsqueeze(1) + mine.unsqueeze(0)).flatten().to(self.device)

    def parameters(self) -> list[torch.Tensor]:
        return [self.codes, *self.generator.parameters()]

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            [
                {"params": [self.codes], "lr": self.config.lr_codes},
                {"params": list(self.generator.parameters()), "lr": self.config.lr_gen},
            ]
        )

    def images(self) -> torch.Tensor:
        """The generated images (pixel space, differentiable), ``ipc`` per class in class-major order."""
        return self.generator(self.codes, self.labels)

    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        cfg = self.config
        net = self.network(iteration, generator)
        real = self.real.sample_per_class(self.batch_real, generator=generator)
        real = self.real.normalize(real.flatten(0, 1).to(self.device))
        syn = self.real.normalize(self.images())
        real, syn = self.augment_pair(real, syn, generator)
        if self._share is not None:
            real = real.index_select(0, self._share)
        feat_real, feat_syn = self.features(net, real, syn)
        match = self.objective.compare(feat_real, feat_syn)
        embedding = feat_syn[-1].flatten(2)  # every built-in objective ends its features with the embedding
        loss = match
        intra = inter = match.new_zeros(())
        if cfg.lambda_intra:
            intra = intra_class_loss(embedding)
            loss = loss + cfg.lambda_intra * intra
        if cfg.lambda_inter:
            inter = inter_class_loss(embedding)
            loss = loss + cfg.lambda_inter * inter
        self.terms = {"match": float(match.detach()), "intra": float(intra.detach()), "inter": float(inter.detach())}
        return loss

    @torch.no_grad()
    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images().float().cpu(), self.labels.cpu()

    def export(self, folder: Path) -> None:
        """Write ``generator/`` (config, weights, codes): the artifact of kind ``generator``."""
        target = Path(folder) / GENERATOR_FOLDER
        provenance = {"method": "dcgm", "prior": self.config.prior or None}
        save_generator(target, self.generator, architecture=architecture_of(self.generator), provenance=provenance)
        save_codes(target, self.codes, self.labels)
