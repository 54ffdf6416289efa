"""Class-conditional generator architectures that artifacts name in ``config.json``, and their save/load format.

A generator folder (a DCGM artifact's ``generator/``, or a prior from ``condensed-data prior``) holds:

- ``config.json``: ``{"format": "condensed-data/generator", "architecture": NAME, "library_version": ...,
  "config": {...}}``; ``NAME`` picks a class of this library's registry (:func:`list_architectures`), never code
  from the folder;
- ``model.safetensors``: the weights (``state_dict`` of that class built from ``config``);
- ``codes.safetensors`` (artifacts only): the learned per-image codes ``(N, latent_dim)`` and their labels ``(N,)``.

A generator maps latent codes ``(N, latent_dim)`` and class labels ``(N,)`` to images in pixel space ``[0, 1]``
``(N, C, H, W)``. Every per-sample computation is independent of the other samples of the batch (group norm, no
batch statistics), so a sample's image does not depend on what it is batched with (up to float rounding).

This module is loading side (:mod:`condensed_data.sources.generator` rebuilds generators with it), which is why it
does not live under :mod:`condensed_data.nn`: that package belongs to the training side and would load every
classification network into each DataLoader worker. Initialization from a ``torch.Generator`` (training) goes
through :func:`condensed_data.nn.init.build`.

>>> config = ConditionalGeneratorConfig(num_classes=10, image_shape=(1, 28, 28))
>>> net = build_architecture(ARCHITECTURE, config.to_dict())  # weights uninitialized: load or init them
>>> tuple(net.output_shape)
(1, 28, 28)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from condensed_data._version import __version__

__all__ = [
    "ARCHITECTURE",
    "CONFIG_FILE",
    "WEIGHTS_FILE",
    "CODES_FILE",
    "GeneratorError",
    "ConditionalGeneratorConfig",
    "ConditionalGenerator",
    "register_architecture",
    "list_architectures",
    "architecture_of",
    "build_architecture",
    "save_generator",
    "read_generator",
    "instantiate",
    "load_generator",
    "save_codes",
    "load_codes",
    "parameter_count",
]

ARCHITECTURE = "conditional-dcgan"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CODES_FILE = "codes.safetensors"
_FORMAT = "condensed-data/generator"


class GeneratorError(RuntimeError):
    """A generator folder that cannot be used; the message names the file and what to do."""


@dataclass(frozen=True)
class ConditionalGeneratorConfig:
    """Sizes of :class:`ConditionalGenerator` (our design; DCGM's architecture is not public).

    Attributes:
        num_classes: Number of classes (rows of the label embedding).
        image_shape: ``(channels, height, width)`` of the output.
        latent_dim: Width of a latent code.
        embed_dim: Width of the label embedding concatenated to the code.
        width: Channels of the first upsampling stage (the projection has twice as many, later stages half).
    """

    num_classes: int
    image_shape: tuple[int, int, int]
    latent_dim: int = 64
    embed_dim: int = 32
    width: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        for name in ("num_classes", "latent_dim", "embed_dim", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"generator config: {name} must be a positive integer, got {value!r}")
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(f"generator config: image_shape must be [channels, height, width], got {self.image_shape}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        data = dataclasses.asdict(self)
        data["image_shape"] = list(self.image_shape)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConditionalGeneratorConfig:
        """Build from :meth:`to_dict` output; unknown or missing fields are errors that name them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"generator config: unknown field(s) {unknown}; known: {', '.join(sorted(known))}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"generator config: {exc}") from None


def _stages(height: int, width: int) -> int:
    """Upsampling stages from a start of at most 4x4: 28 -> 3 (4 -> 32, cropped), 8 -> 1, 32 -> 3, 128 -> 5."""
    return max(0, math.ceil(math.log2(max(min(height, width), 1) / 4)))


class ConditionalGenerator(nn.Module):
    """A small DCGAN-style class-conditional generator (our architecture).

    ``[code, embed(label)]`` -> linear -> ``(c0, h0, w0)`` -> ``stages`` x (nearest 2x upsample, 3x3 conv, group norm,
    leaky ReLU) -> 3x3 conv -> sigmoid, with ``stages`` the fewest that start from at most 4x4 and
    ``h0 = ceil(H / 2**stages)``; when that overshoots (28x28 is made as 32x32) the centre ``H x W`` is kept. Stage channels are ``2 * width, width, width / 2, width / 2, ...`` (so the size grows
    slowly with the resolution). The label embedding is a bias-free linear map of the one-hot label (an embedding table
    that :func:`condensed_data.nn.init.reset_parameters` can initialize).
    """

    config_class: ClassVar[type] = ConditionalGeneratorConfig

    def __init__(self, config: ConditionalGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c, h, w = config.image_shape
        stages = _stages(h, w)
        channels = [max(1, config.width // 2, (2 * config.width) >> i) for i in range(stages + 1)]
        self.h0, self.w0 = math.ceil(h / 2**stages), math.ceil(w / 2**stages)
        self.output_shape = (c, h, w)
        self.label_embedding = nn.Linear(config.num_classes, config.embed_dim, bias=False)
        self.project = nn.Linear(config.latent_dim + config.embed_dim, channels[0] * self.h0 * self.w0)
        self.input_norm = nn.GroupNorm(_groups(channels[0]), channels[0])
        blocks: list[nn.Module] = []
        for cin, cout in zip(channels[:-1], channels[1:], strict=True):
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),  # the norm's shift makes a bias redundant
                nn.GroupNorm(_groups(cout), cout),
                nn.LeakyReLU(0.2),
            ]
        self.blocks = nn.Sequential(*blocks)
        self.to_image = nn.Conv2d(channels[-1], c, 3, padding=1)

    def forward(self, codes: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Images ``(N, C, H, W)`` in ``[0, 1]`` from codes ``(N, latent_dim)`` and integer labels ``(N,)``."""
        onehot = nn.functional.one_hot(labels.long(), self.config.num_classes).to(codes.dtype)
        x = self.project(torch.cat([codes, self.label_embedding(onehot)], dim=1))
        x = nn.functional.leaky_relu(self.input_norm(x.view(x.shape[0], -1, self.h0, self.w0)), 0.2)
        x = torch.sigmoid(self.to_image(self.blocks(x)))
        _, h, w = self.output_shape
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top : top + h, left : left + w]


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


_ARCHITECTURES: dict[str, type[nn.Module]] = {ARCHITECTURE: ConditionalGenerator}


def register_architecture(name: str, cls: type[nn.Module]) -> None:
    """Make ``name`` loadable: ``cls(cls.config_class.from_dict(config))`` builds it, ``cls(codes, labels)`` runs it.

    For a pretrained class-conditional generator of your own: register its class (from your installed code) before
    loading a folder that names it. Registering an existing name is an error.
    """
    if name in _ARCHITECTURES and _ARCHITECTURES[name] is not cls:
        raise ValueError(f"generator architecture {name!r} is already registered ({_ARCHITECTURES[name].__name__})")
    if not hasattr(cls, "config_class"):
        raise TypeError(f"{cls.__name__} needs a `config_class` with from_dict/to_dict to be registered")
    _ARCHITECTURES[name] = cls


def list_architectures() -> list[str]:
    """Registered generator architecture names."""
    return sorted(_ARCHITECTURES)


def architecture_of(module: nn.Module) -> str:
    """The registered name of ``module``'s class (to record it in ``config.json``)."""
    for name, cls in _ARCHITECTURES.items():
        if type(module) is cls:
            return name
    raise GeneratorError(
        f"{type(module).__name__} is not a registered generator architecture; register_architecture() it first"
    )


def build_architecture(name: str, config: dict[str, Any]) -> nn.Module:
    """Construct ``name`` from its config dict on the ``meta`` device (no memory, no random numbers drawn).

    Follow with ``module.to_empty(device=...)`` and load or initialize the weights.
    """
    cls = _ARCHITECTURES.get(name)
    if cls is None:
        raise GeneratorError(
            f"unknown generator architecture {name!r} (known: {', '.join(list_architectures())}); it comes from a "
            "newer condensed-data or a plugin: `pip install -U condensed-data`, or register_architecture() it"
        )
    with torch.device("meta"):
        return cls(cls.config_class.from_dict(dict(config)))


def parameter_count(name: str, config: dict[str, Any]) -> int:
    """Number of parameters of architecture ``name`` with ``config`` (nothing allocated)."""
    return sum(p.numel() for p in build_architecture(name, config).parameters())


def save_generator(
    folder: str | os.PathLike,
    module: nn.Module,
    *,
    architecture: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> None:
    """Write ``config.json`` and ``model.safetensors`` of ``module`` into ``folder`` (created if needed).

    ``architecture`` defaults to the registered name of ``module``'s class. ``provenance`` (JSON-ready: what the
    weights were trained on, how) is recorded in ``config.json``.

    Callers that need atomicity write into a temporary folder and rename it (see
    :func:`condensed_data.artifact.folder.save_artifact`).
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "format": _FORMAT,
        "architecture": architecture or architecture_of(module),
        "library_version": __version__,
        "config": module.config.to_dict(),
    }
    if provenance:
        config["provenance"] = provenance
    state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": _FORMAT})
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def _read_config(folder: Path) -> tuple[str, dict[str, Any]]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise GeneratorError(
            f"{path} is missing: a generator folder holds config.json and model.safetensors "
            "(write one with `condensed-data prior` or condense with --method dcgm)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GeneratorError(f"{path} is not valid JSON ({exc}); copy or download the folder again") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("config"), dict):
        raise GeneratorError(
            f"{path} is not a condensed-data generator config (expected keys format={_FORMAT!r}, architecture, config)"
        )
    return str(data.get("architecture")), data["config"]


def _read_safetensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise GeneratorError(f"{path} is missing: it holds the generator's {what}; copy or download the folder again")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GeneratorError(
            f"{path} is not a readable safetensors file ({exc}): truncated or corrupt; copy or download it again"
        ) from None


def read_generator(folder: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a generator folder without building the module: ``(architecture, config, weights)``.

    The weights are checked against the shapes the config implies (the module is built on the ``meta`` device,
    without memory), so a mismatch is reported here, not at the first generated image.

    Raises:
        GeneratorError: a missing or unreadable file, an unknown architecture, or weights that do not fit the
            config (the message names the tensor, both shapes and the fix).
    """
    folder = Path(folder)
    architecture, config = _read_config(folder)
    try:
        module = build_architecture(architecture, config)
    except ValueError as exc:
        raise GeneratorError(f"{folder / CONFIG_FILE}: {exc}") from None
    state = _read_safetensors(folder / WEIGHTS_FILE, "weights")
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [(k, tuple(state[k].shape), s) for k, s in expected.items() if k in state and tuple(state[k].shape) != s]
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"missing tensors {missing[:5]}")
        if unexpected:
            details.append(f"unexpected tensors {unexpected[:5]}")
        details += [f"{k} has shape {list(got)} but config.json implies {list(want)}" for k, got, want in wrong[:5]]
        raise GeneratorError(
            f"{folder / WEIGHTS_FILE} does not match {folder / CONFIG_FILE} ({architecture}): {'; '.join(details)}. "
            "The two files come from different generators: copy both from the same run (or re-export it)"
        )
    return architecture, dict(config), state


def instantiate(
    architecture: str, config: dict[str, Any], state: dict[str, torch.Tensor], *, device: torch.device | str = "cpu"
) -> nn.Module:
    """Build ``architecture`` from ``config`` and load ``state`` (as returned by :func:`read_generator`), in eval mode."""
    module = build_architecture(architecture, config).to_empty(device=device)
    module.load_state_dict({k: v.to(device) for k, v in state.items()})
    return module.eval()


def load_generator(folder: str | os.PathLike, *, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the generator of ``folder`` from the library's registry and load its weights (in eval mode).

    Raises:
        GeneratorError: see :func:`read_generator`.
    """
    architecture, config, state = read_generator(folder)
    return instantiate(architecture, config, state, device=device)


def save_codes(folder: str | os.PathLike, codes: torch.Tensor, labels: torch.Tensor) -> None:
    """Write ``codes.safetensors``: codes ``(N, latent_dim)`` float32 and labels ``(N,)`` int64."""
    from safetensors.torch import save_file

    tensors = {
        "codes": codes.detach().to("cpu", torch.float32).contiguous(),
        "labels": labels.detach().to("cpu", torch.int64).contiguous(),
    }
    save_file(tensors, str(Path(folder) / CODES_FILE), metadata={"format": _FORMAT})


def load_codes(folder: str | os.PathLike, *, latent_dim: int, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and check ``codes.safetensors`` against the generator's ``latent_dim`` and ``num_classes``."""
    path = Path(folder) / CODES_FILE
    tensors = _read_safetensors(path, "per-image codes")
    if set(tensors) != {"codes", "labels"}:
        raise GeneratorError(f"{path} must hold exactly 'codes' and 'labels', found {sorted(tensors)}")
    codes, labels = tensors["codes"], tensors["labels"]
    if codes.dim() != 2 or codes.shape[1] != latent_dim or not codes.is_floating_point():
        raise GeneratorError(
            f"{path}: codes have shape {list(codes.shape)} ({codes.dtype}), but the generator's config.json expects "
            f"float [N, {latent_dim}]; the files come from different runs: re-export the artifact"
        )
    if labels.shape != (codes.shape[0],) or labels.is_floating_point():
        raise GeneratorError(f"{path}: labels must be an integer tensor [{codes.shape[0]}], got {list(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise GeneratorError(f"{path}: labels must lie in [0, {num_classes - 1}]")
    return codes.float(), labels.long()
