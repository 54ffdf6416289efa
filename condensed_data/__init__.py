"""condensed-data: dataset condensation that plugs into PyTorch data-loading pipelines.

>>> from condensed_data import CondensedDataset
>>> ds = CondensedDataset.from_pretrained("out/fashion-mnist-dm-ipc10")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

from condensed_data._version import __version__

if TYPE_CHECKING:
    from condensed_data.dataset import CondensedDataset
    from condensed_data.manifest import Manifest
    from condensed_data.streaming import CondensedIterableDataset

__all__ = ["CondensedDataset", "CondensedIterableDataset", "Manifest", "__version__"]

# Exports are resolved on first use so that `import condensed_data.registry` (and the CLI's --help) stay fast.
_LAZY = {
    "CondensedDataset": "condensed_data.dataset",
    "CondensedIterableDataset": "condensed_data.streaming",
    "Manifest": "condensed_data.manifest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'condensed_data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
