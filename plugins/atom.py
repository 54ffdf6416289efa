"""ATOM: Attention Mixer for dataset distillation (Khaki, Sajedi, Wang, Liu, Lawryshyn & Plataniotis, CVPR-W 2024).

ATOM extends DataDAM's attention matching: under a freshly initialized random ConvNet, the *spatial* attention
(where a class's evidence is) and the *channel* attention (which filters respond to it) of every intermediate
ReLU output are matched between real and synthetic images of each class, together with a weighted
final-embedding (DM) term. The objective is :class:`condensed_data.condense.objectives.AttentionMixer`.

What is the paper's and what is ours (ATOM's code was never released; its equations could not be read here):

- From the paper's abstract: spatial + channel attention of intermediate features, mixed with a final-layer
  distribution-matching term; DSA; preprocessing "following DM and DataDAM".
- From DataDAM's code and hyperparameter table (ATOM's base): power-sum attention ``sum |f|^p`` L2-normalized
  per sample, every ReLU except the last, class-mean squared error with a factor 100, embedding weight
  ``lambda = 0.01``, ``p = 4`` (the table; DataDAM's released script uses ``p = 1``), 8,000 iterations (the table;
  the script defaults to 20,000), ``batch_real = 64``, SGD on the images with lr 1 and momentum 0.5, images
  initialized from real ones, a fresh random network every iteration.
- Ours: the channel-attention formula (the power-sum over positions, DataDAM's spatial map transposed) and its
  equal weight with the spatial term. ``--set objective_options.channel=false`` gives DataDAM's spatial-only loss.
- Two questioned choices are options, to be chosen on a validation split: the power (``objective_options.power``:
  4, the table's, by default; 1, the released script's) and where the channel map is taken
  (``objective_options.channel_at``: ``"after_norm"``, the ReLU output after ConvNet-3's per-channel instance norm,
  by default, where every channel's map is nearly the same; ``"before_norm"``, the convolution's output). To see
  how the terms pull, ``--set grad_norms_every=N`` logs the gradient norm of each (``match.spatial``,
  ``match.channel``, ``match.embedding``) on the images every N iterations.
- No ZCA whitening: the papers use it for CIFAR only (not for grayscale Fashion-MNIST).

>>> from condensed_data.condense.registry import get_method
>>> cfg = get_method("atom").config_class()
>>> cfg.objective, cfg.batch_real
('atom', 64)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from condensed_data.condense.matching import PixelConfig, PixelMethod
from condensed_data.condense.method import MethodConfig

__all__ = ["ATOM", "ATOMConfig"]


@dataclass
class ATOMConfig(PixelConfig):
    """ATOM's options (DataDAM's defaults, see the module docstring); the objective's own options (``power``,
    ``balance``, ``channel``, ``channel_at``) go in ``objective_options``."""

    batch_real: int = 64
    objective: str = "atom"


class ATOM(PixelMethod):
    """Attention mixer: spatial + channel attention of intermediate features plus an embedding term."""

    name: ClassVar[str] = "atom"
    config_class: ClassVar[type[MethodConfig]] = ATOMConfig
    default_iterations: ClassVar[int] = 8000
