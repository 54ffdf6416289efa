"""Loading wing: the Hugging Face Hub, the only package that imports ``huggingface_hub`` (lazily).

>>> from condensed_data.hub import is_hub_id, resolve, download, push_to_hub
"""

from condensed_data.hub.client import (
    HubAccessError,
    HubError,
    HubUnreachableError,
    NotACondensedSetError,
    PushResult,
    RepoNotFoundError,
    RevisionNotFoundError,
    cached_revision,
    download,
    download_model,
    fetch_manifest,
    is_hub_cache,
    is_hub_id,
    push_to_hub,
    redownload_hint,
    resolve,
)

__all__ = [
    "HubAccessError",
    "HubError",
    "HubUnreachableError",
    "NotACondensedSetError",
    "PushResult",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "cached_revision",
    "download",
    "download_model",
    "fetch_manifest",
    "is_hub_cache",
    "is_hub_id",
    "push_to_hub",
    "redownload_hint",
    "resolve",
]
