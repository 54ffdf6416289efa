"""The one matching loop: representations compared with real data under random or trained networks (training wing).

Every built-in method is a recipe over :class:`MatchingMethod`: a representation
(:mod:`condensed_data.condense.representations`: what is optimized and how it becomes images), an objective
(:mod:`condensed_data.condense.objectives`: how features are compared), regularizers and defaults. One iteration:

1. the network of the iteration (frozen; a new draw every ``iters_per_net`` iterations, the same one after a
   resume): a freshly initialized one, or, with ``pool > 0``, a member of the trained pool (below);
2. a real batch of ``batch_real`` images of each class (of this process's classes when sharded by classes);
3. the representation's images of the same classes (any number per class), differentiable;
4. one DSA draw per class applied to that class's real *and* synthetic images (Siamese);
5. the objective's features of both batches (real ones in chunks, without gradients), regrouped per class, and its
   loss; plus DCGM's intra- and inter-class regularizers on the synthetic embeddings, weighted by
   ``lambda_intra`` / ``lambda_inter`` (0, off, for every recipe but DCGM).

With an instance-norm network (no batch statistics) all classes share one forward pass and the loss is a sum of
per-class terms, which is what lets a run split its classes over processes.

Trained feature pools (``pool``, ``pool_epochs``, ``pool_fresh``): matching under networks that have already learnt
something of the data, the idea of IDM (Zhao et al., CVPR 2023) and DANCE (Zhang et al., IJCAI 2024). As their
public code reads (uitrbn/IDM, Hansong-Zhang/DANCE; the papers themselves were not read): IDM keeps a queue of
networks during condensation, where a fresh network joins every few iterations (the oldest leaves), a few members
are trained some SGD steps on real batches after every iteration, and each iteration matches under randomly drawn
members, so it sees networks at every stage of early training; it also adds a cross-entropy term on the synthetic
images and its own augmentation. DANCE trains a pool of networks beforehand and matches, at every iteration,
under a random interpolation between one member's initial and trained weights, then takes a cross-entropy step
under the trained member. We take the part they share and that fits one loop for every recipe: ``pool`` networks
of ``net`` trained beforehand for ``pool_epochs`` epochs on the real data
(:func:`~condensed_data.condense.pretrained.trained_networks`, cached on disk, built at first use), one
drawn uniformly from the run's generator at every network change; ``pool_fresh`` mixes in fresh random networks,
a coarse stand-in for the untrained end of IDM's queue and of DANCE's interpolation. Neither paper's schedule,
cross-entropy terms nor augmentation is reproduced, and whether this recovers their gains is not verified: the
benchmarks measure what it does here. The pool is part of the checkpoint (its weights are in :meth:`state_dict`),
so a resumed run continues under exactly the same networks; the processes of a multi-process run use one pool
(the first process to need a member trains and caches it, the others wait on its lock and load it).

>>> from condensed_data.condense.registry import get_method
>>> issubclass(get_method("dm"), MatchingMethod), get_method("dm").representation_class.__name__
(True, 'Pixels')
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.utils.checkpoint import checkpoint

from condensed_data.artifact.manifest import Decode
from condensed_data.condense.augment import DSA
from condensed_data.condense.method import Method, MethodConfig, require_positive_ints
from condensed_data.condense.objectives import Objective, inter_class_loss, intra_class_loss, make_objective
from condensed_data.condense.pretrained import trained_networks
from condensed_data.condense.real_batches import RealBatches
from condensed_data.condense.representations import Pixels, Representation
from condensed_data.condense.representations.pixels import INITS
from condensed_data.data import RealSource
from condensed_data.nn import get_network, resolve_network
from condensed_data.nn.chunks import CHUNK_PIXELS, backward_pass_size, pass_size, per_sample
from condensed_data.nn.kernels import current_kernels, no_grad_pass
from condensed_data.seeding import make_generator

__all__ = ["MatchingConfig", "MatchingMethod", "PixelConfig", "PixelMethod"]


@dataclass
class MatchingConfig(MethodConfig):
    """Options of the matching loop, shared by every recipe over it.

    Attributes:
        objective: How features are compared: a registered objective (``"dm"``, ``"atom"``, ``"echo"``, ...).
        objective_options: Options of the objective (e.g. ``{"power": 4}`` for ``atom``); its defaults otherwise.
        batch_real: Real images per class per iteration.
        net: Architecture of the random feature extractor (see :func:`condensed_data.nn.list_networks`); a ConvNet
            name without a depth takes the image size's (3 up to 32 pixels, 4 at 64, 5 at 128) and the method's
            config records it resolved (``convnet-d4``: :func:`condensed_data.nn.resolve_network`).
        dsa_strategy: Siamese augmentation ops, ``"none"`` to disable.
        iters_per_net: Iterations that share one random network (M3D's "iteration per random model"; DM: 1).
        lambda_intra: Weight of the intra-class (diversity) regularizer; 0 disables it.
        lambda_inter: Weight of the inter-class (centre-gap) regularizer; 0 disables it. It couples the classes,
            so a run with it cannot be split by classes over processes.
        regularizer_weights: How ``lambda_intra`` / ``lambda_inter`` are read. ``"absolute"``: ``loss = match +
            lambda * R``. ``"relative"``: ``loss = match + lambda * (|match| / |R|) * R`` with the ratio detached
            (0 when ``R`` is 0), so at every step the term's magnitude is the fraction ``lambda`` of the match
            term's (``lambda_intra=0.1``: 10% of it) and its gradient is ``R``'s scaled by that ratio, whatever
            the network's embedding scale.
        grad_norms_every: Every this many iterations (0: never), also compute the gradient norm, on the
            representation's parameters, of each loss term as it enters the loss (``match``, the objective's
            parts such as ``match.channel``, each weighted regularizer) and report it in :meth:`diagnostics`
            (logged by the loop). Costs one extra backward pass per term on those iterations; nothing otherwise.
        pool: Size of the trained feature pool: networks of ``net`` trained ``pool_epochs`` epochs on the real
            data (:func:`condensed_data.condense.pretrained.trained_networks`, cached on disk), one drawn at every
            network change instead of a freshly initialized one. 0 (the default): fresh random networks only.
        pool_epochs: Training epochs of each pool member. 2 by default: networks early in training, the range
            IDM draws from (DANCE trains longer and interpolates back towards the initialization), far enough from
            their initialization to have learnt the data's features, and a pool that builds in seconds on a GPU
            (minutes per member on a CPU for Fashion-MNIST). Not tuned: the benchmarks compare other values.
        pool_fresh: Probability that a network change takes a fresh random network rather than a pool member
            (IDM and DANCE also match under networks anywhere between initialization and training); 0 by
            default. Only with ``pool > 0``.
    """

    objective: str = "dm"
    objective_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    batch_real: int = 256
    net: str = "convnet"
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"
    iters_per_net: int = 1
    lambda_intra: float = 0.0
    lambda_inter: float = 0.0
    regularizer_weights: str = "absolute"
    grad_norms_every: int = 0
    pool: int = 0
    pool_epochs: int = 2
    pool_fresh: float = 0.0

    def __post_init__(self) -> None:
        require_positive_ints(self, "batch_real", "iters_per_net", "pool_epochs")
        for name in ("lambda_intra", "lambda_inter"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.regularizer_weights not in ("absolute", "relative"):
            raise ValueError(f"regularizer_weights must be 'absolute' or 'relative', got {self.regularizer_weights!r}")
        if isinstance(self.grad_norms_every, bool) or not isinstance(self.grad_norms_every, int):
            raise ValueError(f"grad_norms_every must be an integer >= 0, got {self.grad_norms_every!r}")
        if self.grad_norms_every < 0:
            raise ValueError(f"grad_norms_every must be an integer >= 0, got {self.grad_norms_every!r}")
        if isinstance(self.pool, bool) or not isinstance(self.pool, int) or self.pool < 0:
            raise ValueError(f"pool must be an integer >= 0 (0: fresh random networks only), got {self.pool!r}")
        if not 0 <= self.pool_fresh < 1:
            raise ValueError(f"pool_fresh must be in [0, 1), got {self.pool_fresh}")
        if self.pool_fresh and not self.pool:
            raise ValueError("pool_fresh mixes fresh networks into a trained pool: set pool >= 1 too, or pool_fresh=0")
        make_objective(self.objective, self.objective_options)  # named errors now, not at the first iteration


class MatchingMethod(Method):
    """A representation matched to real data under random (or trained) networks by an objective (see the module
    docstring).

    A recipe subclass sets ``name``, ``config_class`` (a :class:`MatchingConfig`), ``representation_class`` (its
    ``kind`` and ``sharding`` become the method's) and implements :meth:`build_representation` and
    :meth:`make_optimizer`; it may override :meth:`build_objective` to bring its own objective.

    Attributes:
        representation: What is optimized.
        objective: How features are compared.
        terms: The last loss's parts (``match`` and each active regularizer, unweighted), for logging and ablations.
        grad_norms: The gradient norm of each weighted term of the last loss, on iterations where
            ``grad_norms_every`` asks for them (``{}`` otherwise).
    """

    config_class: ClassVar[type[MethodConfig]] = MatchingConfig
    representation_class: ClassVar[type[Representation]]
    # Passes take at most this many input pixels (condensed_data.nn.chunks): activation memory stays bounded.
    CHUNK_PIXELS: ClassVar[int] = CHUNK_PIXELS

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        representation = cls.__dict__.get("representation_class")
        if representation is not None:
            cls.kind, cls.sharding = representation.kind, representation.sharding

    def __init__(
        self,
        real: RealSource,
        *,
        ipc: int,
        config: MethodConfig | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, config=config, device=device, generator=generator)
        net = resolve_network(self.config.net, real.image_shape[1:])
        if net != self.config.net:  # recorded as what it builds (up to 32 pixels nothing changes)
            self.config = dataclasses.replace(self.config, net=net)
        cfg = self.config
        self.objective = self.build_objective()
        self.representation = self.build_representation(generator)
        self.dsa = None if cfg.dsa_strategy == "none" else DSA(cfg.dsa_strategy)
        self.batch_real = min(cfg.batch_real, min(real.class_counts()))
        self._real_groups = torch.arange(real.num_classes, device=self.device).repeat_interleave(self.batch_real)
        self._share: torch.Tensor | None = None  # rows of the real batch this process keeps (data sharding)
        self._net: torch.nn.Module | None = None
        self._net_seed: int | None = None
        self.terms: dict[str, float] = {}
        self.grad_norms: dict[str, float] = {}
        # The trained pool: its seed is drawn after the representation's, so pool=0 draws what it always drew.
        self._pool_seed = int(torch.randint(0, 2**62, (), generator=generator)) if cfg.pool else None
        self._pool: list[torch.nn.Module] | None = None  # built at first use, or loaded from a checkpoint
        self._member: int | None = None  # the pool member in use, -1 for a fresh network (pool_fresh)
        # The real images' own stream (drawn last, so the draws above are unchanged) lets the next ones be read ahead.
        real_seed = int(torch.randint(0, 2**62, (), generator=generator))
        self.real_batches = RealBatches(real, self.batch_real, seed=real_seed)

    # -- what a recipe provides --------------------------------------------------------------------------------
    @abstractmethod
    def build_representation(self, generator: torch.Generator) -> Representation:
        """The representation, initialized from ``self.real``; every random draw comes from ``generator``."""

    def build_objective(self) -> Objective:
        """The objective this method optimizes (default: the one the config names); override to bring your own."""
        return make_objective(self.config.objective, self.config.objective_options)

    def regularizers(self) -> list[tuple[str, float, Callable[[torch.Tensor], torch.Tensor]]]:
        """``(name, weight, loss of the per-class embeddings (K, M, D))`` of every active regularizer."""
        cfg = self.config
        candidates = (("intra", cfg.lambda_intra, intra_class_loss), ("inter", cfg.lambda_inter, inter_class_loss))
        return [c for c in candidates if c[1]]

    # -- the method contract -----------------------------------------------------------------------------------
    def parameters(self) -> list[torch.Tensor]:
        return self.representation.parameters()

    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.representation.pixels()

    @property
    def decode(self) -> Decode | None:
        return self.representation.decode

    def export(self, folder: Any) -> None:
        self.representation.export(folder)

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {**super().state_dict(), **self.representation.extra_state(), **self.real_batches.state_dict()}
        if self.config.iters_per_net > 1 or self.config.pool:
            # The shared network is rebuilt from its seed, so a run resumed mid-way keeps using the same one.
            state["net_seed"] = torch.tensor(-1 if self._net_seed is None else self._net_seed)
        if self.config.pool:
            # The pool itself travels with the run: a resume continues under exactly these networks.
            state["pool.member"] = torch.tensor(-2 if self._member is None else self._member)
            for i, net in enumerate(self.pool_networks()):
                state.update({f"pool.{i}.{name}": t.detach().clone() for name, t in net.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        self.real_batches.load_state_dict(state)  # takes its seed out
        seed = state.pop("net_seed", None)
        member = state.pop("pool.member", None)
        pool = {key: state.pop(key) for key in [k for k in state if k.startswith("pool.")]}
        extra = {key: state.pop(key) for key in self.representation.extra_state()}
        if bool(self.config.pool) != (member is not None):
            has = ("has no", "uses one") if member is None else ("has one", "does not use one")
            raise ValueError(f"the state {has[0]} trained pool (pool.member) but this method {has[1]} (pool option)")
        super().load_state_dict(state)
        self.representation.load_extra_state(extra)
        self._net = None
        self._net_seed = None if seed is None or int(seed) < 0 else int(seed)
        if member is not None:
            self._member = None if int(member) == -2 else int(member)
            self._pool = [self._load_member(pool, i) for i in range(self.config.pool)]
            if pool:
                raise ValueError(f"the state holds tensors of no pool member: {sorted(pool)[:3]}")

    def shard(self, index: int, count: int) -> None:
        super().shard(index, count)
        if self.sharding == "classes":
            net = self.random_network(make_generator(0))
            if not per_sample(net):
                raise ValueError(
                    f"net={self.config.net!r} uses batch statistics, which mix the classes of a batch, so its loss "
                    "cannot be split by classes over processes; use an instance-norm network (the default convnet) "
                    "or one process"
                )
            if self.config.lambda_inter:
                raise ValueError(
                    "lambda_inter couples the classes, so the loss cannot be split by classes over processes; "
                    "set lambda_inter=0 or run one process"
                )
            own = self.shard_classes
            self._real_groups = torch.arange(own.start, own.stop, device=self.device).repeat_interleave(self.batch_real)
        else:
            if self.batch_real < count:
                raise ValueError(f"batch_real ({self.batch_real}) must be >= the number of processes ({count})")
            mine = torch.tensor_split(torch.arange(self.batch_real), count)[index]
            starts = torch.arange(self.real.num_classes) * self.batch_real
            self._share = (starts.unsqueeze(1) + mine.unsqueeze(0)).flatten().to(self.device)

    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        net = self.network(iteration, generator)
        classes = self.shard_classes
        keep = classes if self.shard_count > 1 and self.sharding == "classes" else None
        real = self.real_batches.get(iteration, keep=keep)
        real = self.real.normalize(real.flatten(0, 1).to(self.device))
        syn, labels = self.representation.images(classes)
        real, syn = self.augment_pair(real, syn, labels, generator)
        if self._share is not None:
            real = real.index_select(0, self._share)
        feat_real, feat_syn = self.features(net, real, syn, len(classes))
        match = self.objective.compare(feat_real, feat_syn)
        loss, terms = match, {"match": match}
        weighted = {"match": match}
        regularizers = self.regularizers()
        if regularizers:
            embedding = feat_syn[-1].flatten(2)  # every built-in objective ends its features with the embedding
            for name, weight, fn in regularizers:
                terms[name] = fn(embedding)
                if self.config.regularizer_weights == "relative":
                    weight = weight * _ratio(match, terms[name])
                weighted[name] = weight * terms[name]
                loss = loss + weighted[name]
        self.terms = {name: float(value.detach()) for name, value in terms.items()}
        every = self.config.grad_norms_every
        self.grad_norms = {}
        if every and iteration % every == 0:
            parts = self.objective.parts(feat_real, feat_syn)
            weighted = {"match": match, **{f"match.{k}": v for k, v in parts.items()}, **weighted}
            self.grad_norms = self._grad_norms(weighted)
        return loss

    def close(self) -> None:
        self.real_batches.close()

    def diagnostics(self) -> dict[str, float]:
        """The unweighted terms and each weighted term's gradient norm (``grad_norm.NAME``), on the iterations
        ``grad_norms_every`` selects; ``{}`` otherwise."""
        if not self.grad_norms:
            return {}
        return {**self.terms, **{f"grad_norm.{name}": value for name, value in self.grad_norms.items()}}

    def _grad_norms(self, terms: dict[str, torch.Tensor]) -> dict[str, float]:
        """The L2 norm of each term's gradient over all of the representation's parameters (the graph is kept)."""
        params = self.representation.parameters()
        norms = {}
        for name, value in terms.items():
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            norms[name] = float(sum(g.float().pow(2).sum() for g in grads if g is not None) ** 0.5)
        return norms

    # -- the loop's parts --------------------------------------------------------------------------------------
    def random_network(self, generator: torch.Generator) -> torch.nn.Module:
        """A freshly initialized, frozen feature extractor (in training mode)."""
        c, h, w = self.real.image_shape
        net = get_network(
            self.config.net,
            channels=c,
            num_classes=self.real.num_classes,
            image_size=(h, w),
            generator=generator,
            device=self.device,
        )
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
        return net

    def pool_networks(self) -> list[torch.nn.Module]:
        """The trained pool (``config.pool`` networks; empty without one), trained or loaded from cache at first use."""
        cfg = self.config
        if self._pool is None:
            self._pool = []
            if cfg.pool:
                kwargs = {"arch": cfg.net, "count": cfg.pool, "epochs": cfg.pool_epochs, "seed": self._pool_seed}
                self._pool = trained_networks(self.real, **kwargs, device=self.device)
        return self._pool

    def network(self, iteration: int, generator: torch.Generator) -> torch.nn.Module:
        """The network of ``iteration``: drawn from ``generator`` every ``iters_per_net`` iterations.

        A fresh random one; with a trained pool, a member drawn uniformly (or, with probability ``pool_fresh``, a
        fresh random one).
        """
        every = self.config.iters_per_net
        if self.config.pool:
            return self._pool_network(iteration, generator)
        if every == 1:
            return self.random_network(generator)
        if iteration % every == 0 or self._net_seed is None:
            self._net_seed = int(torch.randint(0, 2**62, (), generator=generator))
            self._net = None
        if self._net is None:
            self._net = self.random_network(make_generator(self._net_seed))
        return self._net

    def _pool_network(self, iteration: int, generator: torch.Generator) -> torch.nn.Module:
        cfg = self.config
        if iteration % cfg.iters_per_net == 0 or self._member is None:
            fresh = cfg.pool_fresh and float(torch.rand((), generator=generator)) < cfg.pool_fresh
            if fresh:
                self._member, self._net = -1, None
                self._net_seed = int(torch.randint(0, 2**62, (), generator=generator))
            else:
                self._member = int(torch.randint(0, cfg.pool, (), generator=generator))
        if self._member >= 0:
            return self.pool_networks()[self._member]
        if self._net is None:
            self._net = self.random_network(make_generator(self._net_seed))
        return self._net

    def _load_member(self, state: dict[str, torch.Tensor], index: int) -> torch.nn.Module:
        """Pool member ``index`` from the ``pool.<index>.*`` tensors of ``state`` (removed from it)."""
        prefix = f"pool.{index}."
        net = self.random_network(make_generator(0))
        net.load_state_dict(
            {k[len(prefix) :]: state.pop(k).to(self.device) for k in list(state) if k.startswith(prefix)}
        )
        return net

    def augment_pair(
        self, real: torch.Tensor, syn: torch.Tensor, labels: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one DSA draw per class to that class's real and synthetic (labelled ``labels``) images alike."""
        if self.dsa is None:
            return real, syn
        # One draw for every class, even when sharded: every process consumes the same random stream.
        draw = self.dsa.draw(self.real.num_classes, image_size=tuple(real.shape[-2:]), generator=generator)
        return self.dsa.apply(real, draw, group=self._real_groups), self.dsa.apply(syn, draw, group=labels)

    def features(
        self, net: torch.nn.Module, real: torch.Tensor, syn: torch.Tensor, num_classes: int
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The objective's per-class features ``(K, B, ...)`` of class-major ``real`` (no gradient) and ``syn``: both
        hold the same ``num_classes`` classes, each class equally often within a batch."""
        features = self.objective.features
        chunk = pass_size(real.shape, self.CHUNK_PIXELS)
        if per_sample(net):  # <= 256 images: at 512 a DM iteration's peak was 580 MiB higher on CPU, no faster
            chunk = min(256, chunk)
        with no_grad_pass(real.device):  # in the run's inference kernels (nn.kernels)
            chunks = [features(net, part) for part in real.split(chunk)]
            feat_real = tuple(torch.cat(p).unflatten(0, (num_classes, -1)) for p in zip(*chunks, strict=True))
            if current_kernels() == "bf16":  # the real side alone ran in bf16: compare in float32
                feat_real = tuple(f.float() for f in feat_real)
        syn_chunk = backward_pass_size(syn.shape, len(syn), self.CHUNK_PIXELS)
        if syn_chunk == len(syn) or not per_sample(net):
            out = features(net, syn)  # (batch statistics would differ by chunk: one pass)
        else:  # keep one chunk's activations at a time; backward recomputes them
            chunks = [checkpoint(features, net, part, use_reentrant=False) for part in syn.split(syn_chunk)]
            out = tuple(torch.cat(parts) for parts in zip(*chunks, strict=True))
        feat_syn = tuple(f.unflatten(0, (num_classes, -1)) for f in out)
        return feat_real, feat_syn


@dataclass
class PixelConfig(MatchingConfig):
    """The matching loop's options plus those of optimized pixels.

    Attributes:
        lr_img: SGD learning rate on the synthetic images (normalized space).
        momentum: SGD momentum on the synthetic images.
        init: ``"real"`` (random real images of each class), ``"medoids"`` (per-class k-means medoids) or
            ``"noise"``; see :mod:`condensed_data.condense.representations.pixels`.
        factor: Multi-formation: each stored image holds ``factor x factor`` tiles decoded into as many training
            images (IDC's idea); the storage stays ``ipc`` images per class, the set trains on ``ipc * factor**2``.
        clamp: After every optimizer step, clamp the images to the valid pixel range ([0, 1] in pixel space, as
            normalized values), as M3D's code does with its [0, 1] images; DM's and DataDAM's code do not.
    """

    lr_img: float = 1.0
    momentum: float = 0.5
    init: str = "real"
    factor: int = 1
    clamp: bool = False

    def __post_init__(self) -> None:
        if not self.lr_img > 0:
            raise ValueError(f"lr_img must be > 0, got {self.lr_img}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(map(repr, INITS))}, got {self.init!r}")
        require_positive_ints(self, "factor")
        super().__post_init__()


def _ratio(match: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
    """``|match| / |term|``, detached; 0 where ``term`` is 0 (a term with nothing to say gets no weight)."""
    match, term = match.detach().abs(), term.detach().abs()
    return torch.where(term > 0, match / term.clamp_min(torch.finfo(term.dtype).tiny), torch.zeros_like(term))


class PixelMethod(MatchingMethod):
    """The recipe base of pixel methods (DM, ATOM, ECHO): pixels, SGD with momentum, the config's objective."""

    config_class: ClassVar[type[MethodConfig]] = PixelConfig
    representation_class: ClassVar[type[Representation]] = Pixels

    def build_representation(self, generator: torch.Generator) -> Representation:
        cfg = self.config
        return Pixels(
            self.real,
            ipc=self.ipc,
            init=cfg.init,
            lr=cfg.lr_img,
            factor=cfg.factor,
            device=self.device,
            generator=generator,
        )

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.representation.param_groups(), momentum=self.config.momentum)

    def after_step(self) -> None:
        if self.config.clamp:
            self.representation.clamp_()
