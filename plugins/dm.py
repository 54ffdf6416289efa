"""DM: Dataset Condensation with Distribution Matching (Zhao & Bilen, WACV 2023).

Synthetic images are optimized so that, under freshly initialized random ConvNets, each class's mean embedding
of (Siamese-augmented) synthetic images matches the mean embedding of a batch of real images of that class. The
loss is the squared L2 distance of the class means, summed over classes; SGD on the images with lr 1 and
momentum 0.5; images initialized from random real images. Defaults follow the reference implementation
(VICO-UoE/DatasetCondensation ``main_DM.py``); the reference runs 20,000 iterations.

Unlike the reference, which loops over classes with one forward pass each, all classes share one forward pass
for real and one for synthetic images; with an instance-norm ConvNet (no batch statistics) this computes the same
loss.

>>> from condensed_data.condense.registry import get_method
>>> get_method("dm").config_class().lr_img
1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from condensed_data.condense.matching import PixelConfig, PixelMethod
from condensed_data.condense.method import MethodConfig

__all__ = ["DM", "DMConfig"]


@dataclass
class DMConfig(PixelConfig):
    """DM's options; the defaults are the reference's (see :class:`~condensed_data.condense.matching.PixelConfig` for each field).

    ``objective`` defaults to ``"dm"`` (class-mean embeddings); ``--objective echo`` or ``atom`` keeps DM's other
    defaults and swaps the comparison.
    """


class DM(PixelMethod):
    """Distribution matching: class-mean embeddings of real and synthetic images under random ConvNets."""

    name: ClassVar[str] = "dm"
    config_class: ClassVar[type[MethodConfig]] = DMConfig
    default_iterations: ClassVar[int] = 20000
