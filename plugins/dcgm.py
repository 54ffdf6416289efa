"""DCGM: Dataset Condensation via Generative Model (Zhang, Wang, Xue, Yan, Zhang, Bai & Shou, arXiv 2309.07698).

The dataset is condensed into a class-conditional generator and one learnable code per synthetic image (a codebook
of ``ipc`` codes per class), not into pixels, so the artifact grows slowly with the number of classes and the
resolution. Two regularizers shape the generated set: an intra-class loss pushes each sample away from the other
samples of its class (diversity) and an inter-class loss widens the gaps between class centres (discriminability).

**What the paper fixes and what is ours.** DCGM's code is not public and its full text could not be read; only the
abstract (and a later paper's one-line description: "a class-conditional GAN with a learnable codebook per image")
were verified. Everything below beyond "conditional generator + per-image codes + a matching objective + intra- and
inter-class losses" is our design, not the paper's, and the exact DCGM formulation may differ:

- Representation: :class:`condensed_data.condense.representations.GeneratorCodes`: a
  :class:`condensed_data.models.generator.ConditionalGenerator` (a DCGAN-style generator with group norm, sigmoid
  output in pixel space [0, 1]) and codes ``z_{c,k}``, ``k < ipc``, initialized from ``N(0, I)``. Both the
  generator and the codes are optimized. Images are ``G(z_{c,k}, c)``.
- Start: a prior generator (``prior`` option: a folder from ``condensed-data prior --kind gan`` or a pretrained
  class-conditional generator in the same layout). Without one (``prior=""``), the generator starts from a random
  initialization (a warning says so); the tests on tiny data do that, real runs should not.
- Loss per iteration, with one random network (frozen, ``net``; a fresh one every ``iters_per_net`` iterations),
  a real batch of ``batch_real`` images per class and one DSA draw per class shared by real and generated images:
  ``L = L_match + lambda_intra * L_intra + lambda_inter * L_inter`` (the matching loop,
  :class:`condensed_data.condense.matching.MatchingMethod`, computes it for every recipe) where
  ``L_match`` is the objective's loss (``objective``: DM's class-mean embeddings by default, any registered
  objective: ``atom``, ``echo``), and, on the final embeddings ``h`` of the generated images,
  ``L_intra = sum_c mean_{i != j in c} cos(h_i, h_j)`` (:func:`condensed_data.condense.objectives.intra_class_loss`) and
  ``L_inter = -sum_c mean_{c' != c} ||mu_c - mu_c'||`` with ``mu_c`` the mean of the class's L2-normalized
  embeddings (:func:`condensed_data.condense.objectives.inter_class_loss`). No adversarial term during condensation.
- Optimizer: Adam, ``lr_gen`` on the generator and ``lr_codes`` on the codes. Learning rates and the iteration
  count are our defaults from short runs on scikit-learn digits (300 iterations, IPC 1); not tuned on larger data.
- Loss weights: DM's summed loss grows with the embedding width and scale (it is three orders of magnitude larger
  on Fashion-MNIST with 2048-d ConvNet-3 embeddings than on 8x8 digits), while both regularizers are bounded, so a
  weight means different things on different data. The defaults (10 and 10) keep each regularizer's gradient on
  the generator a small fraction of the matching gradient at the start on Fashion-MNIST (a one-off check, not a
  recorded benchmark) and a larger one once a prior has made the match small; on 8x8 digits use about 0.1 for
  ``lambda_inter`` (as the test does). Sweep them for your data, on a validation split.
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

import logging
from dataclasses import dataclass
from typing import ClassVar

import torch

from condensed_data.condense.matching import MatchingConfig, MatchingMethod
from condensed_data.condense.method import MethodConfig, require_positive_ints
from condensed_data.condense.priors import load_prior
from condensed_data.condense.representations import GeneratorCodes, Representation
from condensed_data.models.generator import ConditionalGenerator, ConditionalGeneratorConfig
from condensed_data.nn.init import build

__all__ = ["DCGM", "DCGMConfig"]

logger = logging.getLogger(__name__)


@dataclass
class DCGMConfig(MatchingConfig):
    """DCGM's options (all defaults are ours; see the module docstring); the matching loop's options are
    :class:`~condensed_data.condense.matching.MatchingConfig`'s.

    Attributes:
        prior: Folder of the prior generator (``condensed-data prior``); ``""`` starts from a random generator.
        lambda_intra: Weight of the intra-class (diversity) loss; 0 disables it.
        lambda_inter: Weight of the inter-class (centre-gap) loss; 0 disables it.
        lr_gen: Adam learning rate of the generator.
        lr_codes: Adam learning rate of the per-image codes.
        latent_dim, embed_dim, width: Generator sizes when there is no prior (a prior brings its own).
    """

    lambda_intra: float = 10.0
    lambda_inter: float = 10.0
    prior: str = ""
    lr_gen: float = 1e-3
    lr_codes: float = 5e-2
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        for name in ("lr_gen", "lr_codes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        require_positive_ints(self, "latent_dim", "embed_dim", "width")
        super().__post_init__()


class DCGM(MatchingMethod):
    """A class-conditional generator and per-image codes, matched to real data under random networks."""

    name: ClassVar[str] = "dcgm"
    config_class: ClassVar[type[MethodConfig]] = DCGMConfig
    representation_class: ClassVar[type[Representation]] = GeneratorCodes
    default_iterations: ClassVar[int] = 5000

    def build_representation(self, generator: torch.Generator) -> Representation:
        cfg, real = self.config, self.real
        shape = tuple(real.image_shape)
        if cfg.prior:
            model = load_prior(cfg.prior, num_classes=real.num_classes, image_shape=shape, device=self.device)
        else:
            logger.warning(
                "dcgm: no prior given, starting from a randomly initialized generator; for real runs train one with "
                "`condensed-data prior --kind gan --dataset %s` and pass --set prior=FOLDER",
                real.name,
            )
            sizes = {"latent_dim": cfg.latent_dim, "embed_dim": cfg.embed_dim, "width": cfg.width}
            gen_config = ConditionalGeneratorConfig(num_classes=real.num_classes, image_shape=shape, **sizes)
            model = build(lambda: ConditionalGenerator(gen_config), generator=generator, device=self.device)
        return GeneratorCodes(
            real,
            ipc=self.ipc,
            generator_model=model,
            lr_codes=cfg.lr_codes,
            lr_generator=cfg.lr_gen,
            provenance={"method": "dcgm", "prior": cfg.prior or None},
            device=self.device,
            generator=generator,
        )

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.representation.param_groups())
