"""The method contract: what a condensation method provides to the driver.

A method owns the synthetic parameters (its *representation*) and computes one iteration's loss (its
*objective*). The driver (:mod:`condensed_data.condense`) owns everything else: the loop, the optimizer steps,
progress, checks for NaN, checkpoints, evaluation and export. Plugins register a :class:`Method` subclass under
the entry-point group ``condensed_data.methods``; :func:`condensed_data.testing.check_method` checks one.

Most distribution-matching methods differ only in how they compare real and synthetic features; they subclass
:class:`FeatureMatchingMethod` and implement :meth:`FeatureMatchingMethod.match`.

>>> from condensed_data.registry import get_method
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

from condensed_data.augment import DSA
from condensed_data.data import RealDataset
from condensed_data.nn import get_network
from condensed_data.sources.tensors import save_tensors

__all__ = ["MethodConfig", "Method", "PixelSet", "FeatureMatchingConfig", "FeatureMatchingMethod"]


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
        return cls(**data)


class Method(ABC):
    """A condensation method. Subclasses set ``name`` and ``config_class`` and implement the abstract methods.

    Args:
        real: The real training data (class-indexed).
        ipc: Images per class of the condensed set.
        config: The method's configuration (defaults when omitted).
        device: Where to compute.
        generator: The source of every random draw made while initializing.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[MethodConfig]] = MethodConfig
    kind: ClassVar[str] = "tensors"
    default_iterations: ClassVar[int] = 1000

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
    """

    lr_img: float = 1.0
    momentum: float = 0.5
    batch_real: int = 256
    init: str = "real"
    net: str = "convnet"
    dsa_strategy: str = "color_crop_cutout_flip_scale_rotate"

    def __post_init__(self) -> None:
        if self.lr_img <= 0:
            raise ValueError(f"lr_img must be > 0, got {self.lr_img}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.batch_real < 1:
            raise ValueError(f"batch_real must be >= 1, got {self.batch_real}")
        if self.init not in ("real", "noise"):
            raise ValueError(f"init must be 'real' or 'noise', got {self.init!r}")


class FeatureMatchingMethod(Method):
    """Pixels optimized so that random networks see the same class statistics in real and synthetic batches.

    Every iteration draws a fresh randomly initialized network (frozen), a real batch of ``batch_real`` images
    per class, and one DSA draw per class applied to that class's real *and* synthetic images (Siamese). All
    classes go through the network in one forward pass for real and one for synthetic images. Subclasses define
    :meth:`match` on the per-class features.
    """

    config_class: ClassVar[type[MethodConfig]] = FeatureMatchingConfig
    REAL_CHUNK: ClassVar[int] = 512

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
        self.pixels = PixelSet(real, ipc=ipc, init=cfg.init, device=self.device, generator=generator)
        self.dsa = None if cfg.dsa_strategy == "none" else DSA(cfg.dsa_strategy)
        self.batch_real = min(cfg.batch_real, min(real.class_counts()))
        k = real.num_classes
        self._real_groups = torch.arange(k, device=self.device).repeat_interleave(self.batch_real)

    def parameters(self) -> list[torch.Tensor]:
        return [self.pixels.images]

    def make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.config.lr_img, momentum=self.config.momentum)

    def synthetic(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pixels.pixels(), self.pixels.labels.cpu()

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

    def augment_pair(
        self, real: torch.Tensor, syn: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Apply one DSA draw per class to that class's real and synthetic images alike."""
        if self.dsa is None:
            return real, syn
        draw = self.dsa.draw(self.real.num_classes, image_size=tuple(real.shape[-2:]), generator=generator)
        return self.dsa.apply(real, draw, group=self._real_groups), self.dsa.apply(syn, draw, group=self.pixels.labels)

    def loss(self, *, iteration: int, generator: torch.Generator) -> torch.Tensor:
        k, b = self.real.num_classes, self.batch_real
        net = self.random_network(generator)
        real = self.real.sample_per_class(b, generator=generator).flatten(0, 1).to(self.device)
        real = self.real.normalize(real)
        real, syn = self.augment_pair(real, self.pixels.images, generator)
        with torch.no_grad():
            # Chunks keep activation buffers small: one 2560-image forward pass is memory-bound on CPUs.
            feat_real = torch.cat([net.embed(chunk) for chunk in real.split(self.REAL_CHUNK)]).reshape(k, b, -1)
        feat_syn = net.embed(syn).reshape(k, self.ipc, -1)
        return self.match(feat_real, feat_syn)

    @abstractmethod
    def match(self, feat_real: torch.Tensor, feat_syn: torch.Tensor) -> torch.Tensor:
        """Scalar loss from per-class features ``(K, B, D)`` (real, no grad) and ``(K, ipc, D)`` (synthetic)."""
