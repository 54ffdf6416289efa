"""Sources materialize samples from an artifact folder; one Source class per manifest ``kind``.

Sources are loading-side code: they never import training code (condense, evaluate, augment, plugins).
"""

from __future__ import annotations

from pathlib import Path

from condensed_data.manifest import Manifest
from condensed_data.sources.base import Source
from condensed_data.sources.sharded import ShardSource
from condensed_data.sources.tensors import TensorSource

__all__ = ["Source", "TensorSource", "ShardSource", "open_source"]

_SOURCES: dict[str, type[Source]] = {"tensors": TensorSource, "webdataset": ShardSource}


def open_source(folder: Path, manifest: Manifest) -> Source:
    """Build the Source for ``manifest.kind`` (only classes of this library, never code from the artifact)."""
    try:
        cls = _SOURCES[manifest.kind]
    except KeyError:
        raise NotImplementedError(
            f"artifact kind {manifest.kind!r} cannot be read by this version of condensed-data "
            f"(it reads: {', '.join(_SOURCES)}); {manifest.install_hint()}"
        ) from None
    return cls(folder, manifest)
