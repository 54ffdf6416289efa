"""The real-data source contract: what condensation and evaluation ask of a real dataset.

Condensation draws, at every iteration, ``n`` real images of each class from an explicit generator; evaluation
iterates over the test split once per trained network. That, the image shape, the classes and the normalization
statistics, is all a real dataset must offer, so a dataset need not fit in memory:

* :class:`~condensed_data.data.RealDataset` keeps everything in one float tensor (small sets, fastest draws);
* :class:`~condensed_data.data.ImageFolderSource` reads an image folder lazily, decoding only the drawn files.
* :class:`~condensed_data.data.HFDatasetSource` reads a Hugging Face ``datasets.Dataset`` (memory-mapped Arrow),
  decoding only the drawn rows.
* :class:`~condensed_data.data.ShardedRealSource` reads class-bucketed webdataset shards lazily, reading only the
  drawn members of the drawn classes' shards.

:class:`RealSource` is a structural protocol: any object with these members works. A few features still need the
whole training set in memory (k-means medoid initialization, trained feature pools, a soft-label teacher, priors,
ZCA, the full-real ranking run); they call :func:`require_in_memory`, which names the option and the alternative.

Example:
    >>> from condensed_data.testing import tiny_real_dataset
    >>> isinstance(tiny_real_dataset(), RealSource)
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

if TYPE_CHECKING:
    from condensed_data.data.real import RealDataset

__all__ = ["RealSource", "require_in_memory"]


@runtime_checkable
class RealSource(Protocol):
    """A class-indexed real image-classification split, as condensation and evaluation use it.

    Images are float pixel values in [0, 1], ``(C, H, W)`` each; :meth:`normalize` maps them to the protocol's value
    space. Every random draw takes a ``torch.Generator`` and consumes it exactly as
    :meth:`RealDataset.sample_per_class <condensed_data.data.RealDataset.sample_per_class>` does, so two sources
    holding the same images in the same order draw the same batches.
    """

    name: str
    split: str
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __len__(self) -> int: ...

    @property
    def num_classes(self) -> int: ...

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    def class_counts(self) -> list[int]:
        """Number of images of each class, indexed by label."""
        ...

    def sample_per_class(
        self,
        n: int,
        *,
        generator: torch.Generator,
        classes: Sequence[int] | None = None,
        keep: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """``(K, n, C, H, W)``: ``n`` random images of each requested class (``keep``: only those positions)."""
        ...

    def subset_per_class(self, n: int, *, generator: torch.Generator) -> RealDataset:
        """An in-memory dataset of ``n`` random images per class (the random-real baseline)."""
        ...

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Every image once, in order, as ``(images, labels)`` batches of at most ``batch_size``."""
        ...

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel."""
        ...

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x * std + mean`` per channel."""
        ...

    def fingerprint(self) -> str:
        """A ``"sha256:<hex>"`` identity of the data (what a manifest and a resumed run compare)."""
        ...

    def to(self, device: torch.device | str) -> RealSource:
        """The source with its draws returned on ``device``."""
        ...


def require_in_memory(real: object, feature: str, alternative: str) -> RealDataset:
    """``real`` as an in-memory :class:`~condensed_data.data.RealDataset`, or an error naming ``feature`` and what
    to do instead.

    Args:
        real: The training data.
        feature: The option that needs the whole split in memory, e.g. ``"init='medoids'"``.
        alternative: What works with a streaming source, e.g. ``"init='real'"``.

    Raises:
        ValueError: ``real`` is not in memory.

    Example:
        >>> from condensed_data.testing import tiny_real_dataset
        >>> require_in_memory(tiny_real_dataset(), "init='medoids'", "init='real'").name
        'tiny'
    """
    from condensed_data.data.real import RealDataset

    if isinstance(real, RealDataset):
        return real
    kind = type(real).__name__
    raise ValueError(
        f"{feature} needs the whole training split in memory, and {getattr(real, 'name', kind)!r} is read lazily "
        f"({kind}); use {alternative}, or load the data in memory (e.g. data.from_image_folder(...))"
    )
