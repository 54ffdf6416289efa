"""condensed-data: dataset condensation that plugs into PyTorch data-loading pipelines.

The package has two wings, and each folder belongs to one:

* **Loading** (what a training job needs to *use* a condensed set; never imports the training wing):
  :mod:`~condensed_data.dataset` (``CondensedDataset``, streaming, resumable loaders),
  :mod:`~condensed_data.sources` (materializing samples from an artifact), :mod:`~condensed_data.models`
  (the generator and diffusion architectures sources rebuild), :mod:`~condensed_data.artifact` (manifest, folder
  I/O, card, preview), :mod:`~condensed_data.hub` (the Hugging Face Hub), :mod:`~condensed_data.interop`
  (formats in and out).
* **Training** (what *makes* a condensed set): :mod:`~condensed_data.data` (real datasets),
  :mod:`~condensed_data.nn` (networks), :mod:`~condensed_data.condense` (methods, representations, objectives, the
  driver), :mod:`~condensed_data.evaluate` (the evaluation protocol), and :mod:`condensed_data.testing` (the
  contract tests for plugin authors).
* :mod:`~condensed_data.cli` is the ``condensed-data`` command over both; ``seeding`` and ``runtime`` are small
  helpers both wings use.

>>> from condensed_data import CondensedDataset
>>> ds = CondensedDataset.from_pretrained("out/fashion-mnist-dm-ipc10")  # doctest: +SKIP
"""

from typing import TYPE_CHECKING

from condensed_data._lazy import exports
from condensed_data._version import __version__

if TYPE_CHECKING:
    from condensed_data.artifact.manifest import Manifest
    from condensed_data.dataset.condensed import CondensedDataset
    from condensed_data.dataset.streaming import CondensedIterableDataset

__all__ = ["CondensedDataset", "CondensedIterableDataset", "Manifest", "__version__"]

# Resolved on first use so that `import condensed_data.condense.registry` (and the CLI's --help) stay fast.
__getattr__, __dir__ = exports(
    __name__,
    {
        "CondensedDataset": "condensed_data.dataset.condensed",
        "CondensedIterableDataset": "condensed_data.dataset.streaming",
        "Manifest": "condensed_data.artifact.manifest",
    },
)
