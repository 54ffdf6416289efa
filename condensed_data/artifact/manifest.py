"""The artifact manifest (`condensed.json`): typed dataclasses, strict JSON round trip, validation.

The manifest is the single source of truth about a condensed set: what kind of artifact it is, which method made
it from which data, how its values are to be read, how to train on it, how it scored, and every file with its
checksum. Loading is strict: an unknown or missing field, a wrong type or a newer ``format_version`` is an error
that names the field, so a typo never silently changes meaning.

Images are stored in *pixel space* (values nominally in ``value_space.pixel_range``, like the output of
torchvision's ``ToTensor``); the training recipe says which normalization to apply on top (``recipe.mean`` /
``recipe.std``), exactly as one would for the real dataset.

Labels are hard (one class index per item) or soft (``label_kind: "soft"``: one probability row per item, (N, K)).
A soft-label set made by condensed-data records its ``teacher`` (the network that labelled it: architecture, epochs,
seed, temperature), and its recipe says ``targets: "soft"`` (train with cross-entropy against the stored rows).
Every evaluation says which labels it trained with (``labels``), so soft- and hard-label results never mix; a
soft-label manifest written before those two fields existed reads them as ``"soft"`` (what it was trained on).

>>> m = Manifest.from_json(Manifest.example().to_json())
>>> m.kind, m.images_per_class
('tensors', 1)
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from condensed_data._version import __version__
from condensed_data.artifact.strict_json import MAX_JSON_DEPTH, ManifestError, build, load_json, require, to_plain

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "KINDS",
    "ManifestError",
    "MAX_JSON_DEPTH",
    "load_json",
    "FileEntry",
    "SourceInfo",
    "Holdout",
    "MethodSpec",
    "ValueSpace",
    "Recipe",
    "Teacher",
    "Evaluation",
    "Provenance",
    "Decode",
    "Manifest",
]

# 2: adds the optional ``provenance`` block (sets brought in by ``condensed-data import``).
# 3: adds the optional ``decode`` block (multi-formation: each stored image decodes into factor**2 items).
# Manifests of every earlier version load.
FORMAT_VERSION = 3
MANIFEST_NAME = "condensed.json"
# "webdataset": the images and hard labels of a set as tar shards (condensed_data/interop/webdataset.py), for streaming.
KINDS = ("tensors", "generator", "latent-diffusion", "webdataset")
LABEL_KINDS = ("hard", "soft")
# What an evaluation trained on: the set, random real images at the same images per class, or the whole real train split.
SUBJECTS = ("condensed", "random-real", "full-real")
# Formats that unpickle on load (torch.save, pickle, joblib, ...): never part of an artifact.
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib")


def _check_sha256(value: str, where: str) -> None:
    require(
        isinstance(value, str)
        and value.startswith("sha256:")
        and len(value) == 71
        and all(c in "0123456789abcdef" for c in value[7:]),
        f"{where} must be 'sha256:' followed by 64 lower-case hex digits, got {value!r}",
    )


@dataclass(frozen=True)
class FileEntry:
    """Checksum and size of one file of the artifact."""

    sha256: str
    size: int

    def __post_init__(self) -> None:
        _check_sha256(self.sha256, "files[...].sha256")
        require(self.size >= 0, f"files[...].size must be >= 0, got {self.size}")


@dataclass(frozen=True)
class Holdout:
    """A validation split held out of the source split before condensing: the set never saw these images.

    ``per_class`` is the hold-out as asked (an integer: images per class; a float: a fraction of each class) and
    ``seed`` chose the images (:meth:`condensed_data.data.RealDataset.holdout`); ``num_samples`` and ``fingerprint``
    identify the validation images the set's evaluations were tested on.
    """

    per_class: int | float
    seed: int
    num_samples: int
    fingerprint: str

    def __post_init__(self) -> None:
        require(
            self.per_class > 0, f"source.validation.per_class must be > 0 (images or a fraction), got {self.per_class}"
        )
        require(self.num_samples > 0, f"source.validation.num_samples must be > 0, got {self.num_samples}")
        _check_sha256(self.fingerprint, "source.validation.fingerprint")


@dataclass(frozen=True)
class SourceInfo:
    """The real data a set was condensed from.

    An imported set (one with ``provenance``) may not know its real data: ``num_samples`` 0 and ``fingerprint`` ""
    then say "unknown"; every other manifest must give both. A set condensed with a validation hold-out
    (``condensed-data condense --validation N``) says so in ``validation``: its ``num_samples`` and ``fingerprint``
    are then those of the part it was condensed from, the split minus the held-out images.
    """

    name: str
    split: str
    num_samples: int
    fingerprint: str
    validation: Holdout | None = None

    def __post_init__(self) -> None:
        require(self.num_samples >= 0, f"source.num_samples must be >= 0 (0: unknown), got {self.num_samples}")
        if self.fingerprint != "":
            _check_sha256(self.fingerprint, "source.fingerprint")

    @property
    def known(self) -> bool:
        """True when the real data is identified (sample count and fingerprint)."""
        return self.num_samples > 0 and self.fingerprint != ""


@dataclass(frozen=True)
class MethodSpec:
    """The method that produced the set, with its full configuration and the plugin that provided it."""

    name: str
    config: dict[str, Any] = field(default_factory=dict)
    distribution: str = ""
    version: str = ""


@dataclass(frozen=True)
class ValueSpace:
    """How stored image values are to be read: pixel values nominally within ``pixel_range``.

    ``clamped`` says whether values were clipped to the range on export (optimized pixels may leave it).
    """

    pixel_range: tuple[float, float] = (0.0, 1.0)
    clamped: bool = False

    def __post_init__(self) -> None:
        require(
            len(self.pixel_range) == 2 and self.pixel_range[0] < self.pixel_range[1],
            f"value_space.pixel_range must be [low, high] with low < high, got {list(self.pixel_range)}",
        )


@dataclass(frozen=True)
class Recipe:
    """The training recipe the set was made for: normalization, augmentation, optimizer and schedule, and targets.

    ``targets`` says what to train on: ``"hard"``, the class of every item (for a soft-label set: the class it was
    made for, class-major), or ``"soft"``, cross-entropy against the stored probability rows (soft-label sets only).
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    augmentation: str = "dsa:color_crop_cutout_flip_scale_rotate"
    arch: str = "convnet"
    epochs: int = 1000
    batch_size: int = 256
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_schedule: str = "step: x0.1 at epochs // 2"
    targets: str = "hard"

    def __post_init__(self) -> None:
        require(
            self.targets in LABEL_KINDS,
            f"recipe.targets must be 'hard' (class indices) or 'soft' (the stored probabilities), got {self.targets!r}",
        )
        require(
            len(self.mean) == len(self.std) and len(self.mean) > 0,
            "recipe.mean and recipe.std must be per-channel lists of equal, non-zero length",
        )
        require(all(s > 0 for s in self.std), f"recipe.std must be positive, got {list(self.std)}")
        require(self.epochs > 0 and self.batch_size > 0, "recipe.epochs and recipe.batch_size must be > 0")
        require(self.lr > 0, f"recipe.lr must be > 0, got {self.lr}")


@dataclass(frozen=True)
class Teacher:
    """The network that labelled a soft-label set: ``arch`` trained ``epochs`` epochs on the real train split from
    ``seed``; the stored labels are ``softmax(logits / temperature)`` of the normalized images."""

    arch: str
    epochs: int
    seed: int
    temperature: float

    def __post_init__(self) -> None:
        require(bool(self.arch), "teacher.arch must name a network")
        require(self.epochs >= 1, f"teacher.epochs must be >= 1, got {self.epochs}")
        require(
            math.isfinite(self.temperature) and self.temperature > 0,
            f"teacher.temperature must be a positive number, got {self.temperature}",
        )


@dataclass(frozen=True)
class Evaluation:
    """One evaluation result: K freshly initialized networks of ``arch`` trained on the set, tested on real data.

    ``subject`` is what they were trained on (:data:`SUBJECTS`: the set, random real images at the same images per
    class, or the whole real train split) and ``labels`` with which targets (``"hard"`` class indices or ``"soft"``
    probabilities): soft- and hard-label results are separate entries, never mixed.
    """

    arch: str
    test_set: str
    models: int
    accuracy_mean: float
    accuracy_std: float
    accuracies: tuple[float, ...] = ()
    protocol: dict[str, Any] = field(default_factory=dict)
    subject: str = "condensed"
    labels: str = "hard"

    def __post_init__(self) -> None:
        require(self.models > 0, f"evaluation.models must be > 0, got {self.models}")
        for name in ("accuracy_mean", "accuracy_std"):
            value = getattr(self, name)
            require(
                math.isfinite(value) and 0.0 <= value <= 1.0,
                f"evaluation.{name} must be a fraction in [0, 1], got {value}",
            )
        require(
            not self.accuracies or len(self.accuracies) == self.models,
            f"evaluation.accuracies has {len(self.accuracies)} entries but models is {self.models}",
        )
        require(self.subject in SUBJECTS, f"evaluation.subject must be one of {list(SUBJECTS)}, got {self.subject!r}")
        require(self.labels in LABEL_KINDS, f"evaluation.labels must be 'hard' or 'soft', got {self.labels!r}")


@dataclass(frozen=True)
class Provenance:
    """Where an imported set came from (``condensed-data import``): the foreign format and files, and what was done.

    ``files`` maps each original file name (as given, or its path inside a Hub repository) to its sha256;
    ``source`` is the local path or ``hf-hub:ORG/NAME@REVISION::PATH`` it was read from; ``experiment`` the index
    picked from a multi-experiment file (None: the format has one); ``value_space`` the space the stored values were
    in (``pixel``, ``normalized`` or ``zca``) and ``transform`` what was applied to bring them to pixel space;
    ``reported`` the accuracies the original code stored with the set (architecture -> fractions or percentages as
    stored), and ``extra`` anything else the format carried that is kept (e.g. the learned learning rate).
    """

    format: str
    source: str
    files: dict[str, str]
    value_space: str = "pixel"
    transform: dict[str, Any] = field(default_factory=dict)
    experiment: int | None = None
    reported: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require(bool(self.format), "provenance.format must name the foreign format")
        require(bool(self.files), "provenance.files must list the original file(s)")
        for name, digest in self.files.items():
            _check_sha256(digest, f"provenance.files[{name!r}]")
        require(
            self.value_space in ("pixel", "normalized", "zca"),
            f"provenance.value_space must be pixel, normalized or zca, got {self.value_space!r}",
        )


@dataclass(frozen=True)
class Decode:
    """How stored images become the set's items (multi-formation; see :mod:`condensed_data.sources.decode`).

    Each stored image holds ``factor x factor`` tiles, each resized (``resize``) to the full image shape: the set
    stores ``images_per_class`` images per class and serves ``images_per_class * factor**2`` items per class, and
    its labels have one row per item.
    """

    factor: int
    resize: str = "bilinear"

    def __post_init__(self) -> None:
        require(
            self.factor >= 2,
            f"decode.factor must be >= 2 (a set without multi-formation has no decode block), got {self.factor}",
        )
        require(self.resize == "bilinear", f"decode.resize must be 'bilinear', got {self.resize!r}")


@dataclass(frozen=True)
class Manifest:
    """The content of ``condensed.json``. See the module docstring for the value conventions."""

    kind: str
    method: MethodSpec
    source: SourceInfo
    classes: tuple[str, ...]
    images_per_class: int
    image_shape: tuple[int, int, int]
    recipe: Recipe
    seed: int
    value_space: ValueSpace = ValueSpace()
    label_kind: str = "hard"
    evaluation: tuple[Evaluation, ...] = ()
    files: dict[str, FileEntry] = field(default_factory=dict)
    library_version: str = __version__
    format_version: int = FORMAT_VERSION
    provenance: Provenance | None = None
    decode: Decode | None = None
    teacher: Teacher | None = None

    def __post_init__(self) -> None:
        require(
            self.format_version <= FORMAT_VERSION,
            f"condensed.json has format_version {self.format_version}, but this condensed-data "
            f"({__version__}) reads up to {FORMAT_VERSION}: upgrade with `pip install -U condensed-data`",
        )
        require(self.format_version >= 1, f"format_version must be >= 1, got {self.format_version}")
        require(
            self.provenance is None or self.format_version >= 2,
            f"provenance needs format_version >= 2, got {self.format_version}",
        )
        require(
            self.decode is None or self.format_version >= 3,
            f"decode needs format_version >= 3, got {self.format_version}",
        )
        require(
            self.decode is None or self.kind == "tensors",
            f"decode (multi-formation) applies to artifacts of kind 'tensors', not {self.kind!r}",
        )
        require(
            self.provenance is not None or self.source.known,
            "source.num_samples must be > 0 and source.fingerprint must be 'sha256:...' (only an imported set, "
            "one with provenance, may leave its real data unknown)",
        )
        require(self.kind in KINDS, f"kind must be one of {list(KINDS)}, got {self.kind!r}: {self.install_hint()}")
        require(
            self.label_kind in LABEL_KINDS, f"label_kind must be one of {list(LABEL_KINDS)}, got {self.label_kind!r}"
        )
        require(
            self.label_kind == "soft" or (self.teacher is None and self.recipe.targets == "hard"),
            "teacher and recipe.targets 'soft' describe soft labels, but label_kind is 'hard'",
        )
        require(len(self.classes) >= 1, "classes must list at least one class name")
        require(len(set(self.classes)) == len(self.classes), "classes must be unique names")
        require(self.images_per_class >= 1, f"images_per_class must be >= 1, got {self.images_per_class}")
        require(
            len(self.image_shape) == 3 and all(d > 0 for d in self.image_shape),
            f"image_shape must be [channels, height, width], got {list(self.image_shape)}",
        )
        require(
            len(self.recipe.mean) == self.image_shape[0],
            f"recipe.mean has {len(self.recipe.mean)} channels but image_shape has {self.image_shape[0]}",
        )
        for name in self.files:
            require(
                bool(name) and not name.startswith(("/", "\\")) and ".." not in name.split("/") and "\\" not in name,
                f"files: {name!r} is not a relative path inside the artifact folder",
            )
            require(
                not name.lower().endswith(PICKLE_SUFFIXES),
                f"files: {name!r} is a pickle-based file; condensed-data artifacts hold only safetensors, JSON and "
                "images, because unpickling a downloaded file can run arbitrary code. Re-export the data as "
                "safetensors",
            )

    def install_hint(self) -> str:
        """What to install to read an artifact whose kind this version cannot read (used in error messages)."""
        made_by = self.method.distribution
        if made_by and made_by != "condensed-data":
            return (
                f"the set was made by the plugin distribution {made_by!r}: install or upgrade it "
                f"(`pip install -U {made_by}`), and condensed-data (`pip install -U condensed-data`)"
            )
        return "it was written by a newer condensed-data or a plugin: `pip install -U condensed-data`, or install the plugin that provides it"

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    @property
    def factor(self) -> int:
        """Items per stored image along each side: ``decode.factor``, 1 without multi-formation."""
        return 1 if self.decode is None else self.decode.factor

    @property
    def items_per_class(self) -> int:
        """Items the set serves per class: ``images_per_class * factor**2``."""
        return self.images_per_class * self.factor**2

    def replace(self, **changes: Any) -> Manifest:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # -- JSON -------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, ``format_version`` first."""
        data = to_plain(self)
        for optional in ("provenance", "decode", "teacher"):
            if data[optional] is None:  # absent rather than null: a manifest without one reads as before
                del data[optional]
        if data["source"]["validation"] is None:  # likewise: a set condensed on a whole split is written as before
            del data["source"]["validation"]
        order = ["format_version", "library_version", "kind"]
        return {**{k: data[k] for k in order}, **{k: v for k, v in data.items() if k not in order}}

    def to_json(self) -> str:
        """Stable, human-readable JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any) -> Manifest:
        """Build and validate a manifest from parsed JSON, rejecting unknown and missing fields."""
        require(isinstance(data, dict), "condensed.json must hold a JSON object")
        version = data.get("format_version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            # Checked first: a newer format may have fields this version does not know.
            raise ManifestError(
                f"condensed.json has format_version {version}, but this condensed-data ({__version__}) reads "
                f"up to {FORMAT_VERSION}: upgrade with `pip install -U condensed-data`"
            )
        return build(cls, _soft_defaults(data), "")

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse JSON text (see :meth:`from_dict`)."""
        return cls.from_dict(load_json(text, MANIFEST_NAME))

    @classmethod
    def example(cls) -> Manifest:
        """A small valid manifest (for docs and tests)."""
        return cls(
            kind="tensors",
            method=MethodSpec(name="dm", config={"lr_img": 1.0}),
            source=SourceInfo(name="digits", split="train", num_samples=1437, fingerprint="sha256:" + "0" * 64),
            classes=tuple(str(i) for i in range(10)),
            images_per_class=1,
            image_shape=(1, 8, 8),
            recipe=Recipe(mean=(0.3,), std=(0.4,)),
            seed=0,
        )


def _soft_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A soft-label manifest written before ``recipe.targets`` and ``evaluation[].labels`` existed trained on its
    soft labels: fill those in as ``"soft"``, so its recipe and results keep their meaning."""
    if data.get("label_kind") != "soft":
        return data
    data = dict(data)
    if isinstance(data.get("recipe"), dict) and "targets" not in data["recipe"]:
        data["recipe"] = {**data["recipe"], "targets": "soft"}
    if isinstance(data.get("evaluation"), list):
        data["evaluation"] = [
            {**e, "labels": "soft"}
            if isinstance(e, dict) and "labels" not in e and e.get("subject", "condensed") == "condensed"
            else e
            for e in data["evaluation"]
        ]
    return data
