"""Networks trained for a few epochs on the real data, cached on disk (training wing).

:func:`trained_networks` is the one place networks trained on real data come from: the trained feature pools of the
matching loop (:class:`~condensed_data.condense.matching.MatchingConfig`'s ``pool``, the idea of IDM and DANCE) and
the soft-label teacher. Member ``i`` of a call is a fresh ``arch`` network whose initial weights, batch order and
augmentation come from a seed derived from ``(seed, i)``, trained ``epochs`` epochs on the whole real dataset by the
evaluation protocol's step (:func:`condensed_data.evaluate.protocol.train_network`: normalized with the data's
mean/std, SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, cross-entropy, DSA per sample) at a constant
learning rate (no x0.1 at half: a short training is a snapshot of a longer one, not a converged run). Networks come
back frozen and in training mode, like the matching loop's random networks.

The cache: one ``<arch>-e<epochs>-<key>.safetensors`` (the weights) and a ``.json`` sidecar (what the key hashes,
the weights' sha256, the library version) per member, in ``$CONDENSED_DATA_CACHE``, else ``<data home>/pretrained``
(``$CONDENSED_DATA_HOME/pretrained``, else ``~/.cache/condensed-data/pretrained``). The key covers everything a
member depends on: the real data's fingerprint (:meth:`~condensed_data.data.RealDataset.fingerprint`) and
normalization, the image shape and class names, the architecture, the epochs, the seed, the member's index and
:data:`CODE_VERSION`; not ``count``, so a call for 1 network and one for 5 with the same seed share member 0. Both
files are written atomically (sidecar last: a member without one is absent and trained again). A member that exists
but does not read back (unreadable, checksum or key mismatch, wrong tensors) raises :class:`PretrainedCacheError`
naming the file and the fix: delete it. A lock file beside each member serializes training, so processes that start
together (the processes of one multi-process run, two runs on one machine) train each member once and the others
load it; without a shared disk, each machine trains its own copy. ``cache=False`` never touches the disk.

The weights depend on the device that trained them (float rounding), and the key does not: a cache filled on a GPU
serves a CPU run. A condensation run stores its pool in its checkpoints, so a resumed run continues with exactly
the networks it started with, whatever the cache holds by then.

>>> from condensed_data.testing import tiny_real_dataset
>>> nets = trained_networks(tiny_real_dataset(), arch="mlp", count=2, epochs=1, seed=0, device="cpu", cache=False)
>>> len(nets), nets[0].training, any(p.requires_grad for p in nets[0].parameters())
(2, True, False)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from condensed_data._version import __version__
from condensed_data.artifact.folder import fsync_dir
from condensed_data.data import RealSource, require_in_memory
from condensed_data.data.paths import data_home
from condensed_data.evaluate.protocol import EvalConfig, train_network
from condensed_data.nn import get_network
from condensed_data.seeding import derive_seed, make_generator

__all__ = ["CACHE_ENV", "CODE_VERSION", "PretrainedCacheError", "cache_dir", "trained_networks"]

logger = logging.getLogger(__name__)

CACHE_ENV = "CONDENSED_DATA_CACHE"
CODE_VERSION = 1  # bump whenever training changes what a member's weights are: older cache entries are then unused
_FORMAT = "condensed-data trained network"


class PretrainedCacheError(RuntimeError):
    """A cached trained network exists but cannot be used; the message names the file and says to delete it."""


def cache_dir() -> Path:
    """Where trained networks are cached: ``$CONDENSED_DATA_CACHE``, else ``<data home>/pretrained``.

    >>> isinstance(cache_dir(), Path)
    True
    """
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else data_home() / "pretrained"


def trained_networks(
    real: RealSource,
    *,
    arch: str,
    count: int,
    epochs: int,
    seed: int,
    device: torch.device | str,
    cache: bool = True,
) -> list[torch.nn.Module]:
    """``count`` networks of ``arch``, each trained ``epochs`` epochs on all of ``real`` (see the module docstring).

    Args:
        real: The real training data (its images, labels, mean and std).
        arch: The architecture (:func:`condensed_data.nn.list_networks`).
        count: How many networks.
        epochs: Training epochs of each.
        seed: Base seed; member ``i`` is trained from ``derive_seed(seed, "trained-network", i)``.
        device: Where to train, and where the networks are returned.
        cache: Load members from the disk cache and store the ones trained; ``False`` never touches the disk.

    Returns:
        The networks, frozen (``requires_grad=False``) and in training mode.

    Raises:
        ValueError: ``count`` or ``epochs`` is not an integer >= 1, or ``arch`` is unknown.
        PretrainedCacheError: A cached member cannot be read back (the message says which file to delete).

    Example:
        >>> from condensed_data.data import load_dataset
        >>> [teacher] = trained_networks(load_dataset("digits"), arch="convnet", count=1, epochs=5, seed=0,
        ...                              device="cpu")  # doctest: +SKIP
    """
    for name, value in (("count", count), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    device = torch.device(device)
    nets = []
    for index in range(count):
        if cache:
            net = _cached_member(real, arch=arch, epochs=epochs, seed=seed, index=index, device=device)
        else:
            net = _train_member(real, arch=arch, epochs=epochs, seed=seed, index=index, device=device)
        net.train()
        for p in net.parameters():
            p.requires_grad_(False)
        nets.append(net)
    return nets


def _template(real: RealSource, arch: str, generator: torch.Generator, device: torch.device) -> torch.nn.Module:
    c, h, w = real.image_shape
    return get_network(
        arch, channels=c, num_classes=real.num_classes, image_size=(h, w), generator=generator, device=device
    )


def _train_member(
    real: RealSource, *, arch: str, epochs: int, seed: int, index: int, device: torch.device
) -> torch.nn.Module:
    """Member ``index``, trained now (whatever autocast or grad mode the caller is in)."""
    real = require_in_memory(real, "a network trained on the real data (pool=N, labels='soft')", "pool=0, hard labels")
    logger.info("training %s network %d for %d epochs on %s/%s", arch, index, epochs, real.name, real.split)
    config = EvalConfig(arch=arch, epochs=epochs, precision="fp32")
    generator = make_generator(derive_seed(seed, "trained-network", index))
    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(device.type, enabled=False):
        return train_network(
            real.images,
            real.labels,
            num_classes=real.num_classes,
            mean=real.mean,
            std=real.std,
            config=config,
            generator=generator,
            device=device,
            lr_decay=False,
        )


def _key(real: RealSource, *, arch: str, epochs: int, seed: int, index: int) -> dict[str, Any]:
    """What member ``index``'s weights depend on (hashed into its file name, recorded in its sidecar)."""
    return {
        "code_version": CODE_VERSION,
        "data": real.fingerprint(),
        "mean": [float(m) for m in real.mean],
        "std": [float(s) for s in real.std],
        "image_shape": list(real.image_shape),
        "classes": list(real.classes),
        "arch": arch,
        "epochs": epochs,
        "seed": int(seed),
        "index": index,
    }


def _paths(key: dict[str, Any]) -> tuple[Path, Path, Path]:
    """The member's weights, sidecar and lock files."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    stem = cache_dir() / f"{key['arch']}-e{key['epochs']}-{digest}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json"), stem.with_suffix(".lock")


def _cached_member(
    real: RealSource, *, arch: str, epochs: int, seed: int, index: int, device: torch.device
) -> torch.nn.Module:
    key = _key(real, arch=arch, epochs=epochs, seed=seed, index=index)
    weights, sidecar, lock = _paths(key)
    try:
        weights.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PretrainedCacheError(
            f"cannot create the trained-network cache {weights.parent} ({exc}); set {CACHE_ENV} to a writable folder"
        ) from None
    with _locked(lock):
        if sidecar.exists() and weights.exists():
            net = _template(real, arch, make_generator(0), device)
            net.load_state_dict(_read(weights, sidecar, key, net))
            logger.info("loaded %s network %d (%d epochs) from %s", arch, index, epochs, weights)
            return net
        net = _train_member(real, arch=arch, epochs=epochs, seed=seed, index=index, device=device)
        _write(net, weights, sidecar, key)
        return net


def _read(weights: Path, sidecar: Path, key: dict[str, Any], template: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict stored in ``weights``, checked against ``sidecar``, ``key`` and ``template``'s tensors."""

    def corrupt(why: str) -> PretrainedCacheError:
        return PretrainedCacheError(
            f"cached trained network {weights} {why}; delete it and {sidecar.name} (they are trained again on the next "
            "run)"
        )

    try:
        meta = json.loads(sidecar.read_text())
        data = weights.read_bytes()
    except (OSError, ValueError) as exc:
        raise corrupt(f"cannot be read ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != _FORMAT or meta.get("key") != key:
        raise corrupt(f"has a sidecar {sidecar.name} that does not describe it")
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise corrupt("does not match the checksum in its sidecar (a partial or altered file)")
    try:
        state = load_safetensors(data)
    except Exception as exc:  # noqa: BLE001 - any undecodable file gets the same advice
        raise corrupt(f"is not a readable safetensors file ({exc})") from None
    expected = {name: tuple(t.shape) for name, t in template.state_dict().items()}
    if {name: tuple(t.shape) for name, t in state.items()} != expected:
        raise corrupt(f"does not hold the tensors of a {key['arch']} network for this data")
    return state


def _write(net: torch.nn.Module, weights: Path, sidecar: Path, key: dict[str, Any]) -> None:
    """Store ``net`` atomically: the weights, then the sidecar that makes them count."""
    data = save_safetensors({name: t.detach().cpu().contiguous() for name, t in net.state_dict().items()})
    meta = {"format": _FORMAT, "key": key, "sha256": hashlib.sha256(data).hexdigest(), "library_version": __version__}
    _write_atomically(weights, data)
    _write_atomically(sidecar, (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode())


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) where the platform has ``fcntl``; else nothing."""
    try:
        import fcntl
    except ImportError:  # Windows: processes that start together may each train the member
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
