"""Loading wing: ``condensed-data import``: a distilled set published in another format becomes a normal artifact.

:func:`import_set` reads a file or folder with one of the :mod:`~condensed_data.interop.readers` (never running
code from it), brings the values to pixel space, checks them (rank, label range, finite values) and writes an
artifact of kind ``tensors`` whose manifest records where the set came from (:class:`Provenance`: format, original
files with their sha256, experiment index, stored accuracies, what was done to the values).

Value spaces (``space``): the reference code of the field often stores images mean/std-normalized or ZCA-whitened
without saying so, and a set read in the wrong space trains to chance. ``pixel``: stored as is. ``normalized``:
``x * std + mean`` per channel, with ``mean``/``std`` given or taken from the named dataset (:data:`REFERENCE_DATASETS`,
the statistics the reference code normalized with, or the library's own for its datasets, passed in by the CLI as a
:class:`DatasetInfo`). ``zca``: the whitening is inverted with a :class:`ZCA` fitted on the real train split
(:func:`fit_zca`, kornia's ``ZCAWhitening`` convention, epsilon stated); the caller loads the real data.

SOURCE is a local path, or a file or folder inside a Hub *dataset* repository written
``hf-hub:ORG/NAME::PATH/IN/REPO`` (revision, cache and offline mode through :class:`~condensed_data.hub.HubOptions`).

>>> import_set("mtt", "logged_files/CIFAR10/run", dataset="cifar10", output="out/c10-mtt", space="normalized")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from condensed_data.artifact.card import render_card
from condensed_data.artifact.folder import save_artifact, sha256_file
from condensed_data.artifact.manifest import Manifest, MethodSpec, Provenance, Recipe, SourceInfo, ValueSpace
from condensed_data.hub.names import HUB_PREFIX, is_hub_id
from condensed_data.hub.options import HubOptions
from condensed_data.interop.readers import READERS, ForeignFormatError, ForeignSet
from condensed_data.sources.tensors import save_tensors

__all__ = ["SPACES", "DatasetInfo", "REFERENCE_DATASETS", "ZCA", "fit_zca", "import_set", "ForeignFormatError"]

logger = logging.getLogger(__name__)

SPACES = ("pixel", "normalized", "zca")
HUB_PATH_SEPARATOR = "::"
MAX_ZCA_DIM = 3 * 32 * 32


@dataclass(frozen=True)
class DatasetInfo:
    """What is known of the real dataset a foreign set was condensed from (anything may be unknown).

    ``mean``/``std`` are the statistics its images were normalized with; ``num_samples`` 0 and ``fingerprint`` ""
    mean unknown (the library cannot load that dataset).
    """

    name: str
    classes: tuple[str, ...] | None = None
    num_samples: int = 0
    fingerprint: str = ""
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


_CIFAR100 = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can
castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin elephant
flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree
motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel
streetcar sunflower sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm""".split()

# Datasets the training wing does not load, with the statistics the DC/DSA/DM reference code normalizes them with
# (MTT normalizes CIFAR-100 with the CIFAR-10 values: pass --mean/--std for it). The library's own datasets
# (fashion-mnist, digits) are described by the CLI from condensed_data.data.
REFERENCE_DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo(
        "cifar10",
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        50000,
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2023, 0.1994, 0.2010),
    ),
    "cifar100": DatasetInfo(
        "cifar100", tuple(_CIFAR100), 50000, mean=(0.5071, 0.4866, 0.4409), std=(0.2673, 0.2564, 0.2762)
    ),
    "mnist": DatasetInfo("mnist", tuple(str(i) for i in range(10)), 60000, mean=(0.1307,), std=(0.3081,)),
}
_ALIASES = {"cifar-10": "cifar10", "cifar-100": "cifar100"}


@dataclass(frozen=True)
class ZCA:
    """A ZCA whitening fitted on real images: ``white = (x - mean) @ transform``, ``x = white @ inverse + mean``
    (``x`` flattened to ``C*H*W``), with ``epsilon`` added to the covariance's eigenvalues (kornia's convention)."""

    mean: torch.Tensor
    transform: torch.Tensor
    inverse: torch.Tensor
    epsilon: float
    fitted_on: str = ""

    def whiten(self, images: torch.Tensor) -> torch.Tensor:
        """Pixel-space ``(N, C, H, W)`` images to ZCA space (what the reference code trained on)."""
        flat = images.reshape(images.shape[0], -1).double()
        return ((flat - self.mean) @ self.transform).reshape(images.shape).float()

    def unwhiten(self, images: torch.Tensor) -> torch.Tensor:
        """ZCA-space ``(N, C, H, W)`` images back to pixel space."""
        flat = images.reshape(images.shape[0], -1).double()
        return (flat @ self.inverse + self.mean).reshape(images.shape).float()


def fit_zca(images: torch.Tensor, *, epsilon: float = 0.1, fitted_on: str = "") -> ZCA:
    """Fit a ZCA whitening on pixel-space real images ``(N, C, H, W)`` (as kornia's ``ZCAWhitening(eps=epsilon)``
    fitted on ``ToTensor`` images, which MTT, DATM and KIP used): unbiased covariance, eigenvalues + ``epsilon``.

    >>> zca = fit_zca(torch.rand(50, 1, 4, 4, generator=torch.Generator().manual_seed(0)), epsilon=0.1)
    >>> x = torch.rand(3, 1, 4, 4)
    >>> torch.allclose(zca.unwhiten(zca.whiten(x)), x, atol=1e-5)
    True
    """
    if epsilon <= 0:
        raise ValueError(f"the ZCA epsilon must be > 0, got {epsilon}")
    if images[0].numel() > MAX_ZCA_DIM:
        raise ValueError(
            f"a ZCA of {images[0].numel()} values per image needs a {images[0].numel()}^2 covariance; this importer "
            f"fits up to {MAX_ZCA_DIM} (32x32 RGB), as the reference code does"
        )
    flat = images.reshape(images.shape[0], -1).double()
    mean = flat.mean(dim=0)
    centered = flat - mean
    cov = centered.T @ centered / max(flat.shape[0] - 1, 1)
    eigenvalues, vectors = torch.linalg.eigh(cov)
    scale = (eigenvalues.clamp_min(0) + epsilon).sqrt()
    transform = (vectors / scale) @ vectors.T
    inverse = (vectors * scale) @ vectors.T
    return ZCA(mean, transform, inverse, float(epsilon), fitted_on)


def _dataset_info(dataset: str | DatasetInfo) -> DatasetInfo:
    if isinstance(dataset, DatasetInfo):
        return dataset
    key = _ALIASES.get(dataset.lower(), dataset.lower())
    return REFERENCE_DATASETS.get(key, DatasetInfo(dataset))


def _resolve_source(source: str | os.PathLike, companions: Sequence[str], hub: HubOptions | None) -> tuple[Path, str]:
    """A local path for ``source`` (downloading ``hf-hub:ORG/NAME::PATH``), and how provenance names it."""
    text = os.fspath(source)
    if not text.startswith(HUB_PREFIX):
        path = Path(text)
        if not path.exists():
            raise FileNotFoundError(
                f"{text} does not exist; SOURCE is a local file or folder, or {HUB_PREFIX}ORG/NAME{HUB_PATH_SEPARATOR}"
                "PATH for a file or folder inside a Hub dataset repository"
            )
        return path, text
    repo_id, sep, inner = text[len(HUB_PREFIX) :].partition(HUB_PATH_SEPARATOR)
    inner = inner.strip("/")
    if not sep or not is_hub_id(repo_id) or not inner or ".." in inner.split("/"):
        raise ValueError(
            f"{text!r}: a Hub source is written {HUB_PREFIX}ORG/NAME{HUB_PATH_SEPARATOR}PATH/IN/REPO (a file or a "
            "folder inside the dataset repository)"
        )
    from condensed_data.hub.download import download_files

    parent = inner.rsplit("/", 1)[0] + "/" if "/" in inner else ""
    patterns = [inner, f"{inner}/*", *(f"{parent}{name}" for name in companions)]
    folder = download_files(repo_id, patterns, hub)
    local = folder / inner
    if not local.exists():
        raise FileNotFoundError(f"{repo_id} has no file or folder {inner!r} at {(hub or HubOptions()).where(repo_id)}")
    return local, f"{HUB_PREFIX}{repo_id}@{folder.name}{HUB_PATH_SEPARATOR}{inner}"


def _check(found: ForeignSet, fmt: str) -> tuple[torch.Tensor, torch.Tensor]:
    where = found.root / found.where if found.where else found.root
    images, labels = found.images, found.labels
    if images.dim() != 4:
        raise ForeignFormatError(
            f"{where}: images must have 4 dimensions (N, C, H, W), found shape {list(images.shape)}; is FORMAT "
            f"{fmt!r} right?"
        )
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    if not images.is_floating_point():
        raise ForeignFormatError(f"{where}: images must be floating point (or uint8), found {images.dtype}")
    images = images.to(torch.float32)
    if not torch.isfinite(images).all():
        bad = int((~torch.isfinite(images)).flatten(1).any(1).sum())
        raise ForeignFormatError(f"{where}: {bad} image(s) hold NaN or infinite values; the set cannot be used")
    if labels.dim() not in (1, 2) or labels.shape[0] != images.shape[0]:
        raise ForeignFormatError(
            f"{where}: {images.shape[0]} images but labels of shape {list(labels.shape)}; expected ({images.shape[0]},) "
            f"class indices or ({images.shape[0]}, K) soft labels"
        )
    if labels.dim() == 1:
        if labels.is_floating_point():
            if not torch.equal(labels, labels.round()):
                raise ForeignFormatError(f"{where}: 1-D labels must be class indices, found fractional values")
        labels = labels.long()
    else:
        labels = labels.float()
        if not torch.isfinite(labels).all():
            raise ForeignFormatError(f"{where}: soft labels hold NaN or infinite values")
    if images.shape[0] == 0:
        raise ForeignFormatError(f"{where}: the set is empty")
    return images, labels


def _to_pixels(
    images: torch.Tensor, space: str, info: DatasetInfo, mean, std, zca: ZCA | None, found: ForeignSet
) -> tuple[torch.Tensor, dict]:
    c = images.shape[1]
    if found.pixel_data and space != "pixel":
        raise ValueError(f"the images in {found.root} are 8-bit image files, which are pixel space: use --space pixel")
    if space == "pixel":
        return images, {}
    if space == "normalized":
        mean = tuple(mean) if mean is not None else info.mean
        std = tuple(std) if std is not None else info.std
        if mean is None or std is None:
            raise ValueError(
                f"--space normalized needs the statistics the images were normalized with: pass --mean and --std "
                f"(per channel), or a --dataset whose statistics are known ({', '.join(REFERENCE_DATASETS)}, or one "
                f"this library loads); {info.name!r} has none"
            )
        if len(mean) != c or len(std) != c or any(s <= 0 for s in std):
            raise ValueError(f"--mean/--std need {c} values (one per channel, std > 0), got {list(mean)}, {list(std)}")
        m = torch.tensor(mean, dtype=torch.float32).view(1, c, 1, 1)
        s = torch.tensor(std, dtype=torch.float32).view(1, c, 1, 1)
        return images * s + m, {"undone": "normalization x * std + mean", "mean": list(mean), "std": list(std)}
    if zca is None:
        raise ValueError(
            "--space zca needs the ZCA whitening fitted on the real train split (fit_zca(real_images, epsilon=...)); "
            "the CLI fits it when the dataset is one this library loads"
        )
    if zca.mean.numel() != images[0].numel():
        raise ValueError(
            f"the ZCA was fitted on {zca.mean.numel()} values per image, but the images have {images[0].numel()}"
        )
    transform = {
        "undone": "ZCA whitening (inverse applied)",
        "epsilon": zca.epsilon,
        "fitted_on": zca.fitted_on,
        "train_as_original": "the original code trained on ZCA-whitened inputs: whiten the (pixel-space) set and "
        "the test images with a ZCA of this epsilon fitted on the real train split, instead of mean/std",
    }
    return zca.unwhiten(images), transform


def _soft(labels: torch.Tensor) -> tuple[torch.Tensor, str]:
    rows = labels.sum(dim=1)
    if (labels >= 0).all() and torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        return labels, "stored probabilities"
    return labels.softmax(dim=1), "softmax of the stored logits (as DATM's evaluation does)"


def import_set(
    format: str,
    source: str | os.PathLike,
    *,
    dataset: str | DatasetInfo,
    output: str | os.PathLike,
    space: str = "pixel",
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    experiment: int = -1,
    factor: int | None = None,
    classes: Sequence[str] | None = None,
    zca: ZCA | None = None,
    hub: HubOptions | None = None,
    overwrite: bool = False,
) -> Manifest:
    """Import a distilled set in a foreign ``format`` as an artifact of kind ``tensors``; return its manifest.

    Args:
        format: One of :data:`~condensed_data.interop.readers.FORMATS` (see that module for what each reads).
        source: A local file or folder, or ``hf-hub:ORG/NAME::PATH`` (a file or folder in a Hub dataset repository).
        dataset: The real dataset's name (``cifar10``, ``cifar100``, ``mnist`` are known here) or a
            :class:`DatasetInfo` (the CLI builds one for the library's datasets).
        output: The new artifact folder (written atomically).
        space: How the stored values are to be read: ``pixel``, ``normalized`` or ``zca`` (see the module docstring).
        mean, std: Per-channel statistics of a ``normalized`` set (default: the dataset's).
        experiment: Which experiment of a ``dc`` file (default the last, as DC-Bench reads them).
        factor: The ``idc`` multi-formation factor.
        classes: Class names (default: the dataset's, else the format's own, else ``0..K-1``).
        zca: The whitening of a ``zca`` set (:func:`fit_zca` on the real train split).
        hub: Revision, cache, offline mode for a Hub source.
        overwrite: Replace an existing ``output``.

    Raises:
        ForeignFormatError: The file is not in the format, holds the wrong shapes, non-finite values, labels that do not
            match the classes; or needs unpickling (:class:`~condensed_data.interop.safe_torch.UnsafeFileError`).
        ValueError: A bad option (unknown format or space, missing statistics).
        FileExistsError: ``output`` exists and ``overwrite`` is false.

    >>> m = import_set("dc", "res_DM_CIFAR10_ConvNet_10ipc.pt", dataset="cifar10", output="out/c10-dm",
    ...                space="normalized")  # doctest: +SKIP
    >>> m.provenance.experiment, m.provenance.reported  # doctest: +SKIP
    (4, {'ConvNet': [0.4869, ...]})
    """
    if format not in READERS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(READERS)}")
    if space not in SPACES:
        raise ValueError(f"--space must be one of {list(SPACES)}, got {space!r}")
    output = Path(output)
    if output.exists() and not overwrite:
        raise FileExistsError(
            f"{output} already exists; choose another output folder or pass overwrite=True (CLI: --overwrite)"
        )
    info = _dataset_info(dataset)
    reader = READERS[format]
    path, named = _resolve_source(source, reader.companions, hub)
    found = reader.read(path, experiment=experiment, factor=factor)
    images, labels = _check(found, format)
    images, transform = _to_pixels(images, space, info, mean, std, zca, found)
    if not torch.isfinite(images).all():
        raise ForeignFormatError(f"{path}: converting from {space} space gave non-finite values")
    names = _class_names(classes, info, found, labels, path)
    extra = dict(found.extra)
    label_kind = "hard"
    if labels.dim() == 2:
        labels, extra["soft_labels"] = _soft(labels)
        label_kind = "soft"
    hard = labels if labels.dim() == 1 else labels.argmax(dim=1)
    counts = torch.bincount(hard, minlength=len(names))
    if len(set(counts.tolist())) != 1:
        extra["images_per_class"] = counts.tolist()
    recipe = _recipe(info, transform, images, extra)
    if label_kind == "soft":  # trained on the stored probabilities, as the original code does
        recipe = dataclasses.replace(recipe, targets="soft")
    provenance = Provenance(
        format=format,
        source=named,
        files={_name(f, found.root): sha256_file(f) for f in found.files},
        value_space=space,
        transform=transform,
        experiment=found.experiment,
        reported=found.reported,
        extra=extra,
    )
    manifest = Manifest(
        kind="tensors",
        method=MethodSpec(name=_method_name(format, found), config={"imported_from": format, "space": space}),
        source=SourceInfo(name=info.name, split="train", num_samples=info.num_samples, fingerprint=info.fingerprint),
        classes=names,
        images_per_class=max(1, int(counts.max())),
        image_shape=tuple(images.shape[1:]),
        recipe=recipe,
        seed=0,
        value_space=ValueSpace(),
        label_kind=label_kind,
        provenance=provenance,
    )
    final = save_artifact(
        output, manifest, lambda tmp: save_tensors(tmp, images, labels), overwrite=overwrite, card=render_card
    )
    logger.info("imported %s (%s, %d images) into %s", named, format, images.shape[0], output)
    return final


def _class_names(classes, info: DatasetInfo, found: ForeignSet, labels: torch.Tensor, path: Path) -> tuple[str, ...]:
    k_labels = labels.shape[1] if labels.dim() == 2 else int(labels.max()) + 1
    if labels.dim() == 1 and int(labels.min()) < 0:
        raise ForeignFormatError(f"{path}: labels must be class indices >= 0, found {int(labels.min())}")
    named = tuple(classes) if classes else info.classes or found.classes
    if named is None:
        return tuple(str(i) for i in range(k_labels))
    if (labels.dim() == 2 and k_labels != len(named)) or k_labels > len(named):
        said = "--classes" if classes else f"the dataset {info.name!r}" if info.classes else "the format"
        raise ForeignFormatError(
            f"{path}: the labels need {k_labels} classes (soft labels of width {k_labels} or indices up to "
            f"{k_labels - 1}), but {said} names {len(named)}; check --dataset or --classes"
        )
    return tuple(str(n) for n in named)


def _recipe(info: DatasetInfo, transform: dict, images: torch.Tensor, extra: dict) -> Recipe:
    c = images.shape[1]
    if "mean" in transform:
        mean, std = tuple(transform["mean"]), tuple(transform["std"])
    elif info.mean is not None and info.std is not None and len(info.mean) == c:
        mean, std = info.mean, info.std
    else:  # unknown: the imported images' own statistics
        var, m = torch.var_mean(images, dim=(0, 2, 3), correction=0)
        mean, std = tuple(round(v, 4) for v in m.tolist()), tuple(max(round(v, 4), 1e-3) for v in var.sqrt().tolist())
        extra["recipe_statistics"] = "mean/std of the imported images (the real dataset's are unknown)"
    lr = extra.get("syn_lr")
    return Recipe(mean=mean, std=std, lr=lr if isinstance(lr, float) and lr > 0 else Recipe.lr)


def _name(file: Path, root: Path) -> str:
    try:
        return file.relative_to(root).as_posix()
    except ValueError:
        return file.name


def _method_name(format: str, found: ForeignSet) -> str:
    match = re.match(r"res_([A-Za-z0-9]+)_", found.where)  # res_{METHOD}_{DATASET}_{MODEL}_{IPC}ipc.pt
    return f"{match.group(1).lower()} (imported)" if format == "dc" and match else f"{format} (imported)"
