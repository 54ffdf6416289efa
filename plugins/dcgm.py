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
  initialization (a warning says so); the tests on tiny data do that, real runs should not. The prior's width is
  a prior option (``condensed-data prior --kind gan --set width=N``; default 32: about 125k weights at 28x28,
  fewer than the 392k pixel values of an IPC-50 Fashion-MNIST set; width 64 has about 301k, 128 about 805k).
- Codes that reproduce real images (``invert_steps``, ours): with a prior, each code is first fitted (Adam, lr
  0.05, generator frozen) so that the prior's image reconstructs a real image of its class, drawn as the pixel
  methods draw their starting images (the run's first draw, ``ipc`` per class). Default 300 steps: on digits with
  a 600-iteration prior (width 32) the mean squared pixel error of 100 codes fell from 0.100 (random codes) to
  0.0016 after 200 steps, 0.0010 after 300 and 0.0005 after 600 (a one-off check, not a recorded benchmark), so
  300 is past the knee at a few seconds of CPU per 100 codes. ``invert_steps=0`` keeps the ``N(0, I)`` codes.
  The set at iteration 0 (``--iterations 0``) is what condensation starts from: the prior's own quality.
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
  weight means different things on different data. The defaults (10 and 10, ``regularizer_weights="absolute"``)
  keep each regularizer's gradient on the generator a small fraction of the matching gradient at the start on
  Fashion-MNIST (a one-off check, not a recorded benchmark) and a larger one once a prior has made the match
  small; on 8x8 digits use about 0.1 for ``lambda_inter`` (as the test does). ``regularizer_weights="relative"``
  makes a weight a fraction instead: each regularizer ``R`` enters as ``lambda * (|L_match| / |R|) * R`` with the
  ratio detached (recomputed every step), so its magnitude is ``lambda`` times the match term's whatever the
  data (``lambda_intra=0.1``: 10%); use weights well below 1 then. Sweep them for your data, on a validation split.
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
        latent_dim, embed_dim, width: Generator sizes when there is no prior (a prior brings its own: train a
            wider one with ``condensed-data prior --kind gan --set width=N``).
        invert_steps: With a prior, Adam steps that fit each code, before condensation, so that the prior's image
            reconstructs a real image of its class (drawn as the pixel methods draw their starting images: the
            run's first draw, ``ipc`` per class); 0 keeps the ``N(0, I)`` codes. Ignored without a prior (a random
            generator reproduces no image worth starting from).
    """

    lambda_intra: float = 10.0
    lambda_inter: float = 10.0
    prior: str = ""
    lr_gen: float = 1e-3
    lr_codes: float = 5e-2
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 32
    invert_steps: int = 300

    def __post_init__(self) -> None:
        for name in ("lr_gen", "lr_codes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        require_positive_ints(self, "latent_dim", "embed_dim", "width")
        if isinstance(self.invert_steps, bool) or not isinstance(self.invert_steps, int) or self.invert_steps < 0:
            raise ValueError(f"invert_steps must be an integer >= 0, got {self.invert_steps!r}")
        super().__post_init__()


class DCGM(MatchingMethod):
    """A class-conditional generator and per-image codes, matched to real data under random networks."""

    name: ClassVar[str] = "dcgm"
    config_class: ClassVar[type[MethodConfig]] = DCGMConfig
    representation_class: ClassVar[type[Representation]] = GeneratorCodes
    default_iterations: ClassVar[int] = 5000
    INVERT_LR: ClassVar[float] = 0.05

    def build_representation(self, generator: torch.Generator) -> Representation:
        cfg, real = self.config, self.real
        shape = tuple(real.image_shape)
        targets = None
        if cfg.prior:
            model = load_prior(cfg.prior, num_classes=real.num_classes, image_shape=shape, device=self.device)
            if cfg.invert_steps:
                targets = real.sample_per_class(self.ipc, generator=generator).flatten(0, 1)
        else:
            logger.warning(
                "dcgm: no prior given, starting from a randomly initialized generator; for real runs train one with "
                "`condensed-data prior --kind gan --dataset %s` and pass --set prior=FOLDER",
                real.name,
            )
            sizes = {"latent_dim": cfg.latent_dim, "embed_dim": cfg.embed_dim, "width": cfg.width}
            gen_config = ConditionalGeneratorConfig(num_classes=real.num_classes, image_shape=shape, **sizes)
            model = build(lambda: ConditionalGenerator(gen_config), generator=generator, device=self.device)
        representation = GeneratorCodes(
            real,
            ipc=self.ipc,
            generator_model=model,
            lr_codes=cfg.lr_codes,
            lr_generator=cfg.lr_gen,
            provenance={"method": "dcgm", "prior": cfg.prior or None},
            device=self.device,
            generator=generator,
        )
        if targets is not None:
            before, after = representation.fit_codes(targets, steps=cfg.invert_steps, lr=self.INVERT_LR)
            logger.info("dcgm: codes fitted to real images, mean squared pixel error %.4g -> %.4g", before, after)
        return representation

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.representation.param_groups())
