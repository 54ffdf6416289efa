"""The representation contract: what a method optimizes, and how it becomes images (training wing).

A :class:`Representation` owns the learnable tensors of a condensed set and turns them into images. It knows
nothing of objectives, networks or augmentation: the matching loop (:mod:`condensed_data.condense.matching`)
asks it for a block of classes' images and back-propagates into its parameters. What it must provide:

* **parameters and optimizer groups**: :meth:`parameters` (leaf tensors) and :meth:`param_groups` (each group with
  its own learning rate), from which the method's recipe builds its optimizer;
* **initialization from real data**: its constructor takes the real data, the images per class and the one
  ``torch.Generator`` every random draw comes from;
* :meth:`images` — differentiable images and their labels for a block of classes, in *normalized* space (what
  networks see); any number of images per class, class-major. A representation that decodes to pixel space
  implements :meth:`generate` and gets :meth:`images` and :meth:`pixels` from it; one that holds normalized images
  (pixels) overrides :meth:`images` and :meth:`pixels` instead;
* **checkpoint state** beyond the parameters (:meth:`extra_state`, e.g. fixed sampling noise);
* its **sharding kind** (:attr:`sharding`): ``"classes"`` if every parameter is class-major and a class's images
  depend only on its own rows (each process optimizes its own classes), ``"data"`` if parameters are shared (a
  generator: gradients are averaged over processes);
* :meth:`export` — the artifact files of its :attr:`kind`, which the loading wing's Source of that kind reads back
  (``tensors``: :mod:`condensed_data.sources.tensors`; ``generator``; ``latent-diffusion``).

Built in: :class:`~condensed_data.condense.representations.pixels.Pixels` (DM, ATOM, ECHO),
:class:`~condensed_data.condense.representations.generator.GeneratorCodes` (DCGM) and
:class:`~condensed_data.condense.representations.latent_diffusion.DiffusionLatents` (LD3M).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import torch

from condensed_data.artifact.manifest import Decode
from condensed_data.data import RealSource

__all__ = ["Representation"]


class Representation(ABC):
    """Learnable tensors of a condensed set and the rule that turns them into images.

    Args:
        real: The real training data: classes, image shape and normalization come from it.
        ipc: Images per class the condensed set stores.
        device: Where the parameters live.

    Attributes:
        kind: The artifact kind :meth:`export` writes.
        sharding: ``"classes"`` or ``"data"`` (see the module docstring).
        labels: The class of every item, class-major (``ipc`` per class unless the representation decodes each
            stored image into several items).
        decode: The artifact's decode block when stored images decode into several items (multi-formation),
            ``None`` otherwise.
    """

    kind: ClassVar[str]
    sharding: ClassVar[str]

    def __init__(self, real: RealSource, *, ipc: int, device: torch.device) -> None:
        self.real = real
        self.ipc = ipc
        self.device = torch.device(device)
        self.labels = torch.arange(real.num_classes, device=self.device).repeat_interleave(ipc)
        self.decode: Decode | None = None

    @abstractmethod
    def parameters(self) -> list[torch.Tensor]:
        """The leaf tensors the optimizer updates (class-major when :attr:`sharding` is ``"classes"``)."""

    def param_groups(self) -> list[dict[str, Any]]:
        """Optimizer parameter groups (``{"params": [...], "lr": ...}``); default: one group, the recipe's lr."""
        return [{"params": self.parameters()}]

    def generate(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable pixel-space images and their labels for the block ``classes`` (decoding representations)."""
        raise NotImplementedError(f"{type(self).__name__} implements neither generate() nor images()")

    def images(self, classes: range) -> tuple[torch.Tensor, torch.Tensor]:
        """Differentiable images in normalized space and their labels, for the block ``classes``, class-major."""
        images, labels = self.generate(classes)
        return self.real.normalize(images), labels

    @torch.no_grad()
    def pixels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole condensed set in pixel space and its labels, detached, on the CPU."""
        images, labels = self.generate(range(self.real.num_classes))
        return images.float().cpu(), labels.cpu()

    def extra_state(self) -> dict[str, torch.Tensor]:
        """State needed to resume besides :meth:`parameters` (default: none)."""
        return {}

    def load_extra_state(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`extra_state` output (default: nothing to restore)."""
        if state:
            raise ValueError(f"{type(self).__name__} has no extra state, got {sorted(state)}")

    @abstractmethod
    def export(self, folder: Path) -> None:
        """Write the artifact's data files of :attr:`kind` into ``folder``."""

    def rows(self, classes: range) -> slice:
        """The rows of the block ``classes`` in class-major parameters of ``ipc`` rows per class."""
        return slice(classes.start * self.ipc, classes.stop * self.ipc)
