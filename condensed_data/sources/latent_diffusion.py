"""Source for artifacts of kind ``latent-diffusion`` (LD3M): latents decoded on the fly by a latent diffusion model.

Files (under ``diffusion/``, a diffusers pipeline layout read by :mod:`condensed_data.models.diffusion`): the denoiser
(``unet/`` or ``transformer/``), the autoencoder (``vae/``), the schedule (``scheduler/``), ``condensed_data.json``
(classes, image shape, and the ``sampling`` the set was condensed with: steps, skip, guidance) and
``latents.safetensors`` (per image: initial latent, class conditioning, start noise, label). Models are built from
diffusers classes named in an allow-list, with safetensors weights only: no code from the artifact runs.

Item ``i`` is image ``i`` of the condensed set, decoded with the stored number of DDIM steps (``steps=`` overrides
it: fewer is faster, more is closer to the model's own samples). Decoding is deterministic (the start noise is
stored) and done in aligned blocks (``i // block_size``), so item ``i`` is bit-identical in every DataLoader worker
and in the main process on one machine, whatever the access order. Decoded blocks are kept in an LRU cache bounded
by ``cache_bytes``. Each process loads the model once, lazily, on the CPU; pickling sends only paths and tensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from condensed_data.artifact.folder import ArtifactError
from condensed_data.artifact.manifest import Manifest
from condensed_data.sources.base import BlockCache, Source

__all__ = ["LatentDiffusionSource", "DIFFUSION_FOLDER", "LATENTS_FILE", "save_latents", "load_latents"]

DIFFUSION_FOLDER = "diffusion"
LATENTS_FILE = "latents.safetensors"
_KEYS = ("latents", "conditioning", "noise", "labels")


def save_latents(
    folder: Path, latents: torch.Tensor, conditioning: torch.Tensor, noise: torch.Tensor, labels: torch.Tensor
) -> None:
    """Write ``latents.safetensors`` into ``folder``."""
    from safetensors.torch import save_file

    tensors = {"latents": latents, "conditioning": conditioning, "noise": noise, "labels": labels.long()}
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(Path(folder) / LATENTS_FILE))


def load_latents(folder: Path) -> dict[str, torch.Tensor]:
    """Read ``latents.safetensors`` and check that its tensors agree with each other."""
    path = Path(folder) / LATENTS_FILE
    try:
        data = load_file(str(path))
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing; copy or download the artifact again") from None
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"{path} is not a readable safetensors file ({exc}); copy it again") from None
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ArtifactError(f"{path} lacks tensor(s) {missing}; it was not written by LD3M")
    n = data["labels"].shape[0]
    if any(data[k].shape[0] != n for k in _KEYS) or data["latents"].shape != data["noise"].shape:
        raise ArtifactError(f"{path}: latents, conditioning, noise and labels disagree on the number of images")
    return data


class LatentDiffusionSource(Source):
    """Images decoded on the fly from an LD3M artifact (see the module docstring).

    Args:
        folder: The artifact folder.
        manifest: Its manifest (kind ``latent-diffusion``).
        steps: DDIM steps (default: those the set was condensed with).
        block_size: Items decoded together.
        cache_bytes: Bound of the block cache per process.
    """

    OPTIONS: ClassVar[tuple[str, ...]] = ("steps",)

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        *,
        steps: int | None = None,
        block_size: int = 64,
        cache_bytes: int = 512 << 20,
    ) -> None:
        super().__init__(folder, manifest)
        where = self.folder / DIFFUSION_FOLDER
        data = load_latents(where)
        self.latents, self.conditioning, self.noise = data["latents"], data["conditioning"], data["noise"]
        self.labels = data["labels"].long()
        model = self._load()  # checks the models now; workers load their own copy lazily
        sampling = model.folder_info.get("sampling", {})
        self.stored_steps = int(sampling.get("steps", 10))
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
            raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
        self.steps = self.stored_steps if steps is None else steps
        self.skip = bool(sampling.get("skip", True))
        self.guidance = float(sampling.get("guidance", 1.0))
        if tuple(self.latents.shape[1:]) != tuple(model.latent_shape) or (
            self.conditioning.shape[1] != model.conditioning_dim
        ):
            raise ArtifactError(
                f"{where / LATENTS_FILE} holds latents {list(self.latents.shape[1:])} and conditioning of "
                f"{self.conditioning.shape[1]} values, but the denoiser in {where} takes latents "
                f"{list(model.latent_shape)} and {model.conditioning_dim}: the denoiser does not belong to these "
                "latents; copy or download the artifact again"
            )
        if self.labels.numel() == 0 or int(self.labels.min()) < 0 or int(self.labels.max()) >= manifest.num_classes:
            raise ArtifactError(f"{where / LATENTS_FILE}: labels must lie in [0, {manifest.num_classes})")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.block_size = int(block_size)
        self._model = model
        self._cache = BlockCache(cache_bytes)

    def _load(self) -> Any:
        from condensed_data.models.diffusion import INFO_FILE, DiffusionError, load_diffusion

        m = self.manifest
        where = self.folder / DIFFUSION_FOLDER
        if not (where / INFO_FILE).is_file():
            raise ArtifactError(f"{where / INFO_FILE} is missing; copy the artifact again")
        try:
            return load_diffusion(where, num_classes=m.num_classes, image_shape=tuple(m.image_shape))
        except DiffusionError as exc:
            raise ArtifactError(f"cannot load the diffusion model of this artifact: {exc}") from None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def __len__(self) -> int:
        return self.labels.shape[0]

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        n = len(self)
        index = int(index)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for a dataset of {n} items")
        index %= n
        return self._block(index // self.block_size)[index % self.block_size], int(self.labels[index])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        images = torch.cat([self._decode(s, min(s + self.block_size, n)) for s in range(0, n, self.block_size)])
        return images, self.labels.clone()

    def _block(self, number: int) -> torch.Tensor:
        start = number * self.block_size
        return self._cache.get(number, lambda: self._decode(start, min(start + self.block_size, len(self))))

    @torch.no_grad()
    def _decode(self, start: int, stop: int) -> torch.Tensor:
        if self._model is None:
            self._model = self._load()
        rows = slice(start, stop)
        images = self._model.sample(
            self.latents[rows],
            self.conditioning[rows],
            self.noise[rows],
            steps=self.steps,
            skip=self.skip,
            guidance=self.guidance,
        )
        return images.float().contiguous()
