"""Loading wing: the Hub's errors, each message naming the repository, the problem and what to do next.

:class:`HubError` and its subclasses are what the rest of the library (and the user) sees; :func:`hub_errors` turns
huggingface_hub's exceptions into them, and :func:`redownload_hint` tells how to get a good copy when a file in a
huggingface_hub cache snapshot fails its checksum. ``huggingface_hub`` is imported only inside functions.

>>> issubclass(RepoNotFoundError, HubError)
True
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from condensed_data.artifact.folder import ChecksumError
from condensed_data.hub.names import cached_revision
from condensed_data.hub.options import HubOptions

__all__ = [
    "HubError",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "HubAccessError",
    "NotACondensedSetError",
    "HubUnreachableError",
    "hub_errors",
    "redownload_hint",
]


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


@contextlib.contextmanager
def hub_errors(repo_id: str, options: HubOptions, *, action: str = "read") -> Iterator[None]:
    """Turn huggingface_hub's exceptions raised inside the block into :class:`HubError` subclasses.

    Exceptions that are not about the Hub pass through unchanged.

    Args:
        repo_id: The repository the block works on (named in the messages).
        options: The settings the block uses (revision, server, ``local_files_only``).
        action: What the block does, for the messages: ``"read"`` or ``"push to"``.

    >>> with hub_errors("org/set", HubOptions()):  # doctest: +SKIP
    ...     huggingface_hub.snapshot_download("org/set", repo_type="dataset")
    """
    try:
        yield
    except Exception as exc:
        error = _translate(exc, repo_id, options, action=action)
        if error is None:
            raise
        raise error from exc


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


def _host(options: HubOptions) -> str:
    """The server's URL for messages: the options' server, else huggingface_hub's default."""
    if options.server:
        return options.server
    from huggingface_hub import constants

    return constants.ENDPOINT


def _is_connection_error(exc: BaseException) -> bool:
    # httpx/httpx2/requests each have their own connection error classes; match them by name, not by import.
    names = {cls.__name__ for cls in type(exc).__mro__}
    return isinstance(exc, (ConnectionError, TimeoutError)) or bool(
        names & {"ConnectError", "ConnectTimeout", "NetworkError", "TimeoutException", "TransportError"}
    )


def _offline_env() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _translate(exc: BaseException, repo_id: str, options: HubOptions, *, action: str) -> HubError | None:
    """The :class:`HubError` for a huggingface_hub exception, or None for one that is not about the Hub."""
    from huggingface_hub import errors as hf

    revision = options.revision
    where = options.where(repo_id)
    server = _host(options)
    page = f"{server}/datasets/{repo_id}"
    login = "pass token=... (CLI: --token) or run `hf auth login`"
    if isinstance(exc, hf.GatedRepoError):
        return HubAccessError(
            f"{repo_id} is a gated dataset: log in on {page}, accept its access conditions, then {login} "
            "with that account"
        )
    if isinstance(exc, hf.RepositoryNotFoundError):
        return RepoNotFoundError(
            f"no dataset repository {repo_id!r} on {server}: check the id (org/name, a *dataset* repository); "
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
            return _translate(cause, repo_id, options.replace(local_files_only=False), action=action)
        if options.local_files_only or _offline_env():
            return HubUnreachableError(
                f"{where} is not (completely) in the huggingface_hub cache, and downloads are disabled "
                "(local_files_only=True or HF_HUB_OFFLINE=1): go online once (local_files_only=False, HF_HUB_OFFLINE "
                "unset) to download it, or pass a revision that is already in the cache"
            )
        return HubUnreachableError(
            f"could not reach {server} to download {where}, and it is not in the huggingface_hub cache: check your "
            "connection (and HF_ENDPOINT), or pass a revision that is already in the cache "
            "(with local_files_only=True nothing is requested)"
        )
    if isinstance(exc, hf.HfHubHTTPError):
        return _http_error(exc, where, server, action=action, login=login)
    if _is_connection_error(exc):
        return HubUnreachableError(
            f"could not reach {server} to {action} {where} ({type(exc).__name__}: {exc}): check your connection "
            "(and HF_ENDPOINT)"
        )
    return None


def _http_error(exc: BaseException, where: str, server: str, *, action: str, login: str) -> HubError:
    response = getattr(exc, "response", None)
    status = response.status_code if response is not None else None
    if status == 401:
        return HubAccessError(
            f"{server} refused to {action} {where} (401 unauthorized): the token is missing, invalid or expired; "
            f"{login}"
        )
    if status == 403:
        need = "write access to the repository (a fine-grained token needs 'write' on it or on the org)"
        return HubAccessError(
            f"{server} refused to {action} {where} (403 forbidden): the token lacks the rights; use a token with "
            f"{need if action == 'push to' else 'read access to it'}"
        )
    detail = " ".join((getattr(exc, "server_message", None) or str(exc)).split()) or type(exc).__name__
    advice = "the Hub is busy or down: retry later" if status is None or status >= 429 else "check the arguments"
    return HubError(f"{server} answered {status} while trying to {action} {where} ({detail}); {advice}")
