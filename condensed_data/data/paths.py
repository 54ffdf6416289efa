"""Where condensed-data keeps real datasets on disk."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_HOME_ENV", "data_home"]

DATA_HOME_ENV = "CONDENSED_DATA_HOME"


def data_home() -> Path:
    """The folder for downloaded real datasets: ``$CONDENSED_DATA_HOME``, else ``~/.cache/condensed-data``.

    Example:
        >>> isinstance(data_home(), Path)
        True
    """
    configured = os.environ.get(DATA_HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "condensed-data"
