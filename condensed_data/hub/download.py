"""Loading wing: bring a condensed set (or a model) from a Hugging Face Hub repository into huggingface_hub's cache.

Downloads go through huggingface_hub's own cache (``snapshot_download``), so revisions, ``cache_dir``,
``local_files_only`` and ``HF_HUB_OFFLINE=1`` behave as everywhere else in the Hugging Face ecosystem; the settings
are one :class:`~condensed_data.hub.options.HubOptions`. ``huggingface_hub`` is imported only inside functions.

A set's download fetches ``condensed.json`` first, checks it is a valid manifest, and then fetches only the files
that manifest lists (plus ``README.md`` and ``preview.png``), all from the commit the manifest came from: a repository
that is not a condensed set is refused before any of its data is downloaded, and a stray file in a repository (a
pickle, say) is never fetched. A model's download fetches only JSON configs and safetensors weights.

>>> resolve("local-dir:.").is_dir()
True
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from condensed_data.hub.errors import NotACondensedSetError, hub_errors
from condensed_data.hub.names import is_hub_id, locate
from condensed_data.hub.options import HubOptions

if TYPE_CHECKING:
    from condensed_data.artifact.manifest import Manifest

__all__ = ["resolve", "download", "download_files", "fetch_manifest", "download_model", "MODEL_FILES"]

logger = logging.getLogger(__name__)

# Files a condensed set may carry besides the ones its manifest lists (documentation, never data).
_EXTRAS = ("README.md", "preview.png")
# What a diffusers pipeline folder needs: configs and safetensors weights, never pickles or code.
MODEL_FILES = ("model_index.json", "condensed_data.json", "*/config.json", "*/scheduler_config.json",
               "*/diffusion_pytorch_model.safetensors")  # fmt: skip


def _check_id(repo_id: str) -> None:
    if not is_hub_id(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id of the form 'org/name'")


def _local(path: Path) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder; an artifact is a folder holding condensed.json")
    return path


def _snapshot(repo_id: str, patterns: Sequence[str], options: HubOptions, *, repo_type: str = "dataset") -> Path:
    from huggingface_hub import snapshot_download

    with hub_errors(repo_id, options):
        return Path(
            snapshot_download(
                repo_id,
                repo_type=repo_type,
                allow_patterns=list(patterns),
                revision=options.revision,
                cache_dir=options.cache_dir,
                local_files_only=options.local_files_only,
                token=options.token,
                force_download=options.force_download,
                endpoint=options.server,
            )
        )


def _repo_files(repo_id: str, sha: str, options: HubOptions) -> list[str] | None:
    """The repository's file names at ``sha``, or None when they cannot be had cheaply."""
    from huggingface_hub import HfApi

    try:
        api = HfApi(endpoint=options.server)
        return sorted(api.list_repo_files(repo_id, repo_type="dataset", revision=sha, token=options.token))
    except Exception:  # best effort: only used to enrich an error message
        return None


def _manifest_snapshot(repo_id: str, options: HubOptions) -> Path:
    """Download ``condensed.json`` alone and return the snapshot folder holding it."""
    from condensed_data.artifact.manifest import MANIFEST_NAME

    folder = _snapshot(repo_id, [MANIFEST_NAME], options)
    if not (folder / MANIFEST_NAME).is_file():
        files = None if options.local_files_only else _repo_files(repo_id, folder.name, options)
        holds = ""
        if files is not None:
            shown = ", ".join(files[:20]) + (f", ... ({len(files)} files)" if len(files) > 20 else "")
            holds = f" (it holds: {shown or 'no files'})"
        raise NotACondensedSetError(
            f"{options.where(repo_id)} is not a condensed set: it has no {MANIFEST_NAME}{holds}. Condensed sets are "
            "published with `condensed-data push`; for an ordinary dataset repository use the `datasets` library "
            "instead"
        )
    return folder


def resolve(name_or_path: str | os.PathLike, options: HubOptions | None = None) -> Path:
    """Return a local folder holding the artifact named by ``name_or_path``.

    Which one it means is :func:`~condensed_data.hub.names.locate`'s rule: a local folder is returned as is (the
    options are not used); a Hub id is downloaded with :func:`download`.

    Args:
        name_or_path: A folder, ``local-dir:PATH``, ``hf-hub:ORG/NAME`` or ``ORG/NAME``.
        options: How to download a Hub id (default: huggingface_hub's defaults).

    Raises:
        FileNotFoundError: Not a folder, and not a Hub id (the message names both fixes).
        HubError: See :func:`download`.

    >>> resolve("org/fmnist-dm-ipc10", HubOptions(revision="v1.0"))  # doctest: +SKIP
    PosixPath('.../datasets--org--fmnist-dm-ipc10/snapshots/...')
    """
    where = locate(name_or_path)
    if not where.is_hub:
        return _local(where.path)
    return download(where.repo_id, options)


def download(repo_id: str, options: HubOptions | None = None) -> Path:
    """Download a condensed set from a Hub dataset repository into huggingface_hub's cache; return its folder.

    ``condensed.json`` comes first and is validated; then only the files it lists (and ``README.md``,
    ``preview.png``) are fetched, all from the same commit. Checksums are verified by whoever reads the folder
    (``CondensedDataset``, ``read_artifact``). Files already in the cache are not fetched again unless
    ``options.force_download``; with ``options.local_files_only`` (or ``HF_HUB_OFFLINE=1``) nothing is requested.

    Args:
        repo_id: ``org/name`` of a dataset repository.
        options: Revision, cache, token, server, ... (see :class:`HubOptions`).

    Raises:
        HubError: A subclass naming the problem: ``RepoNotFoundError``, ``RevisionNotFoundError``,
            ``HubAccessError``, ``NotACondensedSetError``, ``HubUnreachableError``.
        ManifestError: ``condensed.json`` is not a valid manifest.

    >>> folder = download("org/fmnist-dm-ipc10", HubOptions(revision="v1.0"))  # doctest: +SKIP
    """
    from condensed_data.artifact.folder import read_manifest
    from condensed_data.artifact.manifest import MANIFEST_NAME

    _check_id(repo_id)
    options = options or HubOptions()
    first = _manifest_snapshot(repo_id, options)
    manifest = read_manifest(first)
    # The snapshot folder is named by the commit sha: pin it so that the data files come from the same commit.
    patterns = [MANIFEST_NAME, *_EXTRAS, *(glob.escape(name) for name in manifest.files)]
    folder = _snapshot(repo_id, patterns, options.replace(revision=first.name))
    logger.info("%s@%s is in %s", repo_id, options.revision or "main", folder)
    return folder


def fetch_manifest(name_or_path: str | os.PathLike, options: HubOptions | None = None) -> Manifest:
    """Read only the manifest of a local folder or a Hub repository (no data file is downloaded).

    Args:
        name_or_path: As for :func:`resolve`.
        options: How to download from the Hub.

    >>> fetch_manifest("org/fmnist-dm-ipc10").images_per_class  # doctest: +SKIP
    10
    """
    from condensed_data.artifact.folder import read_manifest

    where = locate(name_or_path)
    if not where.is_hub:
        return read_manifest(_local(where.path))
    return read_manifest(_manifest_snapshot(where.repo_id, options or HubOptions()))


def download_files(repo_id: str, patterns: Sequence[str], options: HubOptions | None = None) -> Path:
    """Download only the files of a Hub *dataset* repository that ``patterns`` match; return the snapshot folder.

    For ``condensed-data import`` of a foreign set published in a repository that is not a condensed set (no
    manifest): the files are fetched into huggingface_hub's cache like any other, and nothing in them is run.

    >>> download_files("org/mtt-sets", ["cifar10/images_best.pt", "cifar10/labels_best.pt"])  # doctest: +SKIP
    """
    _check_id(repo_id)
    options = options or HubOptions()
    return _snapshot(repo_id, patterns, options)


def download_model(repo_id: str, options: HubOptions | None = None, *, files: Sequence[str] = MODEL_FILES) -> Path:
    """Download a model from a Hub *model* repository (only the files ``files`` match); return its folder.

    By default the files of a diffusers pipeline: JSON configs and ``diffusion_pytorch_model.safetensors``
    weights (e.g. a DiT checkpoint's ``transformer/``, ``vae/`` and ``scheduler/``), so nothing from the repository
    can run. The folder is named by the commit sha (:func:`~condensed_data.hub.names.cached_revision` reads it
    back), which pins the model.

    Args:
        repo_id: ``org/name`` of a model repository.
        options: Revision, cache, token, server, ... (see :class:`HubOptions`).
        files: Glob patterns of the files to fetch (configs and safetensors weights; never pickles or code).

    >>> folder = download_model("facebook/DiT-XL-2-256")  # doctest: +SKIP
    >>> gan = download_model("org/gan", files=["config.json", "model.safetensors"])  # doctest: +SKIP
    """
    _check_id(repo_id)
    options = options or HubOptions()
    folder = _snapshot(repo_id, files, options, repo_type="model")
    logger.info("model %s@%s is in %s", repo_id, options.revision or "main", folder)
    return folder
