"""Where artifacts come from: a local folder or a Hugging Face Hub dataset repository.

This is the only module that imports ``huggingface_hub`` (lazily, inside functions).

Resolution rule for :func:`resolve` (also used by ``CondensedDataset.from_pretrained``):

1. ``local-dir:PATH`` is always a local folder; ``hf-hub:ORG/NAME`` is always a Hub id.
2. Otherwise, an existing local path wins.
3. Otherwise, a string of the form ``ORG/NAME`` is a Hub dataset repository id.
4. Anything else is an error that says what was tried.

>>> resolve("local-dir:.").is_dir()
True
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["resolve", "is_hub_id"]

_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_hub_id(name: str) -> bool:
    """True if ``name`` has the shape of a Hub repository id (``org/name``)."""
    return bool(_HUB_ID.match(name)) and ".." not in name


def resolve(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Path:
    """Return a local folder holding the artifact named by ``name_or_path`` (see the module docstring)."""
    text = os.fspath(name_or_path)
    if text.startswith("local-dir:"):
        return _local(Path(text[len("local-dir:") :]))
    if text.startswith("hf-hub:"):
        return _download(text[len("hf-hub:") :], revision, cache_dir, local_files_only, token)
    path = Path(text)
    if path.exists():
        return _local(path)
    if is_hub_id(text):
        return _download(text, revision, cache_dir, local_files_only, token)
    raise FileNotFoundError(
        f"{text!r} is neither an existing folder nor a Hub id of the form 'org/name'; "
        "pass a path to an artifact folder (prefix 'local-dir:' to force it) or a Hub id ('hf-hub:org/name')"
    )


def _local(path: Path) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder; an artifact is a folder holding condensed.json")
    return path


def _download(repo_id: str, revision, cache_dir, local_files_only: bool, token) -> Path:
    from huggingface_hub import snapshot_download

    folder = snapshot_download(
        repo_id,
        repo_type="dataset",
        revision=revision,
        cache_dir=cache_dir,
        local_files_only=local_files_only,
        token=token,
    )
    return Path(folder)
