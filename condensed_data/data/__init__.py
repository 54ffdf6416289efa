"""Real datasets behind one source contract (:class:`RealSource`): in memory (:class:`RealDataset`), or read lazily
from an image folder (:class:`ImageFolderSource`), a Hugging Face dataset (:class:`HFDatasetSource`) or
class-bucketed shards (:class:`ShardedRealSource`, written by :func:`write_real_shards`), for condensation and
evaluation.

Example:
    >>> import torch
    >>> from condensed_data.data import load_dataset
    >>> train = load_dataset("digits")
    >>> batch = train.sample_per_class(4, generator=torch.Generator().manual_seed(0))
    >>> batch.shape
    torch.Size([10, 4, 1, 8, 8])
"""

from condensed_data.data.adapters import from_image_folder, from_tensors, from_torchvision
from condensed_data.data.catalog import list_datasets, load_dataset
from condensed_data.data.folder import ImageFolderSource
from condensed_data.data.hf import HFDatasetSource
from condensed_data.data.real import RealDataset
from condensed_data.data.shard_format import write_real_shards
from condensed_data.data.shards import ShardedRealSource
from condensed_data.data.source import RealSource, require_in_memory

__all__ = [
    "HFDatasetSource",
    "ImageFolderSource",
    "RealDataset",
    "RealSource",
    "ShardedRealSource",
    "from_image_folder",
    "from_tensors",
    "from_torchvision",
    "list_datasets",
    "load_dataset",
    "require_in_memory",
    "write_real_shards",
]
