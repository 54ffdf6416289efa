"""Where artifacts come from and where they go: local folders and Hugging Face Hub *dataset* repositories.

This is the only module that imports ``huggingface_hub`` (lazily, inside functions), and the only one that talks to
the network. Downloads go through huggingface_hub's own cache (``snapshot_download``), so revisions, ``cache_dir``,
``local_files_only`` and ``HF_HUB_OFFLINE=1`` behave as everywhere else in the Hugging Face ecosystem.

Resolution rule for :func:`resolve` (also used by ``CondensedDataset.from_pretrained`` and the CLI):

1. ``local-dir:PATH`` is always a local folder; ``hf-hub:ORG/NAME`` is always a Hub id.
2. Otherwise, an existing local path wins.
3. Otherwise, a string of the form ``ORG/NAME`` is a Hub dataset repository id.
4. Anything else is an error that says what was tried.

A Hub download fetches ``condensed.json`` first, checks it is a valid manifest, and then fetches only the files that
manifest lists (plus ``README.md`` and ``preview.png``): a repository that is not a condensed set is refused before
any of its data is downloaded, and a stray file in a repository (a pickle, say) is never fetched.

Errors from huggingface_hub become :class:`HubError` subclasses whose messages name the problem and the fix.
The server is ``endpoint=`` if given, else the ``HF_ENDPOINT`` environment variable read at call time, else
huggingface_hub's default (``https://huggingface.co``).

>>> resolve("local-dir:.").is_dir()
True
>>> is_hub_id("org/fmnist-dm-ipc10"), is_hub_id("./out/set")
(True, False)
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import io
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from condensed_data.artifact.folder import ChecksumError

if TYPE_CHECKING:
    from condensed_data.artifact.manifest import Manifest

__all__ = [
    "HubError",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "HubAccessError",
    "NotACondensedSetError",
    "HubUnreachableError",
    "PushResult",
    "resolve",
    "is_hub_id",
    "is_hub_cache",
    "cached_revision",
    "download",
    "download_model",
    "fetch_manifest",
    "push_to_hub",
    "redownload_hint",
]

logger = logging.getLogger(__name__)

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_CACHE_REPO = re.compile(r"^(datasets|models|spaces)--")
# Files a condensed set may carry besides the ones its manifest lists (documentation, never data).
_EXTRAS = ("README.md", "preview.png")


class HubError(RuntimeError):
    """A Hub operation that failed; the message names the repository, the problem and what to do."""


class RepoNotFoundError(HubError):
    """No such dataset repository, or it is private/gated and the request carried no valid token."""


class RevisionNotFoundError(HubError):
    """The repository exists but has no such branch, tag or commit."""


class HubAccessError(HubError):
    """The Hub refused access: a gated repository, a missing or invalid token (401), or missing rights (403)."""


class NotACondensedSetError(HubError):
    """The repository exists but holds no ``condensed.json``."""


class HubUnreachableError(HubError):
    """The Hub could not be reached (or downloads are disabled) and the cache cannot answer instead."""


@dataclasses.dataclass(frozen=True)
class PushResult:
    """The commit :func:`push_to_hub` made. ``str(result)`` is the commit URL."""

    repo_id: str
    revision: str
    commit_url: str
    commit_sha: str

    def __str__(self) -> str:
        return self.commit_url


# -- names and places -------------------------------------------------------------------------------------------


def is_hub_id(name: str) -> bool:
    """True if ``name`` has the shape of a Hub repository id (``org/name``)."""
    return bool(_HUB_ID.match(name)) and ".." not in name


def is_hub_cache(path: str | os.PathLike) -> bool:
    """True if ``path`` lies inside a huggingface_hub cache snapshot (``.../datasets--org--name/snapshots/SHA/``).

    Files there are shared, read-only copies of a Hub revision; they must never be edited in place.

    >>> is_hub_cache("/home/me/.cache/huggingface/hub/datasets--org--set/snapshots/0123abcd")
    True
    >>> is_hub_cache("out/set")
    False
    """
    return cached_revision(path) is not None


def cached_revision(path: str | os.PathLike) -> tuple[str, str] | None:
    """``(repo_id, commit_sha)`` of the huggingface_hub cache snapshot holding ``path``, or None.

    >>> cached_revision("/cache/hub/datasets--org--set/snapshots/0123abcd/images.safetensors")
    ('org/set', '0123abcd')
    """
    parts = Path(os.path.abspath(path)).parts
    for i in range(1, len(parts) - 1):
        if parts[i] == "snapshots" and _CACHE_REPO.match(parts[i - 1]):
            # huggingface_hub names the folder TYPE--ORG--NAME; Hub ids never contain "--"
            return "/".join(parts[i - 1].split("--")[1:]), parts[i + 1]
    return None


def _split(name_or_path: str | os.PathLike) -> tuple[str, str]:
    """``("local", path)`` or ``("hub", repo_id)`` by the resolution rule of the module docstring."""
    text = os.fspath(name_or_path)
    if text.startswith("local-dir:"):
        return "local", text[len("local-dir:") :]
    if text.startswith("hf-hub:"):
        repo_id = text[len("hf-hub:") :]
        if not is_hub_id(repo_id):
            raise ValueError(f"{text!r}: a Hub id has the form 'hf-hub:org/name'")
        return "hub", repo_id
    if Path(text).exists():
        return "local", text
    if is_hub_id(text):
        return "hub", text
    raise FileNotFoundError(
        f"{text!r} is neither an existing folder nor a Hub id of the form 'org/name'; "
        "pass a path to an artifact folder (prefix 'local-dir:' to force it) or a Hub id ('hf-hub:org/name')"
    )


def _local(path: Path) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder; an artifact is a folder holding condensed.json")
    return path


def _endpoint(endpoint: str | None) -> str | None:
    # huggingface_hub reads HF_ENDPOINT once, at import; reading it here too lets it be set later (tests, notebooks).
    value = endpoint or os.environ.get("HF_ENDPOINT") or None
    return value.rstrip("/") if value else None


def _host(endpoint: str | None) -> str:
    if endpoint:
        return endpoint
    from huggingface_hub import constants

    return constants.ENDPOINT


@contextlib.contextmanager
def redownload_hint(folder: str | os.PathLike) -> Iterator[None]:
    """Add how to download a good copy to a :class:`ChecksumError` raised for a huggingface_hub cache snapshot.

    A cached file that fails its checksum cannot be fixed by copying the folder: it must be fetched again. Errors for
    other folders, and other errors, pass through unchanged.

    >>> with redownload_hint(snapshot):  # doctest: +SKIP
    ...     read_artifact(snapshot)
    """
    try:
        yield
    except ChecksumError as exc:
        cached = cached_revision(folder)
        if cached is None:
            raise
        repo_id, sha = cached
        raise ChecksumError(
            f"{exc}. This folder is huggingface_hub's cached copy of {repo_id} at {sha}: download it again with "
            f"force_download=True (CLI: `condensed-data pull {repo_id} --revision {sha} --force-download`)"
        ) from None


# -- errors -----------------------------------------------------------------------------------------------------


def _is_connection_error(exc: BaseException) -> bool:
    # httpx/httpx2/requests each have their own connection error classes; match them by name, not by import.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, (ConnectionError, TimeoutError)) or bool(
        names & {"ConnectError", "ConnectTimeout", "NetworkError", "TimeoutException", "TransportError"}
    )


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


# What a diffusers pipeline folder needs: configs and safetensors weights, never pickles or code.
_MODEL_PATTERNS = ["model_index.json", "condensed_data.json", "*/config.json", "*/scheduler_config.json",
                   "*/diffusion_pytorch_model.safetensors"]  # fmt: skip


def download_model(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
) -> Path:
    """Download a diffusers model (pipeline layout) from a Hub *model* repository; return its folder.

    Only JSON configs and ``diffusion_pytorch_model.safetensors`` weights are fetched (e.g. a DiT checkpoint's
    ``transformer/``, ``vae/`` and ``scheduler/``), so nothing from the repository can run. The folder is named by
    the commit sha (:func:`cached_revision` reads it back), which pins the model.

    >>> folder = download_model("facebook/DiT-XL-2-256")  # doctest: +SKIP
    """
    if not is_hub_id(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id of the form 'org/name'")
    kw = dict(
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        endpoint=_endpoint(endpoint),
    )
    folder = _snapshot(repo_id, _MODEL_PATTERNS, repo_type="model", **kw)
    logger.info("model %s@%s is in %s", repo_id, revision or "main", folder)
    return folder


@contextlib.contextmanager
def _hub_errors(
    repo_id: str, *, revision: str | None, endpoint: str | None, local_files_only: bool = False, action: str = "read"
) -> Iterator[None]:
    """Turn huggingface_hub's exceptions into :class:`HubError` subclasses with a fix in the message."""
    try:
        yield
    except Exception as exc:
        error = _translate(
            exc, repo_id, revision=revision, endpoint=endpoint, local_files_only=local_files_only, action=action
        )
        if error is None:
            raise
        raise error from exc


def _translate(
    exc: BaseException, repo_id: str, *, revision: str | None, endpoint: str | None, local_files_only: bool, action: str
) -> HubError | None:
    """The :class:`HubError` for a huggingface_hub exception, or None for one that is not about the Hub."""
    from huggingface_hub import errors as hf

    where = f"{repo_id}@{revision}" if revision else repo_id
    host = _host(endpoint)
    page = f"{host}/datasets/{repo_id}"
    login = "pass token=... (CLI: --token) or run `hf auth login`"
    if isinstance(exc, hf.GatedRepoError):
        return HubAccessError(
            f"{repo_id} is a gated dataset: log in on {page}, accept its access conditions, then {login} "
            "with that account"
        )
    if isinstance(exc, hf.RepositoryNotFoundError):
        return RepoNotFoundError(
            f"no dataset repository {repo_id!r} on {host}: check the id (org/name, a *dataset* repository); "
            f"if it is private or gated, {login} with an account that can read it"
        )
    if isinstance(exc, hf.RevisionNotFoundError):
        return RevisionNotFoundError(
            f"{repo_id} has no revision {revision!r}: pass an existing branch, tag or full commit sha "
            f"(listed on {page}/tree/main, or by `huggingface_hub.HfApi().list_repo_refs({repo_id!r}, "
            "repo_type='dataset')`)"
        )
    if isinstance(exc, hf.OfflineModeIsEnabled):
        return HubUnreachableError(
            f"cannot {action} {where}: HF_HUB_OFFLINE=1 forbids network access; unset it to {action}"
        )
    if isinstance(exc, hf.LocalEntryNotFoundError):
        # snapshot_download reports a failed request whose answer is not cached as "not found locally"; the request's
        # own error, if any, is the cause and says more (a 403, a 500).
        cause = exc.__cause__
        if isinstance(cause, hf.HfHubHTTPError):
            return _translate(
                cause, repo_id, revision=revision, endpoint=endpoint, local_files_only=False, action=action
            )
        if local_files_only or _offline_env():
            return HubUnreachableError(
                f"{where} is not (completely) in the huggingface_hub cache, and downloads are disabled "
                "(local_files_only=True or HF_HUB_OFFLINE=1): go online once (local_files_only=False, HF_HUB_OFFLINE "
                "unset) to download it, or pass a revision that is already in the cache"
            )
        return HubUnreachableError(
            f"could not reach {host} to download {where}, and it is not in the huggingface_hub cache: check your "
            "connection (and HF_ENDPOINT), or pass a revision that is already in the cache "
            "(with local_files_only=True nothing is requested)"
        )
    if isinstance(exc, hf.HfHubHTTPError):
        response = getattr(exc, "response", None)
        status = response.status_code if response is not None else None
        if status == 401:
            return HubAccessError(
                f"{host} refused to {action} {where} (401 unauthorized): the token is missing, invalid or expired; "
                f"{login}"
            )
        if status == 403:
            need = "write access to the repository (a fine-grained token needs 'write' on it or on the org)"
            return HubAccessError(
                f"{host} refused to {action} {where} (403 forbidden): the token lacks the rights; use a token with "
                f"{need if action == 'push to' else 'read access to it'}"
            )
        detail = " ".join((getattr(exc, "server_message", None) or str(exc)).split()) or type(exc).__name__
        advice = "the Hub is busy or down: retry later" if status is None or status >= 429 else "check the arguments"
        return HubError(f"{host} answered {status} while trying to {action} {where} ({detail}); {advice}")
    if _is_connection_error(exc):
        return HubUnreachableError(
            f"could not reach {host} to {action} {where} ({type(exc).__name__}: {exc}): check your connection "
            "(and HF_ENDPOINT)"
        )
    return None


# -- download ---------------------------------------------------------------------------------------------------


def resolve(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
    endpoint: str | None = None,
) -> Path:
    """Return a local folder holding the artifact named by ``name_or_path`` (see the module docstring).

    A local folder is returned as is (the Hub arguments are ignored); a Hub id is downloaded with :func:`download`.
    """
    where, name = _split(name_or_path)
    if where == "local":
        return _local(Path(name))
    return download(
        name,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
        endpoint=endpoint,
    )


def _snapshot(repo_id: str, patterns: list[str], *, repo_type: str = "dataset", **kw: Any) -> Path:
    from huggingface_hub import snapshot_download

    with _hub_errors(
        repo_id, revision=kw.get("revision"), endpoint=kw.get("endpoint"), local_files_only=kw["local_files_only"]
    ):
        return Path(snapshot_download(repo_id, repo_type=repo_type, allow_patterns=patterns, **kw))


def _repo_files(repo_id: str, sha: str, token: str | bool | None, endpoint: str | None) -> list[str] | None:
    """The repository's file names at ``sha``, or None when they cannot be had cheaply."""
    from huggingface_hub import HfApi

    try:
        return sorted(HfApi(endpoint=endpoint).list_repo_files(repo_id, repo_type="dataset", revision=sha, token=token))
    except Exception:  # best effort: only used to enrich an error message
        return None


def _manifest_snapshot(repo_id: str, **kw: Any) -> Path:
    """Download ``condensed.json`` alone and return the snapshot folder holding it."""
    from condensed_data.artifact.manifest import MANIFEST_NAME

    folder = _snapshot(repo_id, [MANIFEST_NAME], **kw)
    if not (folder / MANIFEST_NAME).is_file():
        where = f"{repo_id}@{kw['revision']}" if kw.get("revision") else repo_id
        files = None if kw["local_files_only"] else _repo_files(repo_id, folder.name, kw["token"], kw["endpoint"])
        holds = ""
        if files is not None:
            shown = ", ".join(files[:20]) + (f", ... ({len(files)} files)" if len(files) > 20 else "")
            holds = f" (it holds: {shown or 'no files'})"
        raise NotACondensedSetError(
            f"{where} is not a condensed set: it has no {MANIFEST_NAME}{holds}. Condensed sets are published with "
            "`condensed-data push`; for an ordinary dataset repository use the `datasets` library instead"
        )
    return folder


def download(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
    endpoint: str | None = None,
) -> Path:
    """Download a condensed set from a Hub dataset repository into huggingface_hub's cache; return its folder.

    ``condensed.json`` comes first and is validated; then only the files it lists (and ``README.md``,
    ``preview.png``) are fetched, all from the same commit. Checksums are verified by whoever reads the folder
    (``CondensedDataset``, ``read_artifact``). Files already in the cache are not fetched again unless
    ``force_download``; with ``local_files_only=True`` (or ``HF_HUB_OFFLINE=1``) nothing is requested.

    Args:
        repo_id: ``org/name`` of a dataset repository.
        revision: Branch, tag or commit sha (default: the main branch).
        cache_dir: huggingface_hub cache folder (default ``HF_HUB_CACHE``, ``~/.cache/huggingface/hub``).
        local_files_only: Use only the cache.
        token: Hub token; ``None`` uses ``HF_TOKEN`` or the login of ``hf auth login``.
        force_download: Fetch every file again even if cached (e.g. after a checksum error).
        endpoint: Hub-compatible server (default ``HF_ENDPOINT``, else huggingface.co).

    Raises:
        HubError: A subclass naming the problem: :class:`RepoNotFoundError`, :class:`RevisionNotFoundError`,
            :class:`HubAccessError`, :class:`NotACondensedSetError`, :class:`HubUnreachableError`.
        ManifestError: ``condensed.json`` is not a valid manifest.

    >>> folder = download("org/fmnist-dm-ipc10", revision="v1.0")  # doctest: +SKIP
    """
    from condensed_data.artifact.folder import read_manifest
    from condensed_data.artifact.manifest import MANIFEST_NAME

    if not is_hub_id(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id of the form 'org/name'")
    kw = dict(
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=force_download,
        endpoint=_endpoint(endpoint),
    )
    first = _manifest_snapshot(repo_id, **kw)
    manifest = read_manifest(first)
    # The snapshot folder is named by the commit sha: pin it so that the data files come from the same commit.
    kw["revision"] = first.name
    patterns = [MANIFEST_NAME, *_EXTRAS, *(glob.escape(name) for name in manifest.files)]
    folder = _snapshot(repo_id, patterns, **kw)
    logger.info("%s@%s is in %s", repo_id, revision or "main", folder)
    return folder


def fetch_manifest(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    endpoint: str | None = None,
) -> Manifest:
    """Read only the manifest of a local folder or a Hub repository (no data file is downloaded).

    >>> fetch_manifest("org/fmnist-dm-ipc10").images_per_class  # doctest: +SKIP
    10
    """
    from condensed_data.artifact.folder import read_manifest

    where, name = _split(name_or_path)
    if where == "local":
        return read_manifest(_local(Path(name)))
    if not is_hub_id(name):
        raise ValueError(f"{name!r} is not a Hub repository id of the form 'org/name'")
    folder = _manifest_snapshot(
        name,
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
        force_download=False,
        endpoint=_endpoint(endpoint),
    )
    return read_manifest(folder)


# -- upload -----------------------------------------------------------------------------------------------------


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


def _validate_for_push(folder: Path) -> tuple[Manifest, Any]:
    """Read, verify and open the artifact; refuse with the reason and the fix. No network."""
    from condensed_data.artifact.folder import ArtifactError, read_artifact
    from condensed_data.artifact.manifest import ManifestError
    from condensed_data.sources import open_source

    try:
        with redownload_hint(folder):
            manifest = read_artifact(folder, verify=True)
        hidden = sorted(name for name in manifest.files if _is_hidden(name))
        if hidden:
            raise ArtifactError(
                f"{folder}: condensed.json lists hidden file(s) {hidden}; hidden files (checkpoints, editor files) "
                "are never uploaded: rename them"
            )
        source = open_source(folder, manifest)
    except (ArtifactError, ManifestError, NotImplementedError) as exc:
        raise type(exc)(
            f"{exc}. Nothing was uploaded: fix the folder (or write it again with `condensed-data condense "
            "--overwrite`) and push again"
        ) from None
    return manifest, source


def _card_is_generated(text: str) -> bool:
    from condensed_data.artifact.card import GENERATED_MARK

    return GENERATED_MARK in text


def push_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool | None = None,
    commit_message: str | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    endpoint: str | None = None,
) -> PushResult:
    """Upload an artifact folder to a Hub dataset repository in one commit.

    The folder is validated completely first (manifest, every file's size and sha256, the data itself); a folder
    that fails is refused before any network request. The commit holds ``condensed.json``, the files it lists,
    ``preview.png`` and ``README.md``. A missing preview is drawn from the data; the dataset card is generated from
    the manifest (with this repository id in its loading snippet) when the folder has none, or when its card is
    the generated one (it carries a marker line; delete that line to keep your own edits). Any other
    ``README.md`` is uploaded unchanged. Hidden files (``.*``, e.g. checkpoints) and files the manifest does not
    list are never uploaded.

    Args:
        folder: An artifact folder (holding ``condensed.json``).
        repo_id: ``org/name``; the dataset repository is created if missing (``exist_ok``).
        private: Visibility of a repository created here (``None``: the Hub's default). An existing
            repository keeps its visibility.
        commit_message: Default: names the method, the source dataset and the images per class.
        token: A token with write access; ``None`` uses ``HF_TOKEN`` or the login of ``hf auth login``.
        revision: Branch to commit to (created from main if missing); default main.
        endpoint: Hub-compatible server (default ``HF_ENDPOINT``, else huggingface.co).

    Returns:
        The commit: ``result.commit_url``, ``result.commit_sha``.

    Raises:
        ArtifactError, ManifestError: The folder is not a valid artifact (nothing was uploaded).
        HubError: A subclass naming the problem (:class:`HubAccessError` for 401/403, ...).

    >>> push_to_hub("out/fashion-mnist-dm-ipc10", "me/fmnist-dm-ipc10")  # doctest: +SKIP
    PushResult(repo_id='me/fmnist-dm-ipc10', revision='main', commit_url='https://huggingface.co/...', ...)
    """
    from condensed_data._version import __version__
    from condensed_data.artifact.card import preview_grid, render_card
    from condensed_data.artifact.manifest import MANIFEST_NAME

    folder = Path(folder)
    if not is_hub_id(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id: push to 'org/name' (your user name or an org)")
    manifest, source = _validate_for_push(folder)

    files: dict[str, str | bytes] = {MANIFEST_NAME: str(folder / MANIFEST_NAME)}
    files.update({name: str(folder / name) for name in manifest.files})
    readme = folder / "README.md"
    if readme.is_file() and not _card_is_generated(readme.read_text(encoding="utf-8", errors="replace")):
        files["README.md"] = str(readme)
    else:
        files["README.md"] = render_card(manifest, repo_id=repo_id).encode("utf-8")
    if "preview.png" not in files:
        if (folder / "preview.png").is_file():
            files["preview.png"] = str(folder / "preview.png")
        else:
            images, labels = source.tensors()
            buffer = io.BytesIO()
            preview_grid(images, labels, manifest.num_classes).save(buffer, format="PNG")
            files["preview.png"] = buffer.getvalue()
    skipped = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in files
    )
    if skipped:
        logger.warning("not uploaded (hidden, or not listed in %s): %s", MANIFEST_NAME, ", ".join(skipped))

    message = commit_message or (
        f"Upload {manifest.source.name} condensed with {manifest.method.name} "
        f"({manifest.images_per_class} images per class), condensed-data {__version__}"
    )
    endpoint = _endpoint(endpoint)
    from huggingface_hub import CommitOperationAdd, HfApi

    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=data) for name, data in files.items()]
    api = HfApi(endpoint=endpoint, token=token)
    with _hub_errors(repo_id, revision=revision, endpoint=endpoint, action="push to"):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision not in (None, "main"):
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        info = api.create_commit(repo_id, operations, commit_message=message, repo_type="dataset", revision=revision)
    logger.info("pushed %s to %s: %s", folder, repo_id, info.commit_url)
    return PushResult(repo_id=repo_id, revision=revision or "main", commit_url=info.commit_url, commit_sha=info.oid)
