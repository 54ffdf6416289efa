"""The evaluation protocol: train K freshly initialized networks on a set, test them on real data.

This follows the reference protocol (VICO-UoE/DatasetCondensation ``evaluate_synset``): SGD with lr 0.01,
momentum 0.9, weight decay 5e-4, batch 256, cross-entropy, lr multiplied by 0.1 at half of training, DSA
augmentation drawn independently per sample (one op per batch) during training, one test on the whole real test
set at the end. Reported: mean and standard deviation of the test accuracy over the K networks, as fractions.

Two deliberate differences, both documented in the evaluation guide (docs/guides/evaluation.md): training runs
``epochs`` epochs (the reference runs ``epochs + 1``), and with ``precision="auto"`` forward and backward passes
run under bf16 autocast on hardware that computes bf16 natively (weights and optimizer state stay fp32).
``benchmarks/`` records the accuracy of both precisions on the same sets.

>>> cfg = EvalConfig(epochs=300, models=2)
>>> cfg.arch, cfg.lr
('convnet', 0.01)
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from condensed_data.artifact.manifest import Evaluation, Recipe
from condensed_data.condense.augment import DSA
from condensed_data.data import RealSource
from condensed_data.nn import get_network, resolve_network
from condensed_data.nn.chunks import backward_pass_size, pass_size, per_sample
from condensed_data.runtime import PRECISIONS, autocast, precision_dtype
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["EvalConfig", "train_network", "test_accuracy", "evaluate", "evaluate_random_real"]

logger = logging.getLogger(__name__)
Normalization = tuple[Sequence[float], Sequence[float]]


def _mean_std(normalization: Normalization | Recipe | None, test: RealSource) -> Normalization:
    """``(mean, std)`` from a recipe or a pair; the test set's own statistics when ``None``."""
    if isinstance(normalization, Recipe):
        return normalization.mean, normalization.std
    return normalization or (test.mean, test.std)


@dataclass(frozen=True)
class EvalConfig:
    """Options of the evaluation protocol (defaults: the reference protocol).

    Attributes:
        arch: Network trained on the set. A ConvNet name without a depth (``convnet``) takes the depth of the
            image size (3 up to 32 pixels, 4 at 64, 5 at 128) and is recorded resolved (``convnet-d4``):
            :meth:`for_images`.
        epochs: Training epochs (the reference uses 1000 with augmentation).
        models: Number of freshly initialized networks (K); the report is mean and std over them.
        batch_size: Training batch size.
        lr: Initial SGD learning rate; multiplied by 0.1 at ``epochs // 2``.
        momentum: SGD momentum.
        weight_decay: SGD weight decay.
        augmentation: DSA strategy used while training, or ``"none"``.
        precision: ``"auto"`` (bf16 autocast where native, else fp32), ``"fp32"`` or ``"bf16"``.
        test_batch_size: Batch size for testing (does not change results).
    """

    arch: str = "convnet"
    epochs: int = 1000
    models: int = 3
    batch_size: int = 256
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    augmentation: str = "color_crop_cutout_flip_scale_rotate"
    precision: str = "auto"
    test_batch_size: int = 1000

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.models < 1 or self.batch_size < 1 or self.test_batch_size < 1:
            raise ValueError("epochs, models, batch_size and test_batch_size must all be >= 1")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {self.precision!r}")

    def for_images(self, image_size: Sequence[int]) -> EvalConfig:
        """This config with ``arch`` resolved for ``(height, width)`` images (``(C, H, W)`` also accepted), the
        name runs record (:func:`~condensed_data.nn.resolve_network`); itself up to 32 pixels.

        >>> EvalConfig().for_images((64, 64)).arch, EvalConfig().for_images((3, 32, 32)).arch
        ('convnet-d4', 'convnet')
        """
        arch = resolve_network(self.arch, tuple(image_size)[-2:])
        return self if arch == self.arch else dataclasses.replace(self, arch=arch)

    def protocol(self, device: torch.device | str = "cpu") -> dict:
        """The protocol as recorded in manifests and benchmark results (precision resolved)."""
        record = dataclasses.asdict(self)
        record.pop("test_batch_size")
        record.pop("models")
        record["precision"] = "bf16" if precision_dtype(self.precision, device) is not None else "fp32"
        record["lr_schedule"] = "x0.1 at epochs // 2"
        return record


def _check_set(images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
    if images.dim() != 4 or images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise ValueError(
            f"expected images (N, C, H, W) and N labels with N > 0, got {list(images.shape)} and {list(labels.shape)}"
        )
    if labels.dim() == 1:
        if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
            raise ValueError(
                f"labels must lie in [0, {num_classes - 1}], found {int(labels.min())}..{int(labels.max())}"
            )
    elif labels.dim() != 2 or labels.shape[1] != num_classes:
        raise ValueError(f"soft labels must have shape (N, {num_classes}), got {list(labels.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or inf; they cannot be evaluated")


def train_network(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_classes: int,
    mean: Sequence[float],
    std: Sequence[float],
    config: EvalConfig,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "train",
    lr_decay: bool = True,
) -> torch.nn.Module:
    """Train one freshly initialized ``config.arch`` network on pixel-space ``images`` and return it.

    Labels are class indices ``(N,)`` or probability vectors ``(N, K)``. ``lr_decay=False`` keeps the learning rate
    at ``config.lr`` throughout (no x0.1 at half of training): what a network a few epochs into a longer training
    sees, as in the trained feature pools of :mod:`condensed_data.condense.pretrained`.
    """
    device = torch.device(device)
    _check_set(images, labels, num_classes)
    c, h, w = images.shape[1:]
    mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
    x_all = ((images.to(device, torch.float32) - mean_t) / std_t).contiguous()
    y_all = labels.to(device)
    net = get_network(
        config.arch, channels=c, num_classes=num_classes, image_size=(h, w), generator=generator, device=device
    )
    net.train()
    dsa = None if config.augmentation == "none" else DSA(config.augmentation)
    optimizer = torch.optim.SGD(
        net.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    n = x_all.shape[0]
    chunk = backward_pass_size(x_all.shape, min(n, config.batch_size))
    split = chunk < min(n, config.batch_size) and per_sample(net)
    decay_at = config.epochs // 2 if lr_decay else None
    for epoch in tqdm(range(config.epochs), desc=desc, disable=not progress, leave=False, mininterval=1.0):
        if epoch == decay_at:
            for group in optimizer.param_groups:
                group["lr"] = config.lr * 0.1
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, config.batch_size):
            idx = order[start : start + config.batch_size]
            x, y = x_all[idx], y_all[idx]
            if dsa is not None:
                x = dsa(x, generator=generator)
            optimizer.zero_grad(set_to_none=True)
            # Large images: the batch's gradient summed over passes of bounded size (condensed_data.nn.chunks).
            parts = x.split(chunk) if split else (x,)
            for x_part, y_part in zip(parts, y.split(chunk) if split else (y,), strict=True):
                with autocast(config.precision, device):
                    logits = net(x_part)
                loss = F.cross_entropy(logits.float(), y_part)
                (loss * (len(x_part) / len(x)) if split else loss).backward()
            optimizer.step()
        if epoch == 0 and not math.isfinite(float(loss.detach())):
            raise FloatingPointError(
                f"training loss is {float(loss.detach())} in the first epoch; check the set's values"
            )
    return net


@torch.inference_mode()
def test_accuracy(
    net: torch.nn.Module,
    test: RealSource,
    *,
    config: EvalConfig,
    device: torch.device | str = "cpu",
    normalization: Normalization | Recipe | None = None,
) -> float:
    """Fraction of ``test`` classified correctly by ``net``; images normalized with ``normalization`` (a recipe, or
    ``(mean, std)``), by default ``(test.mean, test.std)``."""
    device = torch.device(device)
    mean, std = _mean_std(normalization, test)
    mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
    net.eval()
    correct = 0
    total = 0
    # Images above 32 x 32 are tested in passes of bounded pixels (condensed_data.nn.chunks); results do not change.
    bounded = pass_size(test.image_shape)
    for images, labels in test.batches(config.test_batch_size if bounded >= 512 else bounded):
        x = (images.to(device) - mean_t) / std_t
        y = labels.to(device)
        total += len(y)
        with autocast(config.precision, device):
            logits = net(x)
        correct += int((logits.argmax(dim=1) == y).sum())
    return correct / total


def _run(
    make_set: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    test: RealSource,
    *,
    config: EvalConfig,
    archs: Sequence[str] | None,
    seed: int,
    device: torch.device | str,
    progress: bool,
    subject: str,
    normalization: Normalization | Recipe | None,
) -> list[Evaluation]:
    """Train ``config.models`` networks per architecture on ``make_set(model_index)`` and summarize; the result's
    ``labels`` is ``"soft"`` when the set's labels are probability rows."""
    normalization = _mean_std(normalization, test)
    results = []
    for name in archs or [config.arch]:
        cfg = dataclasses.replace(config, arch=name).for_images(test.image_shape)
        arch = cfg.arch
        accuracies, kinds = [], set()
        for m in range(cfg.models):
            images, labels = make_set(m)
            kinds.add("soft" if labels.dim() == 2 else "hard")
            gen = make_generator(derive_seed(seed, "evaluate", subject, arch, m))
            net = train_network(
                images,
                labels,
                num_classes=test.num_classes,
                mean=normalization[0],
                std=normalization[1],
                config=cfg,
                generator=gen,
                device=device,
                progress=progress,
                desc=f"eval {subject} {arch} {m + 1}/{cfg.models}",
            )
            accuracies.append(test_accuracy(net, test, config=cfg, device=device, normalization=normalization))
            logger.info("%s on %s, model %d: test accuracy %.4f", subject, arch, m, accuracies[-1])
        acc = torch.tensor(accuracies, dtype=torch.float64)
        results.append(
            Evaluation(
                arch=arch,
                test_set=f"{test.name}/{test.split}",
                models=cfg.models,
                accuracy_mean=float(acc.mean()),
                accuracy_std=float(acc.std(unbiased=False)),
                accuracies=tuple(accuracies),
                protocol=cfg.protocol(device),
                subject=subject,
                labels=kinds.pop(),
            )
        )
    return results


def evaluate(
    images: torch.Tensor,
    labels: torch.Tensor,
    test: RealSource,
    *,
    config: EvalConfig = EvalConfig(),
    archs: Sequence[str] | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = False,
    normalization: Normalization | Recipe | None = None,
) -> list[Evaluation]:
    """Train ``config.models`` networks per architecture on a pixel-space set and test them on ``test``.

    The set and the test images are normalized with ``normalization``: pass the set's :class:`Recipe` (what it was
    condensed under; or its ``(mean, std)``); the default is ``(test.mean, test.std)``. Each network's initialization, batch order and augmentation come from a seed derived from
    ``(seed, subject, arch, model index)``, so results are reproducible and independent of evaluation order.

    >>> from condensed_data.data import load_dataset
    >>> train, test = load_dataset("digits", "train"), load_dataset("digits", "test")  # doctest: +SKIP
    >>> sub = train.subset_per_class(1, generator=torch.Generator().manual_seed(0))  # doctest: +SKIP
    >>> evaluate(sub.images, sub.labels, test, config=EvalConfig(epochs=50, models=1))[0].models  # doctest: +SKIP
    1
    """
    return _run(
        lambda m: (images, labels),
        test,
        config=config,
        archs=archs,
        seed=seed,
        device=device,
        progress=progress,
        subject="condensed",
        normalization=normalization,
    )


def evaluate_random_real(
    train: RealSource,
    test: RealSource,
    *,
    ipc: int,
    config: EvalConfig = EvalConfig(),
    archs: Sequence[str] | None = None,
    seed: int = 0,
    draw_seed: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = False,
    normalization: Normalization | Recipe | None = None,
    labeller: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> list[Evaluation]:
    """The random-real baseline: ``ipc`` random real training images per class, evaluated the same way.

    Every model gets its own random subset (drawn from a seed derived from ``(draw_seed, ipc, model index)``;
    ``draw_seed`` defaults to ``seed``), so the reported std includes the variance of the subset choice, as for the
    published "Random" rows. The networks come from ``seed`` as in :func:`evaluate`: a condensation run passes its
    own seed as ``draw_seed`` and a fixed evaluation seed as ``seed``, so the baseline varies with the run's seed
    as a condensed set does. ``labeller`` labels the subset's pixel-space images instead of their classes (e.g. a
    teacher's soft labels, so the baseline of a soft-label set is trained the same way: see
    :mod:`condensed_data.condense.soft_labels`); the subsets drawn do not depend on it.
    """
    draw_seed = seed if draw_seed is None else draw_seed

    def make_set(m: int) -> tuple[torch.Tensor, torch.Tensor]:
        subset = train.subset_per_class(ipc, generator=make_generator(derive_seed(draw_seed, "random-real", ipc, m)))
        return subset.images, (subset.labels if labeller is None else labeller(subset.images))

    return _run(
        make_set,
        test,
        config=config,
        archs=archs,
        seed=seed,
        device=device,
        progress=progress,
        subject="random-real",
        normalization=normalization,
    )
