"""``CondensedDataset``: a condensed set as a drop-in, map-style ``torch.utils.data.Dataset``.

Items are ``(image, label)`` with ``image`` a float tensor ``C x H x W`` in pixel space (like torchvision's
``ToTensor`` output) and ``label`` an ``int`` (or a probability vector for soft-label sets). The training recipe the
set was made for, normalization included, is ``ds.recipe``.

>>> ds = CondensedDataset.from_pretrained("out/fashion-mnist-dm-ipc10")  # doctest: +SKIP
>>> ds = CondensedDataset.from_pretrained("org/fmnist-dm-ipc10", revision="v1.0")  # a Hub id  # doctest: +SKIP
>>> image, label = ds[0]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from condensed_data.artifact.folder import read_artifact
from condensed_data.artifact.manifest import Manifest, Recipe
from condensed_data.hub import HubOptions, PushResult, push_to_hub, redownload_hint, resolve
from condensed_data.sources import Source, open_source

__all__ = ["CondensedDataset"]


class CondensedDataset(torch.utils.data.Dataset):
    """A condensed set loaded from an artifact folder; behaves like a torchvision dataset.

    Args:
        folder: An artifact folder (holding ``condensed.json``).
        transform: Applied to each image tensor (e.g. ``torchvision.transforms.Normalize(*ds.recipe...)``).
        target_transform: Applied to each label.
        verify: Check every file's size and sha256 against the manifest before loading (default).
        mode: For a generator-backed set (kind ``generator``): ``"fixed"`` (default) is exactly the condensed set,
            deterministic; ``"fresh"`` draws new samples each epoch (see :meth:`set_epoch`). Other kinds: fixed.
        samples_per_class: Fresh mode: items per class (may exceed the stored images per class).
        seed: Fresh mode: base seed (default: the manifest's); item ``i`` of epoch ``e`` derives from
            ``(seed, e, i)``.
        noise: Fresh mode: scale of the noise added to a stored code (see
            :mod:`condensed_data.sources.generator`).
        steps: For a latent-diffusion set (kind ``latent-diffusion``, LD3M): DDIM steps per decode (default: the
            stored number; fewer is faster). See :mod:`condensed_data.sources.latent_diffusion`.

    The object is picklable and holds only CPU tensors, so it works with ``DataLoader(num_workers>0)`` and
    ``DistributedSampler``.

    A sharded artifact (kind ``webdataset``, from ``condensed-data export --to webdataset``) loads too: its shards
    are read into memory once. To stream them instead (DDP ranks and workers each reading only their shards), use
    :class:`condensed_data.dataset.streaming.CondensedIterableDataset`, which yields the same items.

    >>> ds = CondensedDataset("out/fashion-mnist-dm-ipc10")  # doctest: +SKIP
    >>> len(ds), ds.classes[:2]  # doctest: +SKIP
    (100, ['T-shirt/top', 'Trouser'])
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        *,
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        verify: bool = True,
        mode: str = "fixed",
        samples_per_class: int | None = None,
        seed: int | None = None,
        noise: float | None = None,
        steps: int | None = None,
    ) -> None:
        self.folder = Path(folder)
        with redownload_hint(self.folder):  # a Hub cache snapshot is downloaded again, not copied
            self.manifest: Manifest = read_artifact(self.folder, verify=verify)
        self.source: Source = open_source(
            self.folder,
            self.manifest,
            mode=mode,
            samples_per_class=samples_per_class,
            seed=seed,
            noise=noise,
            steps=steps,
        )
        self.transform = transform
        self.target_transform = target_transform

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        revision: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        force_download: bool = False,
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        verify: bool = True,
        endpoint: str | None = None,
        **options: Any,
    ) -> CondensedDataset:
        """Load from a local folder or a Hugging Face Hub dataset repository.

        Which one ``name_or_path`` means: ``local-dir:PATH`` is always a folder and ``hf-hub:ORG/NAME`` always a
        Hub id; otherwise an existing local path wins, and a string shaped ``org/name`` is a Hub id
        (:func:`condensed_data.hub.locate`). A Hub set is downloaded through huggingface_hub's cache: only
        ``condensed.json`` and the files it lists, so a later load needs no network (``HF_HUB_OFFLINE=1`` or
        ``local_files_only=True``). Every file's sha256 is checked against the manifest before use.

        Args:
            name_or_path: A folder or a Hub id (see above).
            revision: Hub branch, tag or commit sha to load (default: main). Pin a sha for reproducibility.
            cache_dir: huggingface_hub cache folder (default ``HF_HUB_CACHE``).
            local_files_only: Use only the cache; never touch the network.
            token: Hub token for private or gated repositories (default ``HF_TOKEN`` or ``hf auth login``).
            force_download: Download every file again even if cached (the fix for a checksum error in the cache).
            transform: Applied to each image tensor.
            target_transform: Applied to each label.
            verify: Check sizes and sha256 of every file (default).
            endpoint: Hub-compatible server (default ``HF_ENDPOINT``, else huggingface.co).
            **options: ``mode``, ``samples_per_class``, ``seed``, ``noise`` of a generator-backed set, ``steps`` of a
                latent-diffusion set (see the class).

        Raises:
            condensed_data.hub.HubError: A subclass naming the problem (repository or revision not found, gated or
                unauthorized, not a condensed set, offline without a cached copy).
            ChecksumError: A file differs from its manifest entry (the message names it and the fix).

        >>> ds = CondensedDataset.from_pretrained("out/fashion-mnist-dm-ipc10")  # doctest: +SKIP
        >>> ds = CondensedDataset.from_pretrained("org/fmnist-dm-ipc10", revision="v1.0")  # doctest: +SKIP
        """
        hub = HubOptions(
            revision=revision,
            cache_dir=cache_dir,
            token=token,
            endpoint=endpoint,
            local_files_only=local_files_only,
            force_download=force_download,
        )
        folder = resolve(name_or_path, hub)
        return cls(folder, transform=transform, target_transform=target_transform, verify=verify, **options)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        commit_message: str | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        endpoint: str | None = None,
    ) -> PushResult:
        """Upload this set's folder to the Hub dataset repository ``repo_id`` in one commit.

        See :func:`condensed_data.hub.push_to_hub` (the folder is validated first; a dataset card and preview
        are generated if missing). Returns the commit (``.commit_url``, ``.commit_sha``).

        >>> ds.push_to_hub("me/fmnist-dm-ipc10", private=True)  # doctest: +SKIP
        """
        hub = HubOptions(token=token, revision=revision, endpoint=endpoint)
        return push_to_hub(self.folder, repo_id, hub, private=private, commit_message=commit_message)

    # -- the torchvision-like surface ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} items")
        image, label = self.source[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def __getitems__(self, indices: list[int]) -> list[tuple[Any, Any]]:
        """A batch of items at once: DataLoader fetches batches this way, so a generator runs once per batch."""
        for index in indices:
            if not -len(self) <= index < len(self):
                raise IndexError(f"index {index} is out of range for a dataset of {len(self)} items")
        items = self.source.items(indices)
        if self.transform is None and self.target_transform is None:
            return items
        return [
            (
                image if self.transform is None else self.transform(image),
                label if self.target_transform is None else self.target_transform(label),
            )
            for image, label in items
        ]

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch`` (fresh mode of a generator-backed set draws new items per epoch; others: no-op).

        Call it before iterating an epoch, as with ``DistributedSampler.set_epoch``; DataLoader workers copy the
        dataset when an epoch's iterator is created (``persistent_workers=True`` keeps the first copy).
        """
        self.source.set_epoch(epoch)

    @property
    def classes(self) -> list[str]:
        """Class names, indexed by label."""
        return list(self.manifest.classes)

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Map from class name to label."""
        return {name: i for i, name in enumerate(self.manifest.classes)}

    @property
    def targets(self) -> list[int]:
        """The label of every item, as torchvision datasets expose it."""
        return self.source.targets

    @property
    def recipe(self) -> Recipe:
        """The training recipe the set was made for (normalization, augmentation, epochs, lr, ...)."""
        return self.manifest.recipe

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images and labels as two tensors (no transforms applied)."""
        return self.source.tensors()

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"CondensedDataset(method={m.method.name!r}, source={m.source.name!r}, kind={m.kind!r}, "
            f"items={len(self)}, images_per_class={m.images_per_class}, classes={m.num_classes}, folder='{self.folder}')"
        )
