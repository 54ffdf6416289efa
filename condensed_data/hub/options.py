"""Loading wing: :class:`HubOptions`, the one set of Hub settings every download and push takes.

``CondensedDataset.from_pretrained(..., revision=, cache_dir=, token=, ...)`` and the CLI's ``--revision``,
``--cache-dir``, ``--token``, ``--force-download`` build one of these and pass it on, so the settings are spelled,
checked and documented once. Nothing here imports ``huggingface_hub``.

>>> options = HubOptions(revision="v1.0", local_files_only=True)
>>> options.replace(revision="main").revision
'main'
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["HubOptions"]


@dataclass(frozen=True)
class HubOptions:
    """How to reach the Hub and its cache (every field's default is huggingface_hub's own).

    Attributes:
        revision: Branch, tag or commit sha (default: the main branch). Pin a sha for reproducibility. For a push:
            the branch to commit to (created from main if missing).
        cache_dir: huggingface_hub cache folder (default ``HF_HUB_CACHE``, ``~/.cache/huggingface/hub``).
        token: Hub token; ``None`` uses ``HF_TOKEN`` or the login of ``hf auth login``; ``False`` sends none.
        endpoint: Hub-compatible server (default: ``HF_ENDPOINT`` read at call time, else huggingface.co).
        local_files_only: Use only the cache; never touch the network (as ``HF_HUB_OFFLINE=1`` does).
        force_download: Fetch every file again even if cached (the fix for a checksum error in the cache).

    ``cache_dir``, ``local_files_only`` and ``force_download`` concern downloads; a push ignores the first and
    last and refuses ``local_files_only=True``.

    >>> HubOptions(revision="")
    Traceback (most recent call last):
        ...
    ValueError: revision must be a branch, tag or commit sha, or None for main; got ''
    """

    revision: str | None = None
    cache_dir: str | os.PathLike | None = None
    token: str | bool | None = None
    endpoint: str | None = None
    local_files_only: bool = False
    force_download: bool = False

    def __post_init__(self) -> None:
        if self.revision is not None and (not isinstance(self.revision, str) or not self.revision.strip()):
            raise ValueError(f"revision must be a branch, tag or commit sha, or None for main; got {self.revision!r}")
        if self.endpoint is not None and not (isinstance(self.endpoint, str) and "://" in self.endpoint):
            raise ValueError(f"endpoint must be a server URL such as 'https://huggingface.co'; got {self.endpoint!r}")
        if self.token is not None and not isinstance(self.token, (str, bool)):
            raise ValueError(f"token must be a string, True, False or None; got {type(self.token).__name__}")
        for name in ("local_files_only", "force_download"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False; got {getattr(self, name)!r}")

    @property
    def server(self) -> str | None:
        """The server to talk to: ``endpoint``, else ``HF_ENDPOINT`` as it is now, else None (huggingface_hub's).

        huggingface_hub reads ``HF_ENDPOINT`` once, at import; reading it here too lets it be set later (in tests,
        in a notebook).

        >>> HubOptions(endpoint="http://127.0.0.1:8000/").server
        'http://127.0.0.1:8000'
        """
        value = self.endpoint or os.environ.get("HF_ENDPOINT") or None
        return value.rstrip("/") if value else None

    def replace(self, **changes: Any) -> HubOptions:
        """A copy with ``changes`` applied (and checked again).

        >>> HubOptions(revision="v1").replace(force_download=True).force_download
        True
        """
        return dataclasses.replace(self, **changes)

    def where(self, repo_id: str) -> str:
        """``repo_id@revision`` (or ``repo_id`` without a revision), for messages.

        >>> HubOptions(revision="v1").where("org/set")
        'org/set@v1'
        """
        return f"{repo_id}@{self.revision}" if self.revision else repo_id
