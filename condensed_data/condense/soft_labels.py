"""Soft labels: a teacher trained on the real data labels a set's items with tempered probabilities (training wing).

A soft-label set stores, for every item, ``softmax(teacher(normalize(x)) / T)``: the teacher's belief about the item
at temperature ``T`` (``T > 1`` flattens the rows, ``T < 1`` sharpens them). Training on it uses cross-entropy
against these rows (``recipe.targets: "soft"``). The teacher itself is trained on the real train split by
:func:`condensed_data.condense.pretrained.trained_networks` (one network, cached); :func:`teacher_network` builds it
from a :class:`~condensed_data.artifact.manifest.Teacher` record, so the random-real baseline of DD-Ranking's
metrics is labelled by the very same network and temperature as the set.

>>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
>>> probs = soft_labels(net, torch.rand(5, 1, 2, 2), temperature=4.0, mean=(0.5,), std=(0.25,))
>>> tuple(probs.shape), bool(torch.allclose(probs.sum(1), torch.ones(5)))
((5, 3), True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from condensed_data.artifact.manifest import Teacher
from condensed_data.data import RealSource

__all__ = ["soft_labels", "item_classes", "teacher_network", "check_temperature"]


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float, or a ``ValueError`` naming the option when it is not a positive finite number."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive finite number (e.g. 4), got {temperature}")
    return float(temperature)


@torch.inference_mode()
def soft_labels(
    teacher: torch.nn.Module,
    images: torch.Tensor,
    *,
    temperature: float,
    mean: Sequence[float],
    std: Sequence[float],
    batch_size: int = 500,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The teacher's probabilities ``softmax(logits / temperature)`` for pixel-space ``images``, as (N, K) float32.

    The images are normalized with ``(mean, std)`` (the real data's, which the teacher was trained under) and
    labelled ``batch_size`` at a time, in fp32 with the teacher in eval mode (its mode is restored afterwards).

    Raises:
        ValueError: A bad temperature or batch size, images that are not (N, C, H, W), or a teacher whose output is
            not one row of logits per image, or not finite.
    """
    temperature = check_temperature(temperature)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if images.dim() != 4 or images.shape[0] == 0:
        raise ValueError(f"soft_labels expects pixel-space images (N, C, H, W) with N > 0, got {list(images.shape)}")
    device = torch.device(device)
    mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
    was_training = teacher.training
    teacher.eval()
    try:
        rows = []
        for start in range(0, images.shape[0], batch_size):
            x = (images[start : start + batch_size].to(device, torch.float32) - mean_t) / std_t
            logits = teacher(x).float()
            if logits.dim() != 2 or logits.shape[0] != x.shape[0]:
                raise ValueError(
                    f"the teacher must return one row of logits per image, got shape {list(logits.shape)} for "
                    f"{x.shape[0]} images"
                )
            rows.append(torch.softmax(logits / temperature, dim=1).cpu())
    finally:
        teacher.train(was_training)
    probs = torch.cat(rows)
    if not torch.isfinite(probs).all():
        raise ValueError("the teacher's probabilities hold NaN or inf; check the teacher (its logits are not finite)")
    return probs


def item_classes(num_items: int, num_classes: int) -> torch.Tensor:
    """The class every item of a class-major set was made for (``num_items // num_classes`` per class).

    Hard-label training of a soft-label set (``recipe.targets: "hard"``, and the hard-label run of DD-Ranking's
    hard-label recovery) uses these classes, as DD-Ranking does, not the teacher's arg-max.

    >>> item_classes(6, 3).tolist()
    [0, 0, 1, 1, 2, 2]
    """
    if num_classes < 1 or num_items < num_classes or num_items % num_classes:
        raise ValueError(
            f"a set of {num_items} items cannot be split class-major into {num_classes} classes of equal size; "
            "hard labels of a soft-label set are the class each item was made for, class-major"
        )
    return torch.arange(num_classes).repeat_interleave(num_items // num_classes)


def teacher_network(real: RealSource, teacher: Teacher, *, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The network ``teacher`` describes: ``teacher.arch`` trained ``teacher.epochs`` epochs on ``real`` from
    ``teacher.seed`` (built once and cached on disk by
    :func:`condensed_data.condense.pretrained.trained_networks`), frozen and in eval mode."""
    from condensed_data.condense.pretrained import trained_networks

    return trained_networks(real, arch=teacher.arch, count=1, epochs=teacher.epochs, seed=teacher.seed, device=device)[
        0
    ]
