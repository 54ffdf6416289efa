"""The method contract: what a condensation method provides to the driver.

A method owns the synthetic parameters (its *representation*) and computes one iteration's loss (its
*objective*). The driver (:mod:`condensed_data.condense.driver`) owns everything else: the loop, the optimizer steps,
progress, checks for NaN, checkpoints, evaluation and export. Plugins register a :class:`Method` subclass under
the entry-point group ``condensed_data.methods``; :func:`condensed_data.testing.check_method` checks one.

Most distribution-matching methods differ only in how they compare real and synthetic features (their
*objective*, :mod:`condensed_data.condense.objectives`); they subclass :class:`FeatureMatchingMethod` and name an objective
in their config, or override :meth:`FeatureMatchingMethod.build_objective` to bring their own.

Several processes: a method says how a run may be split over processes with :attr:`Method.sharding`, and the
driver calls :meth:`Method.shard` once before the first iteration of a multi-process run (see
:mod:`condensed_data.condense.processes`). Per-class representations (pixels) are ``"classes"``: each process optimizes a
disjoint block of classes; shared representations (a generator) are ``"data"``: gradients are averaged.

>>> from condensed_data.condense.registry import get_method
>>> get_method("dm").name
'dm'
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.condense.augment import DSA
from condensed_data.condense.objectives import Objective, make_objective
from condensed_data.condense.processes import class_block
from condensed_data.data import RealDataset
from condensed_data.nn import get_network
from condensed_data.seeding import make_generator
from condensed_data.sources.tensors import save_tensors

__all__ = [
    "MethodConfig",
    "Method",
    "PixelSet",
    "FeatureMatchingConfig",
    "RandomNetworkMethod",
    "FeatureMatchingMethod",
]


@dataclass
class MethodConfig:
    """Base class of method configurations: a dataclass of JSON-serializable hyperparameters with defaults."""

    def to_dict(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MethodConfig:
        """Build from a dict, rejecting unknown keys with a message that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown option(s) {unknown} for {cls.__name__}; known options: {', '.join(sorted(known))}"
            )
        for f in dataclasses.fields(cls):
            if f.name in data:
                _check_type(f, data[f.name])
        return cls(**data)


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string", dict: "a group of options"}


def _check_type(f: dataclasses.Field, value: Any) -> None:
    """Reject a value whose JSON type differs from the field default's (ints are accepted for floats)."""
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    expected = type(default)
    if expected not in _KINDS:
        return
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    ok = ok or (expected is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise ValueError(f"option {f.name} expects {_KINDS[expected]} (like {default!r}), got {value!r}")


class Method(ABC):
    """A condensation method. Subclasses set ``name`` and ``config_class`` and implement the abstract methods.

    Args:
        real: The real training data (class-indexed).
        ipc: Images per class of the condensed set.
        config: The method's configuration (defaults when omitted).
        device: Where to compute.
        generator: The source of every random draw made while initializing.

    Attributes:
        sharding: How the driver may split a run over several processes.
            ``"none"`` (the default): one process only.
            ``"classes"``: a per-class representation. Every parameter is class-major (``shape[0]`` is
            ``num_classes * rows``, class ``c`` owning rows ``c * rows`` to ``(c + 1) * rows``), the loss is a sum
            of per-class terms each depending only on that class's rows, and the optimizer is element-wise (SGD,
            Adam). After :meth:`shard`, :meth:`loss` returns the sum over :attr:`shard_classes` only, drawing
            exactly the random numbers a single process draws (draw everything, use your classes), so a sharded
            run gives the single-process result. The driver gathers the rows from their owners.
            ``"data"``: a shared representation (e.g. a generator). Every process holds all parameters and
            computes the loss on its share of the data (:attr:`shard_index` of :attr:`shard_count`); the driver
            averages gradients over processes after ``backward``, as DDP (``accelerator.prepare`` +
            ``accelerator.backward``) would, so parameters stay identical everywhere. For the sum of the shares'
            losses to be the full loss, each share should be a mean over equally many samples.
        shard_index, shard_count: This process and the number of processes (0 and 1 unless sharded).
        shard_classes: The classes this process optimizes (all unless sharded by classes).
    """

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    kind: ClassVar[str] = "tensors"
    default_iterations: ClassVar[int] = 1000
    sharding: ClassVar[str] = "none"

    def __init__(
        self,
        real: RealDataset,
        *,
        ipc: int,
        config: MethodConfig | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        if not isinstance(ipc, int) or ipc < 1:
            raise ValueError(f"images per class must be an integer >= 1, got {ipc!r}")
        counts = real.class_counts()
        smallest = min(range(len(counts)), key=counts.__getitem__)
        if ipc > counts[smallest]:
            raise ValueError(
                f"images per class ({ipc}) exceeds the size of class {real.classes[smallest]!r} "
                f"({counts[smallest]} images) in {real.name}/{real.split}; choose --ipc <= {counts[smallest]}"
            )
        self.config = config if config is not None else self.config_class()
        if not isinstance(self.config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(self.config).__name__}"
            )
        self.real = real
        self.ipc = ipc
        self.device = torch.device(device)
        self.shard_index, self.shard_count = 0, 1
        self.shard_classes: range = range(real.num_classes)

    def shard(self, index: int, count: int) -> None:
        """Take this process's share of a run over ``count`` processes (see :attr:`sharding`).

        The driver calls it once, before the first :meth:`loss`, only when ``count > 1``. Subclasses that need
        to prepare for their share extend it (and call ``super().shard``).

        Raises:
            ValueError: the method runs as one process only, or there are more processes than classes.
        """
        if self.sharding not in ("classes", "data"):
            raise ValueError(
                f"method {type(self).__name__} runs as one process only (its sharding is {self.sharding!r}); "
                "launch it without torchrun/accelerate, or declare sharding = 'classes' or 'data' (see Method)"
            )
        if self.sharding == "classes":
            self.shard_classes = class_block(self.real.num_classes, index, count)
        self.shard_index, self.shard_count = index, count

    @abstractmethod
    def parameters(self) -> list[torch.Tensor]:
        """The tensors the optimizer updates."""

    @abstractmethod
    def make_optimizer(self) -> torch.optim.Optimizer:
        """A fresh optimizer over :meth:`parameters`, configured from ``self.config``."""

    @abstractmethod
    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        """One iteration's scalar loss; every random draw comes from ``generator``."""

    @abstractmethod
    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The current condensed set: pixel-space images ``(N, C, H, W)`` and labels, detached, on the CPU."""

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to resume (default: the parameters)."""
        return {f"param.{i}": p.detach().clone() for i, p in enumerate(self.parameters())}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict` output."""
        params = self.parameters()
        if len(state) != len(params):
            raise ValueError(f"state has {len(state)} tensors, {type(self).__name__} has {len(params)} parameters")
        for i, p in enumerate(params):
            saved = state[f"param.{i}"]
            if tuple(saved.shape) != tuple(p.shape):  # copy_ would broadcast a wrong shape silently
                raise ValueError(f"state tensor param.{i} has shape {list(saved.shape)}, expected {list(p.shape)}")
        with torch.no_grad():
            for i, p in enumerate(params):
                p.copy_(state[f"param.{i}"])

    def export(self, folder: Path) -> None:
        """Write the artifact's data files into ``folder`` (default: ``images.safetensors``, kind ``tensors``)."""
        images, labels = self.synthetic()
        save_tensors(folder, images, labels)


class PixelSet:
    """Learnable synthetic images, ``ipc`` per class in class-major order, held in normalized space.

    Args:
        real: Real data to initialize from and to take normalization and shape from.
        ipc: Images per class.
        init: ``"real"`` (random real images of each class, as DM does) or ``"noise"`` (standard normal).
        device: Where the images live.
        generator: Source of the random choices.
    """

    def __init__(
        self, real: RealDataset, *, ipc: int, init: str, device: torch.device, generator: torch.Generator
    ) -> None:
        k = real.num_classes
        if init == "real":
            images = real.normalize(real.sample_per_class(ipc, generator=generator).flatten(0, 1))
        elif init == "noise":
            images = torch.randn((k * ipc, *real.image_shape), generator=generator)
        else:
            raise ValueError(f"init must be 'real' or 'noise', got {init!r}")
        self.real = real
        self.images = images.to(device).requires_grad_(True)
        self.labels = torch.arange(k, device=device).repeat_interleave(ipc)

    def pixels(self) -> torch.Tensor:
        """Detached pixel-space copy on the CPU."""
        return self.real.denormalize(self.images.detach()).cpu()


@dataclass
class FeatureMatchingConfig(MethodConfig):
    """Options shared by methods that match features of real and synthetic images under random networks.

    Attributes:
        lr_img: SGD learning rate on the synthetic images (normalized space).
        momentum: SGD momentum on the synthetic images.
        batch_real: Real images per class per iteration.
        init: ``"real"`` or ``"noise"``.
        net: Architecture of the random feature extractor (see :func:`condensed_data.nn.list_networks`).
        dsa_strategy: Siamese augmentation ops, ``"none"`` to disable.
        objective: How features are compared: ``"dm"``, ``"atom"`` or ``"echo"`` (see
            :mod:`condensed_data.condense.objectives`).
        objective_options: Options of the objective (e.g. ``{"power": 4}`` for ``atom``); its defaults otherwise.
        iters_per_net: Iterations that share one random network (M3D's "iteration per random model"; DM: 1).
    """

    lr_img: float = 1.0
    momentum: float = 0.5
    batch_real: int = 256
    init: str = "real"
    net: str = "convnet"
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"
    objective: str = "dm"
    objective_options: dict[str, Any] = dataclasses.field(default_factory=dict)
    iters_per_net: int = 1

    def __post_init__(self) -> None:
        if self.lr_img <= 0:
            raise ValueError(f"lr_img must be > 0, got {self.lr_img}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.batch_real < 1:
            raise ValueError(f"batch_real must be >= 1, got {self.batch_real}")
        if self.init not in ("real", "noise"):
            raise ValueError(f"init must be 'real' or 'noise', got {self.init!r}")
        if not isinstance(self.iters_per_net, int) or self.iters_per_net < 1:
            raise ValueError(f"iters_per_net must be an integer >= 1, got {self.iters_per_net!r}")
        make_objective(self.objective, self.objective_options)  # named errors now, not at the first iteration


class RandomNetworkMethod(Method):
    """A method that compares real and synthetic batches under randomly initialized, frozen networks.

    It provides what DM-style methods share whatever they optimize: the random network of each iteration (a fresh
    one every ``iters_per_net`` iterations, rebuilt from its seed after a resume), one Siamese DSA draw per class
    (:meth:`augment_pair`) and the per-class features of both batches (:meth:`features`). Subclasses set
    ``self.dsa``, ``self.batch_real``, ``self._real_groups`` and ``self._syn_groups`` (the class of every real and
    synthetic image) and ``self.objective``; their config has ``net`` and ``iters_per_net``.
    """

    REAL_CHUNK: ClassVar[int] = 512
    objective: Objective
    dsa: DSA | None
    batch_real: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._net: torch.nn.Module | None = None
        self._net_seed: int | None = None

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = super().state_dict()
        if self.config.iters_per_net > 1:
            # The shared network is rebuilt from its seed, so a run resumed mid-way keeps using the same one.
            state["net_seed"] = torch.tensor(-1 if self._net_seed is None else self._net_seed)
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        seed = state.pop("net_seed", None)
        super().load_state_dict(state)
        self._net = None
        self._net_seed = None if seed is None or int(seed) < 0 else int(seed)

    def own_rows(self) -> slice:
        """After a shard by classes: this process's rows of the class-major synthetic set (``ipc`` per class).

        Also checks that the network keeps classes apart (no batch statistics) and restricts the real batch's
        classes (``_real_groups``) to :attr:`shard_classes`.

        Raises:
            ValueError: the network normalizes with batch statistics, which mix the classes of a batch.
        """
        net = self.random_network(make_generator(0))
        if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
            raise ValueError(
                f"net={self.config.net!r} uses batch statistics, which mix the classes of a batch, so its loss cannot "
                "be split by classes over processes; use an instance-norm network (the default convnet) or one process"
            )
        own = self.shard_classes
        self._real_groups = torch.arange(own.start, own.stop, device=self.device).repeat_interleave(self.batch_real)
        return slice(own.start * self.ipc, own.stop * self.ipc)

    def random_network(self, generator: torch.Generator) -> torch.nn.Module:
        """A freshly initialized, frozen feature extractor."""
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

    def network(self, iteration: int, generator: torch.Generator) -> torch.nn.Module:
        """The random network of ``iteration``: drawn from ``generator`` every ``iters_per_net`` iterations."""
        every = self.config.iters_per_net
        if every == 1:
            return self.random_network(generator)
        if iteration % every == 0 or self._net_seed is None:
            self._net_seed = int(torch.randint(0, 2**62, (), generator=generator))
            self._net = None
        if self._net is None:
            self._net = self.random_network(make_generator(self._net_seed))
        return self._net

    def augment_pair(
        self, real: torch.Tensor, syn: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one DSA draw per class to that class's real and synthetic images alike."""
        if self.dsa is None:
            return real, syn
        # One draw for every class, even when sharded: every process consumes the same random stream.
        draw = self.dsa.draw(self.real.num_classes, image_size=tuple(real.shape[-2:]), generator=generator)
        return self.dsa.apply(real, draw, group=self._real_groups), self.dsa.apply(syn, draw, group=self._syn_groups)

    def features(
        self, net: torch.nn.Module, real: torch.Tensor, syn: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The objective's per-class features ``(K, B, ...)`` of class-major ``real`` (no gradient) and ``syn``.

        ``syn`` holds ``ipc`` images of each of its ``K`` classes; ``real`` the same classes, equally many each.
        """
        k = syn.shape[0] // self.ipc
        features = self.objective.features
        with torch.no_grad():
            # Chunks keep activation buffers small: one 2560-image forward pass is memory-bound on CPUs.
            chunks = [features(net, chunk) for chunk in real.split(self.REAL_CHUNK)]
            feat_real = tuple(torch.cat(parts).unflatten(0, (k, -1)) for parts in zip(*chunks, strict=True))
        feat_syn = tuple(f.unflatten(0, (k, -1)) for f in features(net, syn))
        return feat_real, feat_syn


class FeatureMatchingMethod(RandomNetworkMethod):
    """Pixels optimized so that random networks see the same class statistics in real and synthetic batches.

    Every iteration takes a randomly initialized network (frozen; a fresh one every ``iters_per_net``
    iterations), a real batch of ``batch_real`` images per class, and one DSA draw per class applied to that
    class's real *and* synthetic images (Siamese). All classes go through the network in one forward pass for real
    images (in chunks, without gradients) and one for synthetic images; the objective (:meth:`build_objective`,
    by default the one the config names) turns the per-class features into the loss.
    """

    config_class: ClassVar[type[MethodConfig]] = FeatureMatchingConfig
    sharding: ClassVar[str] = "classes"

    def __init__(
        self,
        real: RealDataset,
        *,
        ipc: int,
        config: MethodConfig | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator,
    ) -> None:
        super().__init__(real, ipc=ipc, config=config, device=device, generator=generator)
        cfg = self.config
        self.objective = self.build_objective()
        self.pixels = PixelSet(real, ipc=ipc, init=cfg.init, device=self.device, generator=generator)
        self.dsa = None if cfg.dsa_strategy == "none" else DSA(cfg.dsa_strategy)
        self.batch_real = min(cfg.batch_real, min(real.class_counts()))
        k = real.num_classes
        self._real_groups = torch.arange(k, device=self.device).repeat_interleave(self.batch_real)
        self._syn_groups = self.pixels.labels
        self._rows: slice | None = None  # this process's rows of the images when sharded by classes

    def shard(self, index: int, count: int) -> None:
        super().shard(index, count)
        self._rows = self.own_rows()
        self._syn_groups = self.pixels.labels[self._rows]

    def build_objective(self) -> Objective:
        """The objective this method optimizes; override to plug in one of your own."""
        return make_objective(self.config.objective, self.config.objective_options)

    def parameters(self) -> list[torch.Tensor]:
        return [self.pixels.images]

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.config.lr_img, momentum=self.config.momentum)

    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pixels.pixels(), self.pixels.labels.cpu()

    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        net = self.network(iteration, generator)
        keep = None if self._rows is None else self.shard_classes
        real = self.real.sample_per_class(self.batch_real, generator=generator, keep=keep)
        real = self.real.normalize(real.flatten(0, 1).to(self.device))
        syn = self.pixels.images if self._rows is None else self.pixels.images[self._rows]
        real, syn = self.augment_pair(real, syn, generator)
        return self.match(net, real, syn)

    def match(self, net: torch.nn.Module, real: torch.Tensor, syn: torch.Tensor) -> torch.Tensor:
        """The objective's loss for class-major batches ``real`` (``batch_real`` per class) and ``syn``."""
        return self.objective.compare(*self.features(net, real, syn))
