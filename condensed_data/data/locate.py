"""Where a named real dataset's files are looked for, what the user is told when they are missing, and the download.

Every dataset read from files searches the same kinds of places, in this order (the first that holds the files
wins): ``root`` and ``root/<name>`` (plus the dataset's own sub-layouts, e.g. torchvision's ``MNIST/raw``) when
``root`` is given; ``$CONDENSED_DATA_HOME/<name>``; ``/usr/share/datasets/<name>`` (where a system package would
put it); then the data home's layouts. Nothing is downloaded unless asked (``download=True``), and then only
through torchvision's download helpers (an optional extra), which check the published md5 of every file.

Example:
    >>> dirs = search_dirs("cifar10", "/data", system_dir=Path("/usr/share/datasets/cifar10"))
    >>> [str(d) for d in dirs[:3]]
    ['/data', '/data/cifar10', '/usr/share/datasets/cifar10']
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from condensed_data.data.paths import DATA_HOME_ENV, data_home

__all__ = ["SYSTEM_ROOT", "Resource", "download", "not_found_message", "search_dirs"]

logger = logging.getLogger(__name__)

SYSTEM_ROOT = Path("/usr/share/datasets")


@dataclass(frozen=True)
class Resource:
    """One published file: where it is downloaded from, the name it is saved under, and its published md5."""

    url: str
    filename: str
    md5: str


def search_dirs(
    name: str,
    root: str | os.PathLike[str] | None = None,
    *,
    system_dir: Path,
    layouts: Sequence[str] = (),
) -> list[Path]:
    """The folders searched for dataset ``name``'s files, in order, without duplicates.

    Args:
        name: The dataset's folder name (e.g. ``"cifar10"``).
        root: A folder to look in first: ``root``, ``root/<name>``, then ``root/<layout>`` for each layout.
        system_dir: Where a system package installs the dataset.
        layouts: Sub-folders (relative to ``root`` and to the data home) that other tools use, e.g.
            ``"MNIST/raw"``; include ``name`` itself to search ``<data home>/<name>`` (where downloads go).
    """
    directories: list[Path] = []
    if root is not None:
        base = Path(root).expanduser()
        directories += [base, base / name, *(base / layout for layout in layouts)]
    configured = os.environ.get(DATA_HOME_ENV)
    if configured:
        directories.append(Path(configured).expanduser() / name)
    directories.append(system_dir)
    directories += [data_home() / layout for layout in layouts]
    return list(dict.fromkeys(directories))


def not_found_message(title: str, split: str, wanted: str, directories: Sequence[Path], *, name: str) -> str:
    """The error of a dataset found nowhere: what was looked for, where, and the fixes (in that order)."""
    lines = [f"{title} ({split} split) was not found: looked for {wanted} in:"]
    lines += [f"  - {d}{'' if d.is_dir() else ' (does not exist)'}" for d in directories]
    lines += [
        "Fix it with one of:",
        f"  - put the files in a folder <dir>/{name}/ and set {DATA_HOME_ENV}=<dir>, or pass root=<folder> "
        "(--data-root on the command line)",
        f"  - download them: load_dataset({name!r}, download=True), or --download on the command line "
        "(needs torchvision and internet)",
    ]
    return "\n".join(lines)


def download(title: str, resources: Sequence[Resource], target: Path, *, extract: bool = False) -> None:
    """Download ``resources`` into ``target`` with torchvision's helpers (md5-checked; archives unpacked when
    ``extract``); files already there with the right md5 are not fetched again.

    Raises:
        ImportError: torchvision is not installed (the message says what to install, or where to copy the files).
        RuntimeError: a download failed (no network, a changed file); the message names the target folder.
    """
    try:
        from torchvision.datasets.utils import download_and_extract_archive, download_url  # optional: downloads only
    except ImportError as err:
        raise ImportError(
            f"download=True needs torchvision: pip install condensed-data[torchvision] (or copy {title}'s files "
            f"into {target} yourself)"
        ) from err
    logger.info("downloading %s into %s", title, target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        for r in resources:
            if extract:
                download_and_extract_archive(r.url, str(target), filename=r.filename, md5=r.md5)
            else:
                download_url(r.url, str(target), filename=r.filename, md5=r.md5)
    except Exception as err:  # network errors come in many types; all mean the same to the user
        raise RuntimeError(
            f"downloading {title} into {target} failed ({err}); without internet, copy "
            f"{', '.join(r.filename for r in resources)} into {target} from a machine that has them"
        ) from err
