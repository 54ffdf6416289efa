"""Objectives: how synthetic images are compared with real ones under a random network (training side).

An objective has two halves, so that any representation (pixels, a generator, latent diffusion) can use it:

* :meth:`Objective.features` maps a batch of images through a (frozen, random) network to per-sample features,
  a tuple of tensors ``(N, ...)``. Real batches are passed through it in chunks without gradients, so an
  objective that looks at large intermediate maps reduces them here (ATOM keeps attention maps, not activations).
* :meth:`Objective.compare` takes the features regrouped per class, ``(K, B, ...)`` for real and ``(K, M, ...)``
  for synthetic images, and returns a scalar loss summed over classes.

The built-in objectives, by name (``--objective NAME`` on the command line):

========  =================================================================================================
``dm``    :class:`MeanEmbedding`: squared distance of class-mean embeddings (DM)
``atom``  :class:`AttentionMixer`: spatial + channel attention of intermediate layers + embedding term (ATOM)
``echo``  :class:`KernelMMD`: per-class MMD^2 with a multi-bandwidth Gaussian kernel (ECHO / M3D)
========  =================================================================================================

They live in the core rather than in the plugins so that methods compose them without importing each other, and
are registered under the entry-point group ``condensed_data.objectives`` in this project's ``pyproject.toml``
exactly as a third-party objective is: :func:`make_objective` resolves every name through that registry
(:func:`condensed_data.condense.registry.get_objective`), so ``--objective NAME`` and ``objective=NAME`` in any
method's config take a plugin's objective too. :func:`condensed_data.testing.check_objective` checks one.

>>> import torch
>>> real = torch.tensor([[[1.0, 0.0], [3.0, 0.0]]])   # one class, two real features: mean [2, 0]
>>> syn = torch.tensor([[[0.0, 1.0]]])                  # one synthetic feature [0, 1]
>>> float(mean_embedding_loss(real, syn))               # (2-0)^2 + (0-1)^2
5.0
>>> float(make_objective("echo", {"kernel": "linear"}).compare((real,), (syn,)))  # linear-kernel MMD^2 is DM's loss
5.0
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from condensed_data.condense.registry import UnknownObjectiveError, lookup_objective

__all__ = [
    "Objective",
    "MeanEmbedding",
    "AttentionMixer",
    "KernelMMD",
    "OBJECTIVES",
    "make_objective",
    "mean_embedding_loss",
    "attention_maps",
    "mmd2",
    "intra_class_loss",
    "inter_class_loss",
]


def _check_per_class(real: torch.Tensor, syn: torch.Tensor) -> None:
    if real.dim() < 3 or syn.dim() != real.dim() or real.shape[0] != syn.shape[0] or real.shape[2:] != syn.shape[2:]:
        raise ValueError(
            f"expected per-class features (K, B, ...) and (K, M, ...), got {list(real.shape)} and {list(syn.shape)}"
        )


def mean_embedding_loss(feat_real: torch.Tensor, feat_syn: torch.Tensor) -> torch.Tensor:
    """DM's loss: squared L2 distance of class-mean features, summed (not averaged) over classes and dimensions.

    The sum (rather than a mean) matters: DM's image learning rate of 1 is tuned for this scale.
    """
    _check_per_class(feat_real, feat_syn)
    return (feat_real.mean(dim=1) - feat_syn.mean(dim=1)).pow(2).sum()


def attention_maps(activation: torch.Tensor, power: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Spatial and channel attention of a feature map ``(N, C, H, W)``, each L2-normalized per sample.

    Spatial: ``sum_c |f_c|^p`` over channels, ``(N, H*W)``. Channel: ``sum_{h,w} |f_{:,h,w}|^p`` over positions,
    ``(N, C)``. Computed in float32 whatever the autocast dtype (a 4th power loses too much in bfloat16).
    """
    if activation.dim() != 4:
        raise ValueError(f"attention needs a feature map (N, C, H, W), got {list(activation.shape)}")
    powered = activation.float().abs().pow(power)
    spatial = nn.functional.normalize(powered.sum(dim=1).flatten(1), p=2, dim=1)
    channel = nn.functional.normalize(powered.sum(dim=(2, 3)), p=2, dim=1)
    return spatial, channel


def _squared_distances(z: torch.Tensor) -> torch.Tensor:
    """Pairwise squared Euclidean distances within each batch of ``z`` ``(K, N, D)`` -> ``(K, N, N)``."""
    sq = z.pow(2).sum(-1)
    return (sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2 * z @ z.transpose(-1, -2)).clamp_min(0)


def mmd2(
    x: torch.Tensor, y: torch.Tensor, *, kernel: str = "gaussian", multipliers: Sequence[float] = (0.25, 0.5, 1, 2, 4)
) -> torch.Tensor:
    """Biased (V-statistic) MMD^2 between samples ``x`` ``(K, M, D)`` and ``y`` ``(K, N, D)``, one value per batch ``K``.

    ``MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)`` with the diagonal terms included. ``"gaussian"``:
    ``k(a, b) = sum_s exp(-|a - b|^2 / (s * sigma^2))`` over the bandwidth ``multipliers`` s, where ``sigma^2`` is
    the mean off-diagonal squared distance of the pooled batch ``[x; y]`` (per ``K``, without gradient), as M3D's
    code does. ``"linear"``: ``k(a, b) = a . b``, for which MMD^2 is exactly ``|mean x - mean y|^2``, DM's loss.

    Computed in float32 with autocast off (distances, kernels and means), so the result is float32 and as exact
    under ``--precision bf16`` as in fp32 for the same features.
    """
    _check_per_class(y, x)
    with _float32(x):
        return _mmd2(x.float(), y.float(), kernel=kernel, multipliers=multipliers)


def _float32(like: torch.Tensor) -> torch.autocast:
    """A region where autocast is off: what runs in it stays in float32 even when the caller runs under autocast
    (distances of bf16 embeddings lose the small differences a kernel or a cosine is made of)."""
    return torch.autocast(like.device.type, enabled=False)


def _mmd2(x: torch.Tensor, y: torch.Tensor, *, kernel: str, multipliers: Sequence[float]) -> torch.Tensor:
    m = x.shape[1]
    z = torch.cat([x, y], dim=1)
    if kernel == "linear":
        gram = z @ z.transpose(-1, -2)
    elif kernel == "gaussian":
        d2 = _squared_distances(z)
        n = z.shape[1]
        with torch.no_grad():
            sigma2 = d2.sum(dim=(1, 2)) / max(n * n - n, 1)
            sigma2 = sigma2.clamp_min(torch.finfo(sigma2.dtype).tiny).view(-1, 1, 1)
        gram = sum(torch.exp(-d2 / (s * sigma2)) for s in multipliers)
    else:
        raise ValueError(f"unknown kernel {kernel!r}; expected 'gaussian' or 'linear'")
    kxx = gram[:, :m, :m].mean(dim=(1, 2))
    kyy = gram[:, m:, m:].mean(dim=(1, 2))
    kxy = gram[:, :m, m:].mean(dim=(1, 2))
    return kxx + kyy - 2 * kxy


@dataclass(frozen=True)
class Objective(ABC):
    """How real and synthetic images are compared. Subclasses are frozen dataclasses of their options.

    Override :meth:`features` to look at more than the final embedding; implement :meth:`compare`.
    """

    name: ClassVar[str]

    def features(self, net: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Per-sample features of ``images`` under ``net`` (default: the embedding ``net.embed(images)``)."""
        return (net.embed(images),)

    @abstractmethod
    def compare(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> torch.Tensor:
        """Scalar loss from per-class features: ``real[i]`` is ``(K, B, ...)``, ``syn[i]`` is ``(K, M, ...)``."""

    def parts(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """The loss of :meth:`compare` split into named terms that sum to it (up to float rounding), for diagnostics
        such as each term's gradient norm; default ``{}``: not split. Not called by the loss itself."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        """The options as a JSON-ready dict."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class MeanEmbedding(Objective):
    """DM's objective: squared L2 distance of class-mean embeddings, summed over classes and dimensions."""

    name: ClassVar[str] = "dm"

    def compare(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> torch.Tensor:
        return mean_embedding_loss(real[0], syn[0])


@dataclass(frozen=True)
class AttentionMixer(Objective):
    """ATOM's objective (Khaki et al., CVPR-W 2024): attention of intermediate layers plus an embedding term.

    For every ``nn.ReLU`` inside ``net.features`` except the last (ReLU 1 and 2 of ConvNet-3, as DataDAM does),
    the spatial and channel attention maps (:func:`attention_maps`) are matched as class means; the final
    embedding is matched as DM does, weighted by ``balance``::

        loss = 100 * sum_layers (|E_r[A_s] - E_s[A_s]|^2 + |E_r[A_c] - E_s[A_c]|^2) + 100 * balance * |E_r[emb] - E_s[emb]|^2

    summed over classes. The factor 100 is DataDAM's code; ATOM's own code is not public and its full equations
    could not be read, so the channel term (a power-sum over positions, the transpose of DataDAM's spatial map)
    and its equal weight are our reconstruction from the paper's abstract. ``channel=False`` gives DataDAM's
    spatial-only loss.

    Where the channel map is taken (``channel_at``): DataDAM's maps come from the ReLU outputs, which follow the
    network's per-channel normalization (instance norm in ConvNet-3). That normalization gives every channel of a
    sample zero mean and unit variance over positions, so a power-sum over positions taken after it is nearly the
    same for every channel and the channel map carries little. ``"after_norm"`` (the default, as the spatial map)
    keeps that placement; ``"before_norm"`` takes the channel map from the input of the normalization layer that
    feeds each ReLU (the convolution's output), where channels still differ in scale. The spatial map always comes
    from the ReLU output.

    Attributes:
        power: Exponent p of the power-sum (DataDAM's table: 4; its released code uses 1).
        balance: Weight lambda of the embedding term (0.01 for low-resolution data per DataDAM's table).
        channel: Include channel attention (ATOM); ``False`` is DataDAM's spatial attention only.
        channel_at: ``"after_norm"`` or ``"before_norm"``: the channel map from the ReLU output or from the input
            of the normalization layer before it (see above).
    """

    name: ClassVar[str] = "atom"
    SCALE: ClassVar[float] = 100.0
    PLACEMENTS: ClassVar[tuple[str, ...]] = ("after_norm", "before_norm")
    power: float = 4.0
    balance: float = 0.01
    channel: bool = True
    channel_at: str = "after_norm"

    def __post_init__(self) -> None:
        if not self.power > 0:
            raise ValueError(f"power must be > 0, got {self.power}")
        if self.balance < 0:
            raise ValueError(f"balance must be >= 0, got {self.balance}")
        if self.channel_at not in self.PLACEMENTS:
            raise ValueError(f"channel_at must be 'after_norm' or 'before_norm', got {self.channel_at!r}")

    def features(self, net: nn.Module, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        features = getattr(net, "features", None)
        relus = [m for m in features.modules() if isinstance(m, nn.ReLU)] if isinstance(features, nn.Module) else []
        if len(relus) < 2:
            raise ValueError(
                f"the attention objective needs a network whose `features` holds at least two nn.ReLU layers "
                f"(got {len(relus)} in {type(net).__name__}); use a ConvNet (--set net=convnet)"
            )
        maps: list[torch.Tensor] = []
        before: list[torch.Tensor] = []  # channel maps taken before normalization, waiting for their ReLU

        def keep(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            spatial, channel = attention_maps(output, self.power)
            maps.extend((spatial, before.pop() if before else channel) if self.channel else (spatial,))

        def keep_before(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            before.append(attention_maps(inputs[0], self.power)[1])

        hooks = [relu.register_forward_hook(keep) for relu in relus[:-1]]
        if self.channel and self.channel_at == "before_norm":
            hooks += [norm.register_forward_hook(keep_before) for norm in _norms_before(net, relus[:-1])]
        try:
            embedding = net.embed(images)
        finally:
            for hook in hooks:
                hook.remove()
        return (*maps, embedding)

    def compare(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> torch.Tensor:
        attention = sum(mean_embedding_loss(r, s) for r, s in zip(real[:-1], syn[:-1], strict=True))
        return self.SCALE * (attention + self.balance * mean_embedding_loss(real[-1].float(), syn[-1].float()))

    def parts(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """``spatial``, ``channel`` (when on) and ``embedding``: the three weighted terms of :meth:`compare`."""
        step = 2 if self.channel else 1
        terms = {"spatial": sum(mean_embedding_loss(r, s) for r, s in zip(real[:-1:step], syn[:-1:step], strict=True))}
        if self.channel:
            terms["channel"] = sum(mean_embedding_loss(r, s) for r, s in zip(real[1:-1:2], syn[1:-1:2], strict=True))
        terms["embedding"] = self.balance * mean_embedding_loss(real[-1].float(), syn[-1].float())
        return {name: self.SCALE * value for name, value in terms.items()}


_NORMS = (nn.GroupNorm, nn.LayerNorm, nn.modules.batchnorm._NormBase)


def _norms_before(net: nn.Module, relus: Sequence[nn.Module]) -> list[nn.Module]:
    """The normalization layer that feeds each of ``relus`` in ``net.features`` (the module just before it)."""
    leaves = [m for m in net.features.modules() if not any(True for _ in m.children())]
    found = []
    for relu in relus:
        i = next(i for i, m in enumerate(leaves) if m is relu)
        if i == 0 or not isinstance(leaves[i - 1], _NORMS):
            raise ValueError(
                f"channel_at='before_norm' needs a normalization layer just before every ReLU of "
                f"{type(net).__name__}.features, found {type(leaves[i - 1]).__name__ if i else 'nothing'}; use a "
                "network with one (the default convnet) or channel_at='after_norm'"
            )
        found.append(leaves[i - 1])
    return found


@dataclass(frozen=True)
class KernelMMD(Objective):
    """ECHO / M3D's objective (Zhang et al., AAAI 2024): per-class MMD^2 of embeddings, summed over classes.

    See :func:`mmd2` for the kernel. With ``kernel="linear"`` it is exactly DM's loss.

    Attributes:
        kernel: ``"gaussian"`` (M3D's default) or ``"linear"``.
        multipliers: Bandwidth multipliers of the Gaussian kernel (M3D: 1/4, 1/2, 1, 2, 4).
    """

    name: ClassVar[str] = "echo"
    kernel: str = "gaussian"
    multipliers: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)

    def __post_init__(self) -> None:
        if self.kernel not in ("gaussian", "linear"):
            raise ValueError(f"kernel must be 'gaussian' or 'linear', got {self.kernel!r}")
        object.__setattr__(self, "multipliers", tuple(float(s) for s in self.multipliers))
        if not self.multipliers or min(self.multipliers) <= 0:
            raise ValueError(f"multipliers must be positive numbers, got {self.multipliers}")

    def compare(self, real: Sequence[torch.Tensor], syn: Sequence[torch.Tensor]) -> torch.Tensor:
        return mmd2(syn[0], real[0], kernel=self.kernel, multipliers=self.multipliers).sum()


OBJECTIVES: dict[str, type[Objective]] = {cls.name: cls for cls in (MeanEmbedding, AttentionMixer, KernelMMD)}
"""The built-in objectives, as ``pyproject.toml`` registers them (lookups go through the registry, not this)."""


def make_objective(name: str, options: dict[str, Any] | None = None) -> Objective:
    """The registered objective ``name`` (built-in or a plugin's) with ``options``.

    Raises:
        UnknownObjectiveError: No objective of that name (a ``ValueError``; the message lists the known ones).
        ValueError: An option the objective does not have (the message lists its options), a bad option value,
            or a registered class that is not an :class:`Objective`.
        PluginLoadError: The plugin that registers ``name`` failed to import.

    Example:
        >>> make_objective("ATOM", {"power": 2.0})
        AttentionMixer(power=2.0, balance=0.01, channel=True, channel_at='after_norm')
    """
    try:
        found = lookup_objective(str(name))
    except UnknownObjectiveError as exc:
        if str(name).strip().lower() not in OBJECTIVES:
            raise
        raise UnknownObjectiveError(
            f"{exc} The built-in objective {str(name).strip().lower()!r} is missing from the installed metadata of "
            "condensed-data: reinstall it (pip install -e . in a checkout) to refresh its entry points.",
            requested=exc.requested,
            known=exc.known,
            kind=exc.kind,
        ) from None
    cls = found.cls
    if not issubclass(cls, Objective):
        origin = f"{found.distribution} {found.version}".strip()
        raise ValueError(
            f"objective {found.name!r} (from '{origin}') is {cls.__module__}.{cls.__qualname__}, which does not "
            "subclass condensed_data.condense.objectives.Objective; fix or uninstall the plugin that registers it"
        )
    options = dict(options or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "none"
        raise ValueError(f"unknown option(s) {unknown} for objective {found.name!r}; its options: {listed}")
    return cls(**options)


def intra_class_loss(embeddings: torch.Tensor) -> torch.Tensor:
    """Diversity regularizer (our formulation of DCGM's intra-class loss): summed over classes, the mean cosine
    similarity of the distinct pairs of a class's embeddings ``(K, M, D)``. Minimizing it pushes each sample away from
    the others of its class. Zero when a class has a single sample (``M == 1``).

    >>> h = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [2.0, 0.0]]])  # cos 0 in class 0, 1 in class 1
    >>> float(intra_class_loss(h))
    1.0
    """
    if embeddings.dim() != 3:
        raise ValueError(f"expected per-class embeddings (K, M, D), got {list(embeddings.shape)}")
    k, m = embeddings.shape[:2]
    if m < 2:
        return embeddings.sum() * 0.0
    with _float32(embeddings):
        h = nn.functional.normalize(embeddings.float().flatten(2), dim=-1)
        sim = h @ h.transpose(1, 2)
    off_diagonal = sim.sum(dim=(1, 2)) - sim.diagonal(dim1=1, dim2=2).sum(dim=1)
    return (off_diagonal / (m * (m - 1))).sum()


def inter_class_loss(embeddings: torch.Tensor, *, eps: float = 1e-12) -> torch.Tensor:
    """Discriminability regularizer (our formulation of DCGM's inter-class loss): minus the sum over classes of the
    mean Euclidean distance from the class's centre to the other classes' centres, where a centre is the mean of the
    class's L2-normalized embeddings ``(K, M, D)`` (so distances lie in [0, 2] whatever the network's scale).
    Minimizing it widens the gaps between class centres. Zero for a single class.

    >>> h = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])  # centres (.5, .5) and (1, 0)
    >>> round(float(inter_class_loss(h)), 4)  # -(0.7071 + 0.7071)
    -1.4142
    """
    if embeddings.dim() != 3:
        raise ValueError(f"expected per-class embeddings (K, M, D), got {list(embeddings.shape)}")
    k = embeddings.shape[0]
    if k < 2:
        return embeddings.sum() * 0.0
    with _float32(embeddings):
        centres = nn.functional.normalize(embeddings.float().flatten(2), dim=-1).mean(dim=1)
        sq = centres.pow(2).sum(-1)
        d2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2 * centres @ centres.T).clamp_min(0)
    off = ~torch.eye(k, dtype=torch.bool, device=embeddings.device)
    return -(d2[off] + eps).sqrt().sum() / (k - 1)
