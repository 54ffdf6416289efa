"""Differentiable Siamese Augmentation (DSA; Zhao & Bilen, ICML 2021), with randomness only from explicit generators.

The operations and their parameters follow the reference (VICO-UoE/DatasetCondensation ``utils.py``,
``ParamDiffAug`` / ``DiffAugment`` with ``aug_mode='S'``): every draw picks ONE op group uniformly from the strategy
(``"color"`` is brightness, saturation and contrast together), then applies it with these parameters:

========== ===========================================================================================
op         what it does to an image ``x`` of shape ``(C, H, W)``
========== ===========================================================================================
color      ``x + b`` with ``b = (u - 0.5) * brightness``; then ``(x - mean_c) * (u * saturation) + mean_c``
           (``mean_c``: mean over channels, per pixel); then ``(x - mean) * (u + contrast) + mean``
           (``mean``: mean over the whole image). Computed as one fused multiply-add (same values up to rounding).
crop       integer translation ``out[i, j] = x[i + dy, j + dx]``, zero outside the image, with
           ``dy, dx`` uniform in ``[-s, s]``, ``s = int(H * ratio_crop_pad + 0.5)`` (4 px at 32x32)
cutout     zeroes a square of side ``int(H * ratio_cutout + 0.5)`` (16 px at 32x32) centred at a uniform
           position; the square is clipped at the borders exactly as the reference's clamped indexing does
flip       mirrors the columns with probability ``prob_flip``
scale      ``affine_grid``/``grid_sample`` (bilinear, zero padding, ``align_corners=False``, the reference's
           PyTorch default) with ``theta = [[sx, 0, 0], [0, sy, 0]]``, ``sx, sy ~ U(1/ratio_scale, ratio_scale)``
rotate     same sampler with ``theta = [[cos a, -sin a, 0], [sin a, cos a, 0]]``, ``a ~ U(-ratio_rotate,
           ratio_rotate)`` degrees
========== ===========================================================================================

Randomness is split from application. :meth:`DSA.draw` makes a :class:`DSADraw`: for each of ``G`` groups one op and
one parameter set, all from one ``torch.Generator``. :meth:`DSA.apply` transforms a batch, sample ``i`` with group
``group[i]``'s op and parameters. Two batches applied with the same draw and the same group ids get identical
transforms: this is the Siamese property the reference obtains by re-seeding the global RNG. With one group for a
whole batch it is exactly the reference's Siamese mode (``theta[:] = theta[0]``); with one group per class (DM) class
``k``'s real and synthetic images share a transform, as the reference's per-class seed gives. ``DSA.__call__`` is the
reference's evaluation mode: one op for the whole call, independent parameters per sample.

``apply`` is vectorized: the samples whose group chose the same kind of op are processed together in one call
(``scale`` and ``rotate`` share one ``grid_sample``, on a grid equal to ``affine_grid``'s but built faster), with no
Python loop over samples. Everything is differentiable with respect to the images.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

__all__ = ["DEFAULT_STRATEGY", "OPS", "DSA", "DSADraw", "DSAParams"]

#: Every op name a strategy may use; :attr:`DSADraw.op` holds indices into this tuple.
OPS: tuple[str, ...] = ("color", "crop", "cutout", "flip", "scale", "rotate")
#: The reference strategy for Fashion-MNIST and CIFAR (use ``"color_crop_cutout_scale_rotate"`` for digits).
DEFAULT_STRATEGY = "color_crop_cutout_flip_scale_rotate"

_COLOR, _CROP, _CUTOUT, _FLIP, _SCALE, _ROTATE = range(len(OPS))


@dataclass(frozen=True)
class DSAParams:
    """Strengths of the DSA operations (the reference ``ParamDiffAug`` values by default).

    Attributes:
        prob_flip: Probability of a horizontal flip.
        ratio_scale: Scales are drawn from ``U(1/ratio_scale, ratio_scale)`` for each axis.
        ratio_rotate: Rotation angles are drawn from ``U(-ratio_rotate, ratio_rotate)`` degrees.
        ratio_crop_pad: Maximum translation as a fraction of the image side.
        ratio_cutout: Side of the cutout square as a fraction of the image side.
        brightness: Brightness shift range: ``(u - 0.5) * brightness``.
        saturation: Saturation factor range: ``u * saturation``.
        contrast: Contrast factor offset: ``u + contrast``.

    Example:
        >>> DSAParams(ratio_rotate=30.0).ratio_rotate
        30.0
    """

    prob_flip: float = 0.5
    ratio_scale: float = 1.2
    ratio_rotate: float = 15.0
    ratio_crop_pad: float = 0.125
    ratio_cutout: float = 0.5
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"DSAParams.{f.name} must be a finite number, got {value!r}")
            if value < 0:
                raise ValueError(f"DSAParams.{f.name} must be >= 0, got {value!r}")
        if self.prob_flip > 1:
            raise ValueError(f"DSAParams.prob_flip is a probability in [0, 1], got {self.prob_flip!r}")
        if self.ratio_scale < 1:
            raise ValueError(f"DSAParams.ratio_scale must be >= 1 (scales span [1/r, r]), got {self.ratio_scale!r}")
        if self.ratio_rotate > 180:
            raise ValueError(f"DSAParams.ratio_rotate is in degrees, at most 180, got {self.ratio_rotate!r}")
        for name in ("ratio_crop_pad", "ratio_cutout"):
            if getattr(self, name) > 1:
                raise ValueError(
                    f"DSAParams.{name} is a fraction of the image side in [0, 1], got {getattr(self, name)!r}"
                )


@dataclass(frozen=True, eq=False)  # tensors have no truth value: compare draws field by field
class DSADraw:
    """The random choices for ``G`` groups: one op and that op's parameters per group.

    Parameters of every op are stored for every group (only the chosen op's are used), so a draw is a plain bundle
    of small tensors with leading dimension ``G``. It is tied to one image size (crop and cutout are in pixels).

    Attributes:
        image_size: ``(H, W)`` the draw was made for.
        op: ``(G,)`` int64, index into :data:`OPS` of each group's op.
        brightness: ``(G,)`` additive shift.
        saturation: ``(G,)`` factor on the deviation from the per-pixel channel mean.
        contrast: ``(G,)`` factor on the deviation from the image mean.
        crop: ``(G, 2)`` int64 ``(dy, dx)``: ``out[i, j] = x[i + dy, j + dx]``, zero outside.
        cutout: ``(G, 4)`` int64 ``(top, left, bottom, right)`` of the zeroed box (half-open; may extend past the
            image, the part inside is zeroed).
        flip: ``(G,)`` bool, mirror the columns.
        scale: ``(G, 2)`` ``(sx, sy)``: the ``affine_grid`` scale of the width and height coordinates.
        rotate: ``(G,)`` angle in radians.

    Example:
        >>> d = DSADraw.fixed("flip", image_size=(4, 4), flip=True)
        >>> len(d), d.op_names
        (1, ('flip',))
    """

    image_size: tuple[int, int]
    op: torch.Tensor
    brightness: torch.Tensor
    saturation: torch.Tensor
    contrast: torch.Tensor
    crop: torch.Tensor
    cutout: torch.Tensor
    flip: torch.Tensor
    scale: torch.Tensor
    rotate: torch.Tensor

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", tuple(int(s) for s in self.image_size))
        if len(self.image_size) != 2 or min(self.image_size) < 1:
            raise ValueError(f"DSADraw.image_size must be (H, W) with positive sides, got {self.image_size}")
        if self.op.dim() != 1 or self.op.dtype != torch.int64:
            raise ValueError(f"DSADraw.op must be a 1-D int64 tensor, got {self.op.dtype} {tuple(self.op.shape)}")
        g = self.op.shape[0]
        expected = {
            "brightness": ((g,), True), "saturation": ((g,), True), "contrast": ((g,), True),
            "crop": ((g, 2), False), "cutout": ((g, 4), False), "flip": ((g,), False),
            "scale": ((g, 2), True), "rotate": ((g,), True),
        }  # fmt: skip
        for name, (shape, floating) in expected.items():
            t = getattr(self, name)
            if tuple(t.shape) != shape or t.is_floating_point() != floating:
                kind = "floating" if floating else "integer/bool"
                raise ValueError(
                    f"DSADraw.{name} must be a {kind} tensor of shape {shape}, got {t.dtype} {tuple(t.shape)}"
                )

    def __len__(self) -> int:
        return self.op.shape[0]

    @property
    def op_names(self) -> tuple[str, ...]:
        """The op name of every group."""
        return tuple(OPS[i] for i in self.op.tolist())

    def to(self, device: torch.device | str) -> DSADraw:
        """This draw with every tensor on ``device`` (``self`` when already there)."""
        device = torch.device(device)
        if self.op.device == device:
            return self
        tensors = {f.name: getattr(self, f.name).to(device) for f in fields(self) if f.name != "image_size"}
        return replace(self, **tensors)

    @classmethod
    def fixed(
        cls,
        op: str,
        *,
        image_size: tuple[int, int],
        groups: int = 1,
        brightness: float = 0.0,
        saturation: float = 1.0,
        contrast: float = 1.0,
        crop: tuple[int, int] = (0, 0),
        cutout: tuple[int, int, int, int] = (0, 0, 0, 0),
        flip: bool = False,
        scale: tuple[float, float] = (1.0, 1.0),
        rotate: float = 0.0,
    ) -> DSADraw:
        """A draw with given (not random) parameters, identical for ``groups`` groups; defaults are the identity.

        Useful to test, visualize or replay one transform.

        Example:
            >>> x = torch.arange(4.0).view(1, 1, 1, 4)
            >>> DSA().apply(x, DSADraw.fixed("flip", image_size=(1, 4), flip=True)).flatten().tolist()
            [3.0, 2.0, 1.0, 0.0]
        """
        if op not in OPS:
            raise ValueError(f"unknown DSA op {op!r}; valid ops: {', '.join(OPS)}")

        def rep(value: object, dtype: torch.dtype) -> torch.Tensor:
            t = torch.tensor(value, dtype=dtype)
            return t.expand(groups, *t.shape).clone()

        return cls(
            image_size=image_size,
            op=rep(OPS.index(op), torch.int64),
            brightness=rep(brightness, torch.float32),
            saturation=rep(saturation, torch.float32),
            contrast=rep(contrast, torch.float32),
            crop=rep(crop, torch.int64),
            cutout=rep(cutout, torch.int64),
            flip=rep(flip, torch.bool),
            scale=rep(scale, torch.float32),
            rotate=rep(rotate, torch.float32),
        )


# --- the operations ------------------------------------------------------------------------------------------------
# Each takes the images of the samples it transforms, the draw (on the images' device) and `rows`: the draw group of
# each of those samples, or None when the draw's rows already line up with the samples (or one row broadcasts).


def _take(t: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    return t if rows is None else t.index_select(0, rows)


def _per_sample(t: torch.Tensor, rows: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    return _take(t, rows).to(x.dtype).view(-1, 1, 1, 1)


def _color(x: torch.Tensor, d: DSADraw, rows: torch.Tensor | None) -> torch.Tensor:
    # brightness -> saturation -> contrast, expanded algebraically so the image is read twice and written once:
    # out = x * (s c) + mean_c * c (1 - s) + mean * (1 - c) + b, since the image mean after brightness and saturation
    # is mean + b (deviations from the channel mean average to zero).
    b, c = _per_sample(d.brightness, rows, x), _per_sample(d.contrast, rows, x)
    if x.shape[1] == 1:  # saturation is the identity on one channel
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return torch.addcmul(mean * (1 - c) + b, x, c)
    s = _per_sample(d.saturation, rows, x)
    mean_c = x.mean(dim=1, keepdim=True)
    mean = mean_c.mean(dim=(2, 3), keepdim=True)
    return torch.addcmul(mean_c * (c * (1 - s)) + (mean * (1 - c) + b), x, s * c)


def _crop(x: torch.Tensor, d: DSADraw, rows: torch.Tensor | None) -> torch.Tensor:
    # Gather from the image padded with one ring of zeros, indices clamped onto that ring: the reference's scheme.
    n, c, h, w = x.shape
    shift = _take(d.crop, rows)
    r = (torch.arange(h, device=x.device) + shift[:, :1] + 1).clamp_(0, h + 1)
    col = (torch.arange(w, device=x.device) + shift[:, 1:] + 1).clamp_(0, w + 1)
    index = (r[:, :, None] * (w + 2) + col[:, None, :]).view(-1, 1, h * w).expand(n, c, h * w)
    padded = F.pad(x, (1, 1, 1, 1)).reshape(n, c, (h + 2) * (w + 2))
    return padded.gather(2, index).view(n, c, h, w)


def _cutout(x: torch.Tensor, d: DSADraw, rows: torch.Tensor | None) -> torch.Tensor:
    h, w = x.shape[-2:]
    box = _take(d.cutout, rows)
    r = torch.arange(h, device=x.device)
    col = torch.arange(w, device=x.device)
    in_rows = (r >= box[:, 0:1]) & (r < box[:, 2:3])
    in_cols = (col >= box[:, 1:2]) & (col < box[:, 3:4])
    return x.masked_fill(in_rows[:, None, :, None] & in_cols[:, None, None, :], 0.0)


def _flip(x: torch.Tensor, d: DSADraw, rows: torch.Tensor | None) -> torch.Tensor:
    return torch.where(_take(d.flip, rows).view(-1, 1, 1, 1), x.flip(3), x)


def _affine(x: torch.Tensor, d: DSADraw, rows: torch.Tensor | None) -> torch.Tensor:
    # scale and rotate share one sampler call: each sample gets its own 2x3 matrix.
    is_scale = _take(d.op, rows) == _SCALE
    scale = _take(d.scale, rows).to(x.dtype)
    angle = _take(d.rotate, rows).to(x.dtype)
    cos, sin = angle.cos(), angle.sin()
    zero = torch.zeros_like(cos)
    theta = torch.stack(
        [
            torch.where(is_scale, scale[:, 0], cos), torch.where(is_scale, zero, -sin), zero,
            torch.where(is_scale, zero, sin), torch.where(is_scale, scale[:, 1], cos), zero,
        ],
        dim=1,
    ).view(-1, 2, 3)  # fmt: skip
    n, _, h, w = x.shape
    grid = _affine_grid(theta, h, w).expand(n, h, w, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _affine_grid(theta: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``F.affine_grid(theta, (m, *, h, w), align_corners=False)``, computed as one small matrix product.

    Same values (up to rounding); on CPU it avoids ``affine_grid``'s batched product, and its planar memory layout
    (x and y coordinates in separate planes) suits ``grid_sample`` (both faster in profiles; no benchmark record).
    """
    m = theta.shape[0]
    # Pixel centres in normalized coordinates (align_corners=False): (2i + 1) / size - 1.
    xs = (torch.arange(w, device=theta.device, dtype=theta.dtype) * 2 + 1) / w - 1
    ys = (torch.arange(h, device=theta.device, dtype=theta.dtype) * 2 + 1) / h - 1
    base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones_like(xs).expand(h, w)]).view(3, h * w)
    return (theta.reshape(m * 2, 3) @ base).view(m, 2, h, w).permute(0, 2, 3, 1)


_Kernel = Callable[[torch.Tensor, DSADraw, torch.Tensor | None], torch.Tensor]
# Op index -> the function that applies it; ops sharing a function are applied together.
_KERNEL_OF_OP: tuple[_Kernel, ...] = (_color, _crop, _cutout, _flip, _affine, _affine)


class DSA:
    """Differentiable Siamese Augmentation with the reference parameters.

    Args:
        strategy: Op names joined by ``"_"`` (from :data:`OPS`); each draw picks one uniformly from this list.
        params: Strengths of the ops.

    Attributes:
        strategy: The strategy string.
        ops: The parsed op names.
        params: The op strengths.

    Example:
        >>> dsa = DSA()
        >>> g = torch.Generator().manual_seed(0)
        >>> real, syn = torch.rand(6, 3, 8, 8), torch.rand(2, 3, 8, 8)
        >>> d = dsa.draw(2, image_size=(8, 8), generator=g)  # one draw per class
        >>> out_real = dsa.apply(real, d, group=torch.tensor([0, 0, 0, 1, 1, 1]))
        >>> out_syn = dsa.apply(syn, d, group=torch.tensor([0, 1]))
        >>> tuple(dsa(real, generator=g).shape)  # evaluation mode: per-sample parameters
        (6, 3, 8, 8)
    """

    def __init__(self, strategy: str = DEFAULT_STRATEGY, *, params: DSAParams = DSAParams()) -> None:
        if not isinstance(strategy, str):
            raise TypeError(f"strategy must be a string of op names joined by '_', got {type(strategy).__name__}")
        ops = tuple(strategy.split("_")) if strategy else ()
        unknown = [op for op in ops if op not in OPS]
        if not ops or unknown:
            raise ValueError(
                f"invalid DSA strategy {strategy!r} (unknown ops: {unknown}); join valid ops with '_': "
                f"{', '.join(OPS)}. To train without augmentation, do not use DSA at all."
            )
        if not isinstance(params, DSAParams):
            raise TypeError(f"params must be a DSAParams, got {type(params).__name__}")
        self.strategy = strategy
        self.ops = ops
        self.params = params
        self._op_index = torch.tensor([OPS.index(op) for op in ops], dtype=torch.int64)

    def __repr__(self) -> str:
        return f"DSA(strategy={self.strategy!r}, params={self.params!r})"

    def draw(
        self,
        groups: int,
        *,
        image_size: tuple[int, int],
        generator: torch.Generator,
        same_op: bool = False,
    ) -> DSADraw:
        """Draw one op and one parameter set for each of ``groups`` groups.

        Args:
            groups: Number of independent transforms ``G``.
            image_size: ``(H, W)`` of the images the draw will be applied to.
            generator: Source of every random number; the draw's tensors live on its device.
            same_op: All groups share one op choice (parameters still differ per group).

        Returns:
            The draw; the number of values taken from ``generator`` depends only on ``groups``.

        Example:
            >>> d = DSA("flip").draw(3, image_size=(8, 8), generator=torch.Generator().manual_seed(0))
            >>> d.op_names
            ('flip', 'flip', 'flip')
        """
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
            raise ValueError(f"groups must be a positive int, got {groups!r}")
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        h, w = (int(s) for s in image_size)
        p, g, dev = self.params, generator, generator.device

        def uniform(*shape: int) -> torch.Tensor:
            return torch.rand(shape, generator=g, device=dev)

        def integers(low: int, high: int, n: int) -> torch.Tensor:
            return torch.randint(low, high, (n,), generator=g, device=dev)

        choice = integers(0, len(self.ops), 1).expand(groups) if same_op else integers(0, len(self.ops), groups)
        shift_h, shift_w = int(h * p.ratio_crop_pad + 0.5), int(w * p.ratio_crop_pad + 0.5)
        cut_h, cut_w = int(h * p.ratio_cutout + 0.5), int(w * p.ratio_cutout + 0.5)
        # The reference draws the cutout centre in [0, side + (1 - cut % 2)) and starts the box at centre - cut // 2.
        top = integers(0, h + 1 - cut_h % 2, groups) - cut_h // 2
        left = integers(0, w + 1 - cut_w % 2, groups) - cut_w // 2
        low = 1.0 / p.ratio_scale
        return DSADraw(
            image_size=(h, w),
            op=self._op_index.to(dev)[choice],
            brightness=(uniform(groups) - 0.5) * p.brightness,
            saturation=uniform(groups) * p.saturation,
            contrast=uniform(groups) + p.contrast,
            crop=torch.stack([integers(-shift_h, shift_h + 1, groups), integers(-shift_w, shift_w + 1, groups)], 1),
            cutout=torch.stack([top, left, top + cut_h, left + cut_w], 1),
            flip=uniform(groups) < p.prob_flip,
            scale=uniform(groups, 2) * (p.ratio_scale - low) + low,
            rotate=(uniform(groups) - 0.5) * (2.0 * math.radians(p.ratio_rotate)),
        )

    def apply(self, x: torch.Tensor, draw: DSADraw, group: torch.Tensor | None = None) -> torch.Tensor:
        """Transform images ``x`` ``(N, C, H, W)``, sample ``i`` with the op and parameters of group ``group[i]``.

        Args:
            x: Images; the result is differentiable with respect to them.
            draw: From :meth:`draw` (any strategy: the draw names its ops), made for ``x``'s image size.
            group: ``(N,)`` integer group of each sample. ``None``: every sample uses group 0 if ``len(draw) == 1``
                (one transform for the whole batch), sample ``i`` uses group ``i`` if ``len(draw) == N``.

        Returns:
            The transformed images, same shape and dtype as ``x``.

        Raises:
            ValueError: If shapes, sizes or group ids do not fit.

        Example:
            >>> x = torch.rand(4, 1, 8, 8)
            >>> d = DSA().draw(1, image_size=(8, 8), generator=torch.Generator().manual_seed(0))
            >>> torch.equal(DSA().apply(x, d), DSA().apply(x.clone(), d))  # Siamese: same draw, same transform
            True
        """
        if x.dim() != 4 or not x.is_floating_point():
            raise ValueError(f"x must be a floating (N, C, H, W) tensor, got {x.dtype} {tuple(x.shape)}")
        if tuple(x.shape[-2:]) != draw.image_size:
            raise ValueError(f"the draw was made for {draw.image_size} images, x has {tuple(x.shape[-2:])}")
        rows = _rows(x, len(draw), group)
        if x.shape[0] == 0:
            return x
        present = sorted(set(draw.op.tolist()))
        kernels = list(dict.fromkeys(_KERNEL_OF_OP[i] for i in present))
        d = draw.to(x.device)
        if len(kernels) == 1:
            return kernels[0](x, d, rows)
        sample_op = _take(d.op, rows)
        out = torch.empty_like(x)
        for kernel in kernels:
            ids = torch.tensor([i for i in present if _KERNEL_OF_OP[i] is kernel], device=x.device)
            idx = torch.isin(sample_op, ids).nonzero().flatten()
            if idx.numel():
                sub_rows = idx if rows is None else rows.index_select(0, idx)
                out.index_copy_(0, idx, kernel(x.index_select(0, idx), d, sub_rows))
        return out

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """Evaluation-time augmentation: one op for the call, independent parameters for every sample.

        Example:
            >>> x = torch.rand(5, 3, 8, 8)
            >>> tuple(DSA()(x, generator=torch.Generator().manual_seed(0)).shape)
            (5, 3, 8, 8)
        """
        if x.dim() != 4 or x.shape[0] == 0:
            raise ValueError(f"x must be a non-empty (N, C, H, W) batch, got shape {tuple(x.shape)}")
        draw = self.draw(x.shape[0], image_size=(x.shape[2], x.shape[3]), generator=generator, same_op=True)
        return self.apply(x, draw)


def _rows(x: torch.Tensor, groups: int, group: torch.Tensor | None) -> torch.Tensor | None:
    """Validate ``group`` and return the per-sample draw rows, or ``None`` when no gather is needed."""
    n = x.shape[0]
    if group is None:
        if groups in (1, n):
            return None
        raise ValueError(f"a draw of {groups} groups needs group ids for a batch of {n} images (pass group=...)")
    if not isinstance(group, torch.Tensor) or group.dim() != 1 or group.shape[0] != n:
        shape = tuple(group.shape) if isinstance(group, torch.Tensor) else type(group).__name__
        raise ValueError(f"group must be a 1-D tensor with one id per image ({n}), got {shape}")
    if group.is_floating_point() or group.is_complex() or group.dtype == torch.bool:
        raise ValueError(f"group must hold integer ids, got {group.dtype}")
    group = group.to(device=x.device, dtype=torch.int64)
    if n:
        low, high = torch.aminmax(group)
        if int(low) < 0 or int(high) >= groups:
            raise ValueError(f"group ids must be in [0, {groups}) for this draw, got [{int(low)}, {int(high)}]")
    return group
