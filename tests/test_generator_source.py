"""Generator-backed sets (artifact kind ``generator``): fixed and fresh modes, batching, errors, export."""

import pickle
from pathlib import Path

import pytest
import torch
from helpers import make_artifact, require, tiny_manifest
from safetensors.torch import save_file

from condensed_data.artifact.folder import ArtifactError, ChecksumError, save_artifact
from condensed_data.cli import main
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.interop.export import export_tensors
from condensed_data.models.generator import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    GeneratorError,
    load_generator,
    save_codes,
    save_generator,
)
from condensed_data.nn.init import build
from condensed_data.seeding import make_generator
from condensed_data.sources.generator import GeneratorSource

CLASSES, IPC, SHAPE = 3, 4, (1, 8, 8)


def _generator(seed: int = 0, **sizes) -> ConditionalGenerator:
    config = ConditionalGeneratorConfig(
        num_classes=CLASSES, image_shape=SHAPE, **{"latent_dim": 8, "width": 8, **sizes}
    )
    return build(lambda: ConditionalGenerator(config), generator=make_generator(seed)).eval()


def _codes(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn((CLASSES * IPC, 8), generator=make_generator(seed)), torch.arange(CLASSES).repeat_interleave(IPC)


def make_generator_artifact(folder: Path, *, seed: int = 7) -> Path:
    net, (codes, labels) = _generator(), _codes()

    def write(tmp: Path) -> None:
        save_generator(tmp / "generator", net)
        save_codes(tmp / "generator", codes, labels)

    manifest = tiny_manifest(classes=CLASSES, ipc=IPC, shape=SHAPE).replace(kind="generator", seed=seed)
    save_artifact(folder, manifest, write)
    return folder


@pytest.fixture
def artifact(tmp_path):
    return make_generator_artifact(tmp_path / "gen")


def _expected() -> torch.Tensor:
    codes, labels = _codes()
    with torch.no_grad():
        return _generator()(codes, labels)


def test_fixed_mode_is_the_stored_set(artifact):
    ds = CondensedDataset(artifact)
    assert isinstance(ds.source, GeneratorSource)
    assert len(ds) == CLASSES * IPC and ds.targets == [c for c in range(CLASSES) for _ in range(IPC)]
    image, label = ds[5]
    assert image.shape == SHAPE and label == 1 and 0 <= float(image.min()) and float(image.max()) <= 1
    images, labels = ds.tensors()
    assert torch.allclose(images, _expected(), atol=1e-6)
    assert labels.tolist() == ds.targets


def test_batched_generation_equals_one_by_one(artifact):
    net, (codes, labels) = _generator(), _codes()
    with torch.no_grad():
        batched = net(codes, labels)
        single = torch.cat([net(codes[i : i + 1], labels[i : i + 1]) for i in range(codes.shape[0])])
    assert torch.allclose(batched, single, atol=1e-6)
    ds = CondensedDataset(artifact, mode="fresh", samples_per_class=5)
    together = torch.stack([image for image, _ in ds.__getitems__(list(range(len(ds))))])
    alone = torch.stack([ds.source.items([i])[0][0] for i in range(len(ds))])
    assert torch.allclose(together, alone, atol=1e-6)


def _loader_images(ds, workers: int) -> torch.Tensor:
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=workers, shuffle=False)
    return torch.cat([images for images, _ in loader])


def test_fixed_mode_is_identical_in_workers_and_runs(artifact):
    first = CondensedDataset(artifact)
    in_workers = _loader_images(first, workers=2)
    again = CondensedDataset(artifact)  # another "run": a new object from the files
    by_item = torch.stack([again[i][0] for i in range(len(again))])
    assert torch.equal(in_workers, by_item)
    assert torch.equal(in_workers, _loader_images(CondensedDataset(artifact), workers=0))


def test_fresh_mode_epochs_differ_and_are_reproducible(artifact):
    ds = CondensedDataset(artifact, mode="fresh", samples_per_class=10)
    assert len(ds) == CLASSES * 10 > CLASSES * IPC
    assert ds.targets == [c for c in range(CLASSES) for _ in range(10)]
    epoch0, labels = ds.tensors()
    ds.set_epoch(1)
    epoch1, _ = ds.tensors()
    assert not torch.allclose(epoch0, epoch1)
    other = CondensedDataset(artifact, mode="fresh", samples_per_class=10)
    other.set_epoch(1)
    assert torch.equal(other.tensors()[0], epoch1)
    assert torch.allclose(_loader_images(other, workers=2), epoch1, atol=1e-6)  # workers see the epoch set before
    assert not torch.allclose(
        CondensedDataset(artifact, mode="fresh", samples_per_class=10, seed=123).tensors()[0], epoch0
    )
    assert labels.tolist() == ds.targets


def test_fresh_mode_without_noise_resamples_stored_images(artifact):
    ds = CondensedDataset(artifact, mode="fresh", samples_per_class=6, noise=0.0)
    stored = _expected()
    for image, label in (ds[i] for i in range(len(ds))):
        rows = stored[label * IPC : (label + 1) * IPC]
        assert torch.isclose(rows, image, atol=1e-6).flatten(1).all(1).any()


class _Counting(GeneratorSource):
    calls = 0

    def _generate(self, indices):
        type(self).calls += 1
        return super()._generate(indices)


def test_generation_is_batched_and_cached(artifact):
    ds = CondensedDataset(artifact, mode="fresh", samples_per_class=40)
    ds.source.__class__ = _Counting
    _Counting.calls = 0
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, generator=make_generator(0))
    assert sum(images.shape[0] for images, _ in loader) == 120
    assert _Counting.calls == 8  # one generator pass per batch, not per item
    _Counting.calls = 0
    ds.source.block_size = 50
    for i in range(len(ds)):
        ds[i]
    for i in reversed(range(len(ds))):
        ds[i]
    assert _Counting.calls == 3  # item-by-item access: one pass per 50-item block, then the cache


def test_pickling_sends_no_module_or_cache(artifact):
    ds = CondensedDataset(artifact)
    ds[0]
    assert ds.source._module is not None and ds.source._cache
    copy = pickle.loads(pickle.dumps(ds))
    assert copy.source._module is None and not copy.source._cache
    assert torch.equal(copy[3][0], ds[3][0])


def test_truncated_weights_give_a_clear_error(artifact):
    path = artifact / "generator" / WEIGHTS_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ChecksumError, match="truncated"):
        CondensedDataset(artifact)
    with pytest.raises(ArtifactError, match=r"model\.safetensors.*(truncated|corrupt).*again"):
        CondensedDataset(artifact, verify=False)
    with pytest.raises(GeneratorError, match="truncated or corrupt"):
        load_generator(artifact / "generator")


def test_mismatched_weights_give_a_clear_error(artifact):
    other = _generator(width=16)
    state = {k: v.contiguous() for k, v in other.state_dict().items()}
    save_file(state, str(artifact / "generator" / WEIGHTS_FILE))
    with pytest.raises(ArtifactError, match=r"model\.safetensors does not match .*config\.json.*has shape.*same run"):
        CondensedDataset(artifact, verify=False)


def test_missing_file_and_foreign_config_are_named(artifact):
    (artifact / "generator" / CONFIG_FILE).unlink()
    with pytest.raises(ArtifactError, match=r"config\.json is missing"):
        CondensedDataset(artifact, verify=False)


def test_generator_for_other_data_is_refused(tmp_path):
    folder = make_generator_artifact(tmp_path / "gen")
    manifest_path = folder / "condensed.json"
    text = manifest_path.read_text().replace('"c2"', '"c2", "c3"')
    manifest_path.write_text(text)
    with pytest.raises(ArtifactError, match="does not belong to this artifact"):
        CondensedDataset(folder, verify=False)


def test_modes_and_options_are_checked(artifact, tmp_path):
    with pytest.raises(ValueError, match="mode must be"):
        CondensedDataset(artifact, mode="random")
    with pytest.raises(ValueError, match="fresh"):
        CondensedDataset(artifact, samples_per_class=3)
    make_artifact(tmp_path / "pixels")
    with pytest.raises(ValueError, match="kind 'tensors'.*generator"):
        CondensedDataset(tmp_path / "pixels", mode="fresh")
    CondensedDataset(tmp_path / "pixels").set_epoch(3)  # harmless on stored sets


def test_export_to_tensors(artifact, tmp_path, capsys):
    manifest = export_tensors(artifact, tmp_path / "plain")
    assert manifest.kind == "tensors" and manifest.images_per_class == IPC
    plain, generated = CondensedDataset(tmp_path / "plain"), CondensedDataset(artifact)
    assert torch.equal(plain.tensors()[0], generated.tensors()[0])
    assert main(["export", str(artifact), "--to", "tensors", "--output", str(tmp_path / "cli")]) == 0
    assert "kind tensors" in capsys.readouterr().out
    assert CondensedDataset(tmp_path / "cli").manifest.kind == "tensors"
    assert main(["export", str(artifact), "--to", "webdataset", "--output", str(tmp_path / "w")]) == 2
    assert "--shard-size" in capsys.readouterr().err


@pytest.mark.parametrize("workers", [0, 2])
def test_fresh_mode_resumes_mid_epoch_with_the_unseen_batches(artifact, workers):
    require("torchdata")
    from condensed_data.dataset.resumable import stateful_loader

    def loader():
        ds = CondensedDataset(artifact, mode="fresh", samples_per_class=8, seed=3)
        return stateful_loader(ds, batch_size=4, shuffle=True, seed=1, num_workers=workers)

    full = loader()
    full.set_epoch(2)
    expected = [images for images, _ in full]
    stopped = loader()
    stopped.set_epoch(2)
    iterator = iter(stopped)
    first = [next(iterator)[0] for _ in range(2)]
    state = stopped.state_dict()
    resumed = loader()
    resumed.load_state_dict(state)
    resumed.set_epoch(2)
    rest = [images for images, _ in resumed]
    assert len(expected) == 6 and len(first) + len(rest) == 6
    for got, want in zip(first + rest, expected, strict=True):
        assert torch.equal(got, want)
