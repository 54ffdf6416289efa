"""Loading wing: the datasets a training loop uses.

* :mod:`.condensed`: :class:`CondensedDataset`, the map-style, torchvision-like dataset over an artifact (local
  folder or Hub id).
* :mod:`.streaming`: :class:`CondensedIterableDataset`, streamed from webdataset shards or any artifact.
* :mod:`.resumable`: :func:`stateful_loader`, a torchdata ``StatefulDataLoader`` that resumes mid-epoch.

>>> from condensed_data.dataset import CondensedDataset, stateful_loader
"""

from typing import TYPE_CHECKING

from condensed_data._lazy import exports

if TYPE_CHECKING:
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.dataset.resumable import EpochSampler, stateful_loader
    from condensed_data.dataset.streaming import CondensedIterableDataset

__all__ = ["CondensedDataset", "CondensedIterableDataset", "EpochSampler", "stateful_loader"]

__getattr__, __dir__ = exports(
    __name__,
    {
        "CondensedDataset": "condensed_data.dataset.condensed",
        "CondensedIterableDataset": "condensed_data.dataset.streaming",
        "EpochSampler": "condensed_data.dataset.resumable",
        "stateful_loader": "condensed_data.dataset.resumable",
    },
)
