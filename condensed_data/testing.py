"""The plugin contract tests: run them on your method or objective class to check it works with condensed-data.

:func:`check_method` checks a method against what the driver calls; :func:`check_objective` checks an objective
against what the matching loop calls. Each raises ``AssertionError`` naming the broken rule and returns ``None``
when all hold.

>>> from condensed_data.condense.registry import get_method, get_objective
>>> check_method(get_method("dm"))
>>> check_objective(get_objective("echo"))

In a plugin's test suite::

    from condensed_data.testing import check_method, check_objective
    from my_plugin import MyMethod, MyObjective

    def test_contract():
        check_method(MyMethod)
        check_objective(MyObjective)
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
from condensed_data.condense.objectives import Objective
from condensed_data.data import RealDataset
from condensed_data.nn import get_network
from condensed_data.seeding import make_generator

__all__ = ["check_method", "check_objective", "tiny_real_dataset"]

_NAME_RE = r"[a-z0-9][a-z0-9_-]*"


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
    assert isinstance(getattr(cls, "name", None), str) and re.fullmatch(_NAME_RE, cls.name), (
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
        per_class = ipc * (method.decode.factor**2 if method.decode else 1)  # multi-formation: items per class
        assert images.shape[0] == k * per_class, (
            f"expected {k * per_class} images ({per_class} per class), got {images.shape[0]}"
        )
        hard = labels if labels.dim() == 1 else labels.argmax(1)
        assert torch.bincount(hard, minlength=k).tolist() == [per_class] * k, f"each class must have {per_class} images"

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
            decode=method.decode,
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


def check_objective(
    cls: type,
    *,
    options: dict | None = None,
    identical_is_zero: bool = True,
    arch: str = "convnet",
    image_shape: tuple[int, int, int] = (3, 8, 8),
    classes: int = 3,
    seed: int = 0,
) -> None:
    """Assert that ``cls`` honours the objective contract (:class:`condensed_data.condense.objectives.Objective`).

    Checks: ``cls`` subclasses ``Objective`` and has a registrable ``name``; its options round-trip through
    ``to_dict()`` and JSON; ``features(net, images)`` returns a non-empty tuple of per-sample tensors (first dimension
    ``N``; a batch's features are its halves' features concatenated, since real batches are passed in chunks);
    ``compare`` on per-class features ``(K, B, ...)`` / ``(K, M, ...)`` returns a finite scalar, the same one twice,
    whose gradient reaches the synthetic features and, through ``features``, the synthetic images; and, unless
    ``identical_is_zero`` is false, ``compare(x, x)`` is zero (to rounding) for identical real and synthetic features.

    Args:
        cls: The objective class.
        options: Options to build it with (its defaults otherwise).
        identical_is_zero: Whether identical real and synthetic features give a zero loss (true of distances and
            divergences; pass ``False`` for an objective with a regularizer of its own).
        arch: The random network the features are taken under (see :func:`condensed_data.nn.list_networks`).
        image_shape: ``(C, H, W)`` of the random images.
        classes: Number of classes ``K``.
        seed: Seed of the network and the images.

    Example:
        >>> from condensed_data.condense.objectives import MeanEmbedding
        >>> check_objective(MeanEmbedding)
    """
    assert isinstance(cls, type) and issubclass(cls, Objective), (
        f"{cls!r} must subclass condensed_data.condense.objectives.Objective"
    )
    assert isinstance(getattr(cls, "name", None), str) and re.fullmatch(_NAME_RE, cls.name), (
        f"{cls.__name__}.name must be a lower-case identifier like 'dm' (a ClassVar[str]), "
        f"got {getattr(cls, 'name', None)!r}"
    )
    objective = cls(**dict(options or {}))
    try:
        text = json.dumps(objective.to_dict())
    except TypeError as exc:
        raise AssertionError(f"{cls.__name__}.to_dict() must be JSON-ready ({exc})") from None
    assert cls(**json.loads(text)) == objective, (
        f"{cls.__name__}'s options do not round-trip: {cls.__name__}(**to_dict()) after JSON differs from the original"
    )

    c, h, w = image_shape
    net = get_network(arch, channels=c, num_classes=classes, image_size=(h, w), generator=make_generator(seed))
    net.requires_grad_(False)  # frozen, as in the matching loop
    g = make_generator(seed + 1)
    per_real, per_syn = 4, 2
    real = torch.randn((classes * per_real, *image_shape), generator=g)
    syn = torch.randn((classes * per_syn, *image_shape), generator=g).requires_grad_()

    with torch.no_grad():
        feat_real = objective.features(net, real)
        halves = [objective.features(net, part) for part in real.split(len(real) // 2)]
    _check_features(cls, feat_real, len(real))
    for i, (whole, *parts) in enumerate(zip(feat_real, *halves, strict=True)):
        assert torch.allclose(torch.cat(parts), whole, rtol=1e-4, atol=1e-5), (
            f"{cls.__name__}.features() is not per-sample: feature {i} of a batch differs from its two halves' "
            "concatenated (the matching loop passes real batches in chunks)"
        )
    feat_syn = objective.features(net, syn)
    _check_features(cls, feat_syn, len(syn))
    real_pc = tuple(f.unflatten(0, (classes, -1)) for f in feat_real)
    syn_pc = tuple(f.unflatten(0, (classes, -1)) for f in feat_syn)

    loss = objective.compare(real_pc, syn_pc)
    assert torch.is_tensor(loss) and loss.dim() == 0, (
        f"{cls.__name__}.compare() must return a scalar tensor, got {loss.shape if torch.is_tensor(loss) else loss!r}"
    )
    assert torch.isfinite(loss), f"{cls.__name__}.compare() returned {float(loss.detach())}"
    again = objective.compare(real_pc, syn_pc)
    assert torch.allclose(loss, again), (
        f"{cls.__name__}.compare() gave {float(loss.detach())} then {float(again.detach())} on the same features: "
        "hidden randomness?"
    )
    leaves = tuple(f.detach().requires_grad_() for f in syn_pc)
    on_leaves = objective.compare(real_pc, leaves)
    if on_leaves.requires_grad:
        on_leaves.backward()
    assert any(f.grad is not None and f.grad.abs().sum() > 0 for f in leaves), (
        f"the gradient of {cls.__name__}.compare() does not reach the synthetic features (a detach, or .item()?)"
    )
    if loss.requires_grad:
        loss.backward()
    assert syn.grad is not None and syn.grad.abs().sum() > 0, (
        f"the gradient of {cls.__name__}.compare() does not reach the synthetic images through features() "
        "(features must stay differentiable: no torch.no_grad or detach for synthetic images)"
    )
    if identical_is_zero:
        same = float(objective.compare(real_pc, tuple(f.clone() for f in real_pc)).detach())
        assert abs(same) <= 1e-4 * max(abs(float(loss.detach())), 1.0), (
            f"{cls.__name__}.compare(x, x) is {same} for identical real and synthetic features, expected 0; "
            "pass identical_is_zero=False if that is intended"
        )


def _check_features(cls: type, features: object, n: int) -> None:
    assert isinstance(features, tuple) and features and all(torch.is_tensor(f) for f in features), (
        f"{cls.__name__}.features() must return a non-empty tuple of tensors, got {type(features).__name__}"
    )
    shapes = [list(f.shape) for f in features]
    assert all(f.dim() >= 1 and f.shape[0] == n for f in features), (
        f"{cls.__name__}.features() must return per-sample tensors (N, ...) with N = {n} images, got shapes {shapes}"
    )
