"""Feature-matching objectives shared by methods (training side).

Each objective compares per-class features of real images ``(K, B, D)`` with those of synthetic images
``(K, M, D)`` and returns a scalar. Keeping them here (not in a plugin) lets any method or representation reuse
them without plugins importing each other.

>>> import torch
>>> real = torch.tensor([[[1.0, 0.0], [3.0, 0.0]]])   # one class, two real features: mean [2, 0]
>>> syn = torch.tensor([[[0.0, 1.0]]])                  # one synthetic feature [0, 1]
>>> float(mean_embedding_loss(real, syn))               # (2-0)^2 + (0-1)^2
5.0
"""

from __future__ import annotations

import torch

__all__ = ["mean_embedding_loss"]


def mean_embedding_loss(feat_real: torch.Tensor, feat_syn: torch.Tensor) -> torch.Tensor:
    """DM's loss: squared L2 distance of class-mean features, summed (not averaged) over classes and dimensions.

    The sum (rather than a mean) matters: DM's image learning rate of 1 is tuned for this scale.
    """
    if feat_real.dim() != 3 or feat_syn.dim() != 3 or feat_real.shape[0] != feat_syn.shape[0]:
        raise ValueError(
            f"expected per-class features (K, B, D) and (K, M, D), got {list(feat_real.shape)} and {list(feat_syn.shape)}"
        )
    return (feat_real.mean(dim=1) - feat_syn.mean(dim=1)).pow(2).sum()
