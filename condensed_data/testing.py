"""The plugin contract test: run it on your method class to check it works with condensed-data's driver.

>>> from condensed_data.condense.registry import get_method
>>> check_method(get_method("dm"))  # raises AssertionError naming the broken rule; returns None when all hold

In a plugin's test suite::

    from condensed_data.testing import check_method
    from my_plugin import MyMethod

    def test_contract():
        check_method(MyMethod)
"""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from pathlib import Path

import torch

from condensed_data.artifact.folder import save_artifact
from condensed_data.condense.method import Method, MethodConfig
from condensed_data.data import RealDataset
from condensed_data.seeding import make_generator

__all__ = ["check_method", "tiny_real_dataset"]


def tiny_real_dataset(
    *, classes: int = 3, per_class: int = 12, shape: tuple[int, int, int] = (1, 8, 8), seed: int = 0
) -> RealDataset:
    """A small real dataset whose classes differ in mean brightness (fast to condense, easy to separate)."""
    g = make_generator(seed)
    images = torch.rand((classes * per_class, *shape), generator=g) * 0.5
    labels = torch.arange(classes).repeat_interleave(per_class)
    images += (labels.float() / max(classes - 1, 1) * 0.5).view(-1, 1, 1, 1)
    return RealDataset(images, labels, classes=[f"class{i}" for i in range(classes)], name="tiny", split="train")


def _build(cls: type[Method], real: RealDataset, ipc: int, seed: int, options: dict) -> Method:
    config = cls.config_class.from_dict(options)
    return cls(real, ipc=ipc, config=config, generator=make_generator(seed))


def check_method(
    cls: type, *, real: RealDataset | None = None, ipc: int = 2, seed: int = 0, options: dict | None = None
) -> None:
    """Assert that ``cls`` honours the method contract (:class:`condensed_data.condense.method.Method`).

    Checks: class attributes; the config round-trips through JSON; the loss is a finite scalar whose gradient
    reaches the parameters; an optimizer step changes them; ``synthetic()`` has the right shapes, labels and
    device; the same seed gives the same loss; ``state_dict`` restores the set; ``export`` writes an artifact
    that loads back (for kind ``tensors``, into the same images); for ``sharding = "classes"``, the losses of two
    class shards add up to the full loss and each shard's gradient is the full gradient on its own classes' rows
    (what makes a multi-process run equal to a single-process one).

    Args:
        cls: The method class.
        real: Real data to run on (default: :func:`tiny_real_dataset`).
        ipc: Images per class to condense into.
        seed: Seed of the generators used.
        options: Method options for the check (e.g. a smaller ``batch_real``).
    """
    options = dict(options or {})
    assert isinstance(cls, type) and issubclass(cls, Method), (
        f"{cls!r} must subclass condensed_data.condense.method.Method"
    )
    assert isinstance(getattr(cls, "name", None), str) and re.fullmatch(r"[a-z0-9][a-z0-9_-]*", cls.name), (
        f"{cls.__name__}.name must be a lower-case identifier like 'dm', got {getattr(cls, 'name', None)!r}"
    )
    assert issubclass(cls.config_class, MethodConfig) and dataclasses.is_dataclass(cls.config_class), (
        f"{cls.__name__}.config_class must be a dataclass subclassing MethodConfig"
    )
    default = cls.config_class()
    text = json.dumps(default.to_dict())
    assert cls.config_class.from_dict(json.loads(text)) == default, "config does not round-trip through JSON"
    assert isinstance(cls.default_iterations, int) and cls.default_iterations > 0, "default_iterations must be > 0"
    assert getattr(cls, "sharding", None) in ("none", "classes", "data"), (
        f"{cls.__name__}.sharding must be 'none', 'classes' or 'data', got {getattr(cls, 'sharding', None)!r}"
    )

    real = real if real is not None else tiny_real_dataset()
    k = real.num_classes
    method = _build(cls, real, ipc, seed, options)
    params = method.parameters()
    assert params and all(p.requires_grad and p.is_leaf for p in params), (
        "parameters() must return leaf tensors requiring grad"
    )

    loss = method.loss(iteration=0, generator=make_generator(seed + 1))
    assert loss.dim() == 0 and torch.isfinite(loss), f"loss must be a finite scalar, got {loss}"
    again = _build(cls, real, ipc, seed, options).loss(iteration=0, generator=make_generator(seed + 1))
    assert torch.allclose(loss, again), (
        f"same seeds gave different losses ({float(loss)} vs {float(again)}): hidden randomness?"
    )

    optimizer = method.make_optimizer()
    optimizer.zero_grad()
    loss.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), (
        "the loss's gradient reaches no parameter"
    )
    before = [p.detach().clone() for p in params]
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, params, strict=True)), (
        "an optimizer step changed no parameter"
    )

    images, labels = method.synthetic()
    assert images.device.type == "cpu" and not images.requires_grad, "synthetic() must return detached CPU tensors"
    assert images.dim() == 4 and tuple(images.shape[1:]) == tuple(real.image_shape), (
        f"synthetic images must be (N, {', '.join(map(str, real.image_shape))}), got {list(images.shape)}"
    )
    assert labels.shape[0] == images.shape[0], "one label per synthetic image"
    if method.kind == "tensors":
        assert images.shape[0] == k * ipc, f"expected {k * ipc} images ({ipc} per class), got {images.shape[0]}"
        hard = labels if labels.dim() == 1 else labels.argmax(1)
        assert torch.bincount(hard, minlength=k).tolist() == [ipc] * k, "each class must have ipc images"

    if cls.sharding == "classes" and k >= 2:
        _check_class_shards(cls, real, ipc, seed, options)

    restored = _build(cls, real, ipc, seed + 7, options)
    restored.load_state_dict(method.state_dict())
    assert torch.allclose(restored.synthetic()[0], images), "load_state_dict(state_dict()) does not restore the set"

    with tempfile.TemporaryDirectory() as tmp:
        from condensed_data.artifact.manifest import Manifest, MethodSpec, Recipe, SourceInfo
        from condensed_data.dataset.condensed import CondensedDataset

        manifest = Manifest(
            kind=method.kind,
            method=MethodSpec(name=cls.name, config=method.config.to_dict()),
            source=SourceInfo(name=real.name, split=real.split, num_samples=len(real), fingerprint=real.fingerprint()),
            classes=tuple(real.classes),
            images_per_class=ipc,
            image_shape=tuple(real.image_shape),
            recipe=Recipe(mean=tuple(real.mean), std=tuple(real.std)),
            seed=seed,
        )
        folder = Path(tmp) / "artifact"
        save_artifact(folder, manifest, method.export)
        loaded = CondensedDataset(folder)
        assert len(loaded) >= 1, "the exported artifact holds no items"
        if method.kind == "tensors":
            assert torch.allclose(loaded.tensors()[0], images), "the exported images differ from synthetic()"


def _check_class_shards(cls: type[Method], real: RealDataset, ipc: int, seed: int, options: dict) -> None:
    """Two class shards: losses add up to the full loss, gradients match the full one on each shard's rows."""
    k = real.num_classes
    full = _build(cls, real, ipc, seed, options)
    full_loss = full.loss(iteration=0, generator=make_generator(seed + 1))
    full_value = float(full_loss.detach())
    full_loss.backward()
    total = 0.0
    for index in range(2):
        part = _build(cls, real, ipc, seed, options)
        part.shard(index, 2)
        own = part.shard_classes
        part_loss = part.loss(iteration=0, generator=make_generator(seed + 1))
        part_loss.backward()
        total += float(part_loss.detach())
        for p, q in zip(part.parameters(), full.parameters(), strict=True):
            assert p.shape[0] % k == 0, (
                f"sharding='classes' needs class-major parameters (shape[0] a multiple of {k} classes), got {list(p.shape)}"
            )
            rows = p.shape[0] // k
            mine = slice(own.start * rows, own.stop * rows)
            grad = torch.zeros_like(p) if p.grad is None else p.grad
            expected = torch.zeros_like(q) if q.grad is None else q.grad
            assert torch.allclose(grad[mine], expected[mine], rtol=1e-4, atol=1e-6), (
                f"shard {index} (classes {own.start}..{own.stop - 1}): its gradient differs from the full loss's on its "
                "rows: with sharding='classes' each class's loss must depend only on its own rows"
            )
            outside = torch.ones(p.shape[0], dtype=torch.bool)
            outside[mine] = False
            assert not grad[outside].any(), f"shard {index}'s loss has a gradient on rows of classes it does not own"
    assert abs(total - full_value) <= 1e-4 * max(1.0, abs(full_value)), (
        f"the shards' losses add up to {total}, the full loss is {full_value}: with sharding='classes' the loss "
        "must be a sum of per-class terms (declare sharding='none' or 'data' otherwise)"
    )
