"""Sources materialize samples from an artifact folder; one Source class per manifest ``kind``.

Sources are loading-side code: they never import training code (condense, evaluate, augment, plugins).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from condensed_data.artifact.manifest import Manifest
from condensed_data.sources.base import Source
from condensed_data.sources.generator import GeneratorSource
from condensed_data.sources.latent_diffusion import LatentDiffusionSource
from condensed_data.sources.sharded import ShardSource
from condensed_data.sources.tensors import TensorSource

__all__ = ["Source", "TensorSource", "ShardSource", "GeneratorSource", "LatentDiffusionSource", "open_source"]

_SOURCES: dict[str, type[Source]] = {
    "tensors": TensorSource,
    "webdataset": ShardSource,
    "generator": GeneratorSource,
    "latent-diffusion": LatentDiffusionSource,
}


def open_source(folder: Path, manifest: Manifest, **options: Any) -> Source:
    """Build the Source for ``manifest.kind`` (only classes of this library, never code from the artifact).

    ``options`` are the Source's own (e.g. ``mode="fresh"`` for a generator artifact); ``None`` values mean the
    default. An option the kind does not have is an error that says which kinds have it.
    """
    try:
        cls = _SOURCES[manifest.kind]
    except KeyError:
        raise NotImplementedError(
            f"artifact kind {manifest.kind!r} cannot be read by this version of condensed-data "
            f"(it reads: {', '.join(_SOURCES)}); {manifest.install_hint()}"
        ) from None
    given = {k: v for k, v in options.items() if v is not None and not (k == "mode" and v == "fixed")}
    unknown = sorted(set(given) - set(cls.OPTIONS))
    if unknown:
        having = [kind for kind, c in _SOURCES.items() if set(unknown) <= set(c.OPTIONS)]
        raise ValueError(
            f"option(s) {unknown} do not apply to an artifact of kind {manifest.kind!r}"
            + (f"; they apply to artifacts of kind {' or '.join(having)}" if having else "")
        )
    return cls(folder, manifest, **given)
