"""Tests for condensed_data.condense.augment: each DSA op against hand computations, Siamese sharing, randomness, gradients."""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
import torch

from condensed_data.condense.augment import DEFAULT_STRATEGY, DSA, OPS, DSADraw, DSAParams

pytestmark = pytest.mark.usefixtures("single_thread")


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_group(draw: DSADraw, g: int) -> DSADraw:
    """Group ``g`` of ``draw`` as a one-group draw."""
    tensors = {f.name: getattr(draw, f.name)[g : g + 1] for f in fields(draw) if f.name != "image_size"}
    return DSADraw(image_size=draw.image_size, **tensors)


def apply_fixed(x: torch.Tensor, op: str, **values: object) -> torch.Tensor:
    return DSA().apply(x, DSADraw.fixed(op, image_size=tuple(x.shape[-2:]), **values))


# --- parameters and strategy ---------------------------------------------------------------------------------------


def test_params_default_to_the_reference_values() -> None:
    p = DSAParams()
    assert (p.prob_flip, p.ratio_scale, p.ratio_rotate, p.ratio_crop_pad) == (0.5, 1.2, 15.0, 0.125)
    assert (p.ratio_cutout, p.brightness, p.saturation, p.contrast) == (0.5, 1.0, 2.0, 0.5)


@pytest.mark.parametrize(
    "bad", [{"prob_flip": 1.5}, {"ratio_scale": 0.5}, {"brightness": -1.0}, {"contrast": math.nan},
            {"ratio_cutout": 2.0}, {"ratio_rotate": 200.0}, {"saturation": "2"}],
)  # fmt: skip
def test_params_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        DSAParams(**bad)  # type: ignore[arg-type]


def test_strategy_is_parsed_and_unknown_ops_are_rejected() -> None:
    assert DSA().strategy == DEFAULT_STRATEGY
    assert DSA().ops == ("color", "crop", "cutout", "flip", "scale", "rotate")
    assert DSA("crop_flip").ops == ("crop", "flip")
    with pytest.raises(ValueError, match="color, crop, cutout, flip, scale, rotate") as err:
        DSA("crop_blur")
    assert "blur" in str(err.value)
    with pytest.raises(ValueError, match="valid ops"):
        DSA("")


# --- each op against a hand computation ----------------------------------------------------------------------------


def test_flip_reverses_columns() -> None:
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    assert torch.equal(apply_fixed(x, "flip", flip=True), x[..., [4, 3, 2, 1, 0]])
    assert torch.equal(apply_fixed(x, "flip", flip=False), x)


def test_brightness_adds_the_drawn_shift() -> None:
    x = torch.rand(2, 3, 4, 4)
    torch.testing.assert_close(apply_fixed(x, "color", brightness=0.3), x + 0.3)


def test_contrast_scales_deviations_from_the_image_mean() -> None:
    x = torch.rand(2, 3, 4, 4)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(apply_fixed(x, "color", contrast=2.0), (x - mean) * 2.0 + mean)


def test_saturation_zero_makes_every_channel_the_channel_mean() -> None:
    x = torch.rand(2, 3, 4, 4)
    out = apply_fixed(x, "color", saturation=0.0)
    torch.testing.assert_close(out, x.mean(dim=1, keepdim=True).expand_as(x))


@pytest.mark.parametrize("channels", [1, 3])
def test_color_matches_the_sequential_reference_formula(channels: int) -> None:
    x = torch.rand(5, channels, 6, 7, generator=gen(1), dtype=torch.float64)
    d = DSA("color").draw(5, image_size=(6, 7), generator=gen(2))
    b, s, c = (t.double().view(-1, 1, 1, 1) for t in (d.brightness, d.saturation, d.contrast))
    y = x + b  # brightness
    y = (y - y.mean(dim=1, keepdim=True)) * s + y.mean(dim=1, keepdim=True)  # saturation
    y = (y - y.mean(dim=(1, 2, 3), keepdim=True)) * c + y.mean(dim=(1, 2, 3), keepdim=True)  # contrast
    torch.testing.assert_close(DSA().apply(x, d), y)


def test_crop_translates_by_the_drawn_integer_shift_with_zero_fill() -> None:
    x = torch.arange(1, 1 + 2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6)
    dy, dx = 1, -2
    expected = torch.zeros_like(x)
    for i in range(5):
        for j in range(6):
            if 0 <= i + dy < 5 and 0 <= j + dx < 6:
                expected[..., i, j] = x[..., i + dy, j + dx]
    assert torch.equal(apply_fixed(x, "crop", crop=(dy, dx)), expected)
    assert torch.equal(apply_fixed(x, "crop", crop=(0, 0)), x)


def test_cutout_zeroes_exactly_the_box() -> None:
    x = torch.ones(2, 3, 6, 7)
    out = apply_fixed(x, "cutout", cutout=(1, 2, 4, 5))
    expected = torch.ones_like(x)
    expected[..., 1:4, 2:5] = 0
    assert torch.equal(out, expected)
    # A box reaching past the border is clipped.
    clipped = apply_fixed(x, "cutout", cutout=(-2, 5, 2, 9))
    expected = torch.ones_like(x)
    expected[..., 0:2, 5:7] = 0
    assert torch.equal(clipped, expected)


@pytest.mark.parametrize("size, side", [(8, 4), (28, 14), (32, 16)])
def test_drawn_cutout_is_a_square_of_side_half_the_image(size: int, side: int) -> None:
    dsa = DSA("cutout")
    d = dsa.draw(200, image_size=(size, size), generator=gen())
    box = d.cutout
    assert torch.equal(box[:, 2] - box[:, 0], torch.full((200,), side))
    assert torch.equal(box[:, 3] - box[:, 1], torch.full((200,), side))
    out = dsa.apply(torch.ones(200, 1, size, size), d)
    for k in range(200):
        top, left, bottom, right = box[k].tolist()
        zeros = (out[k, 0] == 0).nonzero()
        rows, cols = range(max(top, 0), min(bottom, size)), range(max(left, 0), min(right, size))
        assert len(zeros) == len(rows) * len(cols)
        assert set(zeros[:, 0].tolist()) == set(rows) and set(zeros[:, 1].tolist()) == set(cols)
    inside = (box[:, 0] >= 0) & (box[:, 1] >= 0) & (box[:, 2] <= size) & (box[:, 3] <= size)
    assert inside.any()
    assert torch.all((out[inside] == 0).sum(dim=(1, 2, 3)) == side * side)


def test_unit_scale_and_zero_rotation_are_the_identity() -> None:
    x = torch.rand(3, 2, 7, 9)
    torch.testing.assert_close(apply_fixed(x, "scale", scale=(1.0, 1.0)), x, atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_fixed(x, "rotate", rotate=0.0), x, atol=1e-5, rtol=0)


def test_scale_axes_and_rotation_direction() -> None:
    x = torch.rand(2, 1, 6, 6)
    # sx acts on columns, sy on rows; -1 maps pixel centres onto pixel centres (align_corners=False).
    torch.testing.assert_close(apply_fixed(x, "scale", scale=(-1.0, 1.0)), x.flip(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_fixed(x, "scale", scale=(1.0, -1.0)), x.flip(2), atol=1e-5, rtol=0)
    # theta = [[cos, -sin], [sin, cos]] at 90 degrees: out[i, j] = x[j, W - 1 - i].
    rotated = apply_fixed(x, "rotate", rotate=math.pi / 2)
    torch.testing.assert_close(rotated, torch.rot90(x, 1, dims=(2, 3)), atol=1e-5, rtol=0)


def test_scale_two_shrinks_the_image_into_the_centre() -> None:
    # theta scale 2 samples twice as far out: the image shrinks to the central half, zeros around it.
    x = torch.ones(1, 1, 8, 8)
    out = apply_fixed(x, "scale", scale=(2.0, 2.0))
    assert torch.all(out[..., :2, :] == 0) and torch.all(out[..., :, -2:] == 0)
    torch.testing.assert_close(out[..., 3:5, 3:5], torch.ones(1, 1, 2, 2))


# --- drawing --------------------------------------------------------------------------------------------------------


def test_drawn_parameters_lie_in_the_reference_ranges() -> None:
    d = DSA().draw(6000, image_size=(32, 32), generator=gen())
    assert len(d) == 6000
    counts = torch.bincount(d.op, minlength=len(OPS))
    assert torch.all((counts > 850) & (counts < 1150)), counts  # uniform over the 6 ops
    assert d.brightness.min() >= -0.5 and d.brightness.max() < 0.5
    assert d.saturation.min() >= 0 and d.saturation.max() < 2
    assert d.contrast.min() >= 0.5 and d.contrast.max() < 1.5
    assert set(d.crop.flatten().tolist()) == set(range(-4, 5))
    assert d.scale.min() >= 1 / 1.2 and d.scale.max() < 1.2
    assert d.rotate.abs().max() <= math.radians(15)
    assert 0.45 < d.flip.float().mean() < 0.55
    # The cutout centre lies in [0, 32]: the box starts in [-8, 24].
    assert d.cutout[:, 0].min() == -8 and d.cutout[:, 0].max() == 24


def test_strategy_restricts_the_ops_and_same_op_shares_one() -> None:
    d = DSA("crop_flip").draw(100, image_size=(8, 8), generator=gen())
    assert set(d.op_names) == {"crop", "flip"}
    shared = DSA().draw(50, image_size=(8, 8), generator=gen(), same_op=True)
    assert len(set(shared.op_names)) == 1
    assert shared.brightness.unique().numel() == 50  # parameters stay per group


def test_draws_are_determined_by_the_generator_and_leave_the_global_rng_alone() -> None:
    dsa = DSA()
    state = torch.random.get_rng_state()
    a = dsa.draw(20, image_size=(8, 8), generator=gen(5))
    b = dsa.draw(20, image_size=(8, 8), generator=gen(5))
    c = dsa.draw(20, image_size=(8, 8), generator=gen(6))
    x = torch.rand(20, 3, 8, 8, generator=gen(7))
    out1 = dsa(x, generator=gen(8))
    out2 = dsa(x, generator=gen(8))
    dsa.apply(x, a)
    assert torch.equal(torch.random.get_rng_state(), state)
    for f in fields(DSADraw):
        if f.name != "image_size":
            assert torch.equal(getattr(a, f.name), getattr(b, f.name)), f.name
    assert not torch.equal(a.brightness, c.brightness)
    assert torch.equal(out1, out2)


# --- Siamese application ---------------------------------------------------------------------------------------------


def test_one_group_is_shared_by_the_whole_batch_and_by_both_batches() -> None:
    dsa = DSA()
    for seed in range(12):  # covers every op
        d = dsa.draw(1, image_size=(8, 8), generator=gen(seed))
        x = torch.rand(4, 3, 8, 8, generator=gen(100 + seed))
        assert torch.equal(dsa.apply(x, d), dsa.apply(x.clone(), d))
        same = x[:1].expand(4, -1, -1, -1)
        out = dsa.apply(same, d)
        assert torch.equal(out, out[:1].expand_as(out)), d.op_names


def test_real_and_synthetic_images_of_a_class_get_the_same_transform() -> None:
    dsa, k, per_class = DSA(), 12, 3
    d = dsa.draw(k, image_size=(8, 8), generator=gen(3))
    assert len(set(d.op_names)) >= 4  # the mixed-op path is exercised
    real = torch.rand(k * per_class, 3, 8, 8, generator=gen(4))
    real_groups = torch.arange(k).repeat_interleave(per_class)
    syn = real[::per_class].clone()  # one synthetic image per class, equal to that class's first real image
    out_real = dsa.apply(real, d, group=real_groups)
    out_syn = dsa.apply(syn, d, group=torch.arange(k))
    torch.testing.assert_close(out_real[::per_class], out_syn, atol=1e-6, rtol=0)


def test_batched_application_equals_per_sample_application() -> None:
    dsa = DSA()
    d = dsa.draw(9, image_size=(7, 6), generator=gen(11))
    x = torch.rand(20, 2, 7, 6, generator=gen(12))
    group = torch.randint(0, 9, (20,), generator=gen(13))
    out = dsa.apply(x, d, group=group)
    for i, g in enumerate(group.tolist()):
        torch.testing.assert_close(out[i : i + 1], dsa.apply(x[i : i + 1], one_group(d, g)), atol=1e-6, rtol=0)
    # group=None with one group per sample is the same as group=arange(N).
    d20 = dsa.draw(20, image_size=(7, 6), generator=gen(14))
    torch.testing.assert_close(dsa.apply(x, d20), dsa.apply(x, d20, group=torch.arange(20)))


def test_group_ids_are_validated() -> None:
    dsa = DSA()
    d = dsa.draw(3, image_size=(8, 8), generator=gen())
    x = torch.rand(5, 1, 8, 8)
    with pytest.raises(ValueError, match="group ids"):
        dsa.apply(x, d)
    with pytest.raises(ValueError, match="one id per image"):
        dsa.apply(x, d, group=torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        dsa.apply(x, d, group=torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match="integer"):
        dsa.apply(x, d, group=torch.zeros(5))
    with pytest.raises(ValueError, match="made for"):
        dsa.apply(torch.rand(5, 1, 9, 9), d, group=torch.zeros(5, dtype=torch.long))


# --- evaluation mode -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
def test_evaluation_mode_draws_independent_parameters_per_sample(op: str) -> None:
    image = torch.rand(1, 3, 16, 16, generator=gen(1))
    out = DSA(op)(image.expand(32, -1, -1, -1), generator=gen(2))
    distinct = {tuple(o.flatten().tolist()) for o in out}
    assert len(distinct) >= (2 if op == "flip" else 16), op


def test_evaluation_mode_uses_one_op_per_call() -> None:
    # Color alone never moves pixels and crop alone never changes values, so each output reveals its op.
    x = torch.rand(16, 3, 8, 8, generator=gen(1))
    seen = set()
    for seed in range(10):
        out = DSA("color_flip")(x, generator=gen(seed))
        moved_or_kept = [torch.equal(o, i.flip(2)) or torch.equal(o, i) for o, i in zip(out, x, strict=True)]
        assert all(moved_or_kept) or not any(moved_or_kept), seed
        seen.add(all(moved_or_kept))
    assert seen == {True, False}


# --- gradients -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("op", OPS)
def test_gradient_reaches_the_input_for_every_op(op: str) -> None:
    x = torch.rand(6, 3, 8, 8, generator=gen(1), requires_grad=True)
    weights = torch.rand(6, 3, 8, 8, generator=gen(2))
    (DSA(op)(x, generator=gen(3)) * weights).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradients_are_exact_through_mixed_groups() -> None:
    dsa = DSA()
    d = dsa.draw(8, image_size=(4, 4), generator=gen(21))
    assert len(set(d.op_names)) >= 4
    x = torch.rand(8, 1, 4, 4, dtype=torch.float64, generator=gen(22), requires_grad=True)
    group = torch.arange(8).flip(0)
    assert torch.autograd.gradcheck(lambda t: dsa.apply(t, d, group=group), (x,), fast_mode=True)


def test_dtype_is_preserved() -> None:
    x = torch.rand(4, 3, 8, 8, dtype=torch.float64)
    for seed in range(6):
        assert DSA()(x, generator=gen(seed)).dtype == torch.float64
