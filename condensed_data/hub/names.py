"""Loading wing: what a name means, a local folder or a Hub repository, and which cache snapshot a path lies in.

:func:`locate` is the one place that tells a Hub id from a local path; ``CondensedDataset.from_pretrained``, the
CLI and the generative priors (DCGM, LD3M) all go through it. The rule, as in timm:

1. ``local-dir:PATH`` is always a local path; ``hf-hub:ORG/NAME`` is always a Hub repository id.
2. Otherwise, an existing local path wins.
3. Otherwise, a string of the form ``ORG/NAME`` is a Hub repository id.
4. Anything else is an error that names both fixes (``local-dir:PATH`` or ``hf-hub:ORG/NAME``).

Nothing here imports ``huggingface_hub`` or touches the network.

>>> locate("local-dir:org/set")
Location(kind='local', name='org/set')
>>> locate("hf-hub:org/set").repo_id
'org/set'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["LOCAL_PREFIX", "HUB_PREFIX", "Location", "locate", "is_hub_id", "is_hub_cache", "cached_revision"]

LOCAL_PREFIX = "local-dir:"
HUB_PREFIX = "hf-hub:"

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_CACHE_REPO = re.compile(r"^(datasets|models|spaces)--")


@dataclass(frozen=True)
class Location:
    """Where a name points: ``kind`` ``"local"`` (``name`` is a path) or ``"hub"`` (``name`` is ``org/name``).

    The prefix (``local-dir:``, ``hf-hub:``) is already removed from ``name``.
    """

    kind: Literal["local", "hub"]
    name: str

    @property
    def is_hub(self) -> bool:
        """True for a Hub repository id."""
        return self.kind == "hub"

    @property
    def path(self) -> Path:
        """The local path (a :class:`ValueError` for a Hub id: download it first)."""
        if self.is_hub:
            raise ValueError(f"{self.name!r} is a Hub repository id, not a local path: download it first")
        return Path(self.name)

    @property
    def repo_id(self) -> str:
        """The Hub repository id (a :class:`ValueError` for a local path)."""
        if not self.is_hub:
            raise ValueError(f"{self.name!r} is a local path, not a Hub repository id")
        return self.name


def is_hub_id(name: str) -> bool:
    """True if ``name`` has the shape of a Hub repository id (``org/name``, no prefix).

    >>> is_hub_id("org/fmnist-dm-ipc10"), is_hub_id("./out/set"), is_hub_id("a/b/c")
    (True, False, False)
    """
    return bool(_HUB_ID.match(name)) and ".." not in name


def locate(name_or_path: str | os.PathLike) -> Location:
    """Tell whether ``name_or_path`` is a local path or a Hub repository id (the rule of the module docstring).

    Only the local file system is looked at; whether the Hub repository exists is for the download to find out.

    Args:
        name_or_path: A path, ``local-dir:PATH``, ``hf-hub:ORG/NAME`` or ``ORG/NAME``.

    Returns:
        The :class:`Location`, prefix removed.

    Raises:
        FileNotFoundError: Neither an existing path nor shaped like a Hub id; the message names both fixes.
        ValueError: ``hf-hub:`` followed by something that is not ``org/name``, or an empty ``local-dir:``.

    >>> locate("hf-hub:org/set")
    Location(kind='hub', name='org/set')
    >>> locate(".").kind
    'local'
    """
    text = os.fspath(name_or_path)
    if text.startswith(LOCAL_PREFIX):
        path = text[len(LOCAL_PREFIX) :]
        if not path:
            raise ValueError(f"{text!r}: write the folder after the prefix, as in 'local-dir:PATH'")
        return Location("local", path)
    if text.startswith(HUB_PREFIX):
        repo_id = text[len(HUB_PREFIX) :]
        if not is_hub_id(repo_id):
            raise ValueError(f"{text!r}: a Hub repository id has the form 'hf-hub:ORG/NAME'")
        return Location("hub", repo_id)
    if Path(text).exists():
        return Location("local", text)
    if is_hub_id(text):
        return Location("hub", text)
    raise FileNotFoundError(
        f"{text!r} is neither an existing folder nor a Hub id of the form 'org/name': write '{LOCAL_PREFIX}PATH' "
        f"for a local folder or '{HUB_PREFIX}ORG/NAME' for a Hub repository"
    )


def cached_revision(path: str | os.PathLike) -> tuple[str, str] | None:
    """``(repo_id, commit_sha)`` of the huggingface_hub cache snapshot holding ``path``, or None.

    >>> cached_revision("/cache/hub/datasets--org--set/snapshots/0123abcd/images.safetensors")
    ('org/set', '0123abcd')
    >>> cached_revision("out/set") is None
    True
    """
    parts = Path(os.path.abspath(path)).parts
    for i in range(1, len(parts) - 1):
        if parts[i] == "snapshots" and _CACHE_REPO.match(parts[i - 1]):
            # huggingface_hub names the folder TYPE--ORG--NAME; Hub ids never contain "--"
            return "/".join(parts[i - 1].split("--")[1:]), parts[i + 1]
    return None


def is_hub_cache(path: str | os.PathLike) -> bool:
    """True if ``path`` lies inside a huggingface_hub cache snapshot (``.../datasets--org--name/snapshots/SHA/``).

    Files there are shared, read-only copies of a Hub revision; they must never be edited in place.

    >>> is_hub_cache("/home/me/.cache/huggingface/hub/datasets--org--set/snapshots/0123abcd")
    True
    >>> is_hub_cache("out/set")
    False
    """
    return cached_revision(path) is not None
