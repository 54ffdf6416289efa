"""Loading wing: the Hugging Face Hub, the only package that imports ``huggingface_hub`` (lazily, inside functions).

* :mod:`.names`: :func:`locate` tells a local path from a Hub id (``local-dir:`` / ``hf-hub:``); cache snapshots.
* :mod:`.options`: :class:`HubOptions`, the revision / cache / token / server settings every call takes.
* :mod:`.errors`: :class:`HubError` and its subclasses, each message naming the fix.
* :mod:`.download`: :func:`resolve`, :func:`download`, :func:`fetch_manifest`, :func:`download_model`.
* :mod:`.publish`: :func:`push_to_hub`, one commit of a validated folder with its card and preview.

>>> from condensed_data.hub import HubOptions, locate, resolve, download, push_to_hub
>>> locate("hf-hub:org/fmnist-dm-ipc10").kind
'hub'
"""

from condensed_data.hub.download import download, download_files, download_model, fetch_manifest, resolve
from condensed_data.hub.errors import (
    HubAccessError,
    HubError,
    HubUnreachableError,
    NotACondensedSetError,
    RepoNotFoundError,
    RevisionNotFoundError,
    redownload_hint,
)
from condensed_data.hub.names import Location, cached_revision, is_hub_cache, is_hub_id, locate
from condensed_data.hub.options import HubOptions
from condensed_data.hub.publish import PushResult, push_to_hub

__all__ = [
    "HubAccessError",
    "HubError",
    "HubOptions",
    "HubUnreachableError",
    "Location",
    "NotACondensedSetError",
    "PushResult",
    "RepoNotFoundError",
    "RevisionNotFoundError",
    "cached_revision",
    "download",
    "download_files",
    "download_model",
    "fetch_manifest",
    "is_hub_cache",
    "is_hub_id",
    "locate",
    "push_to_hub",
    "redownload_hint",
    "resolve",
]
