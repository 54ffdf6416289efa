"""The Parquet view (``data/train-*.parquet``) and card metadata that ``datasets.load_dataset`` and the Hub read, and
the bad-input refusals of issue 15 (non-finite images, deep JSON, symlinks out of the folder, truncated files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from helpers import make_artifact, require, tiny_manifest, tiny_tensors

from condensed_data import CondensedDataset
from condensed_data.artifact.card import render_card
from condensed_data.artifact.folder import ArtifactError, read_artifact, read_manifest, save_artifact
from condensed_data.artifact.manifest import ManifestError
from condensed_data.artifact.view import read_view, view_files, write_view
from condensed_data.hub import HubOptions, push_to_hub
from condensed_data.sources.tensors import save_tensors

VIEW = "data/train-00000-of-00001.parquet"


def soft_artifact(folder):
    g = torch.Generator().manual_seed(1)
    soft = torch.softmax(torch.randn(6, 3, generator=g), dim=1)
    return make_artifact(folder, labels=soft, label_kind="soft"), soft


def test_every_tensors_artifact_carries_a_listed_view_within_one_step(tmp_path):
    m = make_artifact(tmp_path / "a")
    assert view_files(m.files) == [VIEW] and read_artifact(tmp_path / "a") == m  # listed, checksummed, verified
    images, labels = tiny_tensors()
    view_images, view_labels = read_view(tmp_path / "a", m)
    assert torch.equal(view_labels, labels)
    assert (view_images - images).abs().max() <= 0.5 / 255 + 1e-6  # rounded to the nearest 8-bit step
    card = (tmp_path / "a" / "README.md").read_text()
    assert '"path": "data/train-*.parquet"' in card and '"class_label": {"names": {"0": "c0"' in card
    assert '"num_examples": 6' in card and '"image-classification"' in card


def test_view_quantizes_from_the_pixel_range_and_clips(tmp_path):
    m = tiny_manifest(classes=1, ipc=3)
    m = m.replace(value_space=type(m.value_space)(pixel_range=(-1.0, 1.0)))
    images = torch.tensor([-2.0, 0.0, 1.0]).view(3, 1, 1, 1).expand(3, 1, 8, 8).contiguous()
    write_view(tmp_path, images, torch.zeros(3, dtype=torch.long), m)
    got, _ = read_view(tmp_path, m.replace(files={}))
    assert got[:, 0, 0, 0].tolist() == pytest.approx([-1.0, 2 * 128 / 255 - 1, 1.0], abs=1e-6)


def test_large_views_are_sharded(tmp_path):
    m = tiny_manifest()
    images, labels = tiny_tensors()
    names = write_view(tmp_path, images, labels, m, max_shard_bytes=1)
    assert names == [f"data/train-{i:05d}-of-00006.parquet" for i in range(6)]
    assert torch.equal(read_view(tmp_path, m)[1], labels)


def test_datasets_loads_the_folder_with_class_names_and_soft_labels(tmp_path):
    datasets = require("datasets")
    make_artifact(tmp_path / "hard", shape=(3, 8, 8))
    ds = datasets.load_dataset(str(tmp_path / "hard"), split="train")
    assert ds.features["label"].names == ["c0", "c1", "c2"] and list(ds["label"]) == [0, 0, 1, 1, 2, 2]
    assert ds[0]["image"].mode == "RGB" and ds[0]["image"].size == (8, 8)
    _, soft = soft_artifact(tmp_path / "soft")
    ds = datasets.load_dataset(str(tmp_path / "soft"), split="train")
    assert set(ds.column_names) == {"image", "label", "soft_label"}
    assert torch.allclose(torch.tensor(list(ds["soft_label"])), soft) and list(ds["label"]) == soft.argmax(1).tolist()


def test_datasets_loads_a_pushed_set_through_the_loopback_hub(servers, tmp_path, monkeypatch):
    require("datasets")
    monkeypatch.setenv("HF_TOKEN", "dummy-token")
    folder = tmp_path / "set"
    make_artifact(folder)
    push_to_hub(folder, "org/viewable", HubOptions(endpoint=servers.fake.url))
    # datasets and huggingface_hub read HF_ENDPOINT at import: load in a fresh interpreter pointed at olah.
    script = (
        "import datasets, json; "
        "ds = datasets.load_dataset('org/viewable', split='train', revision='main'); "
        "print(json.dumps([ds.features['label'].names, list(ds['label']), ds[0]['image'].size]))"
    )
    env = {**os.environ, "HF_ENDPOINT": servers.olah, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    names, labels, size = json.loads(done.stdout.strip().splitlines()[-1])
    assert names == ["c0", "c1", "c2"] and labels == [0, 0, 1, 1, 2, 2] and size == [8, 8]


def test_push_adds_the_view_to_a_set_written_before_views(servers, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "dummy-token")
    folder = tmp_path / "old"
    m = make_artifact(folder)
    (folder / VIEW).unlink()
    (folder / "data").rmdir()
    m = m.replace(files={k: v for k, v in m.files.items() if k != VIEW})
    (folder / "condensed.json").write_text(m.to_json())
    before = (folder / "condensed.json").read_bytes()
    push_to_hub(folder, "org/old", HubOptions(endpoint=servers.fake.url))
    assert (folder / "condensed.json").read_bytes() == before and not (folder / "data").exists()
    repo = servers.mirrors / "datasets/org/old"
    staged = json.loads((repo / "condensed.json").read_text())
    assert VIEW in staged["files"] and (repo / VIEW).is_file()
    assert '"path": "data/train-*.parquet"' in (repo / "README.md").read_text()


# -- bad input --------------------------------------------------------------------------------------------------


def test_non_finite_images_are_refused_at_save_leaving_nothing(tmp_path):
    images, labels = tiny_tensors()
    images[3, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match=r"images.safetensors: 1 NaN .* item 3.*nan_to_num"):
        save_artifact(tmp_path / "a", tiny_manifest(), lambda d: save_tensors(d, images, labels))
    assert list(tmp_path.iterdir()) == []


def test_non_finite_images_are_refused_at_load(tmp_path):
    from safetensors.torch import save_file

    make_artifact(tmp_path / "a")
    images, labels = tiny_tensors()
    images[1, 0, 0, 0] = float("inf")
    save_file({"images": images, "labels": labels}, str(tmp_path / "a" / "images.safetensors"))
    with pytest.raises(ArtifactError, match=r"images.safetensors: images hold 0 NaN and 1 infinite.*item 1"):
        CondensedDataset(tmp_path / "a", verify=False)


def test_a_deeply_nested_manifest_is_a_clear_manifest_error(tmp_path):
    make_artifact(tmp_path / "a")
    (tmp_path / "a" / "condensed.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError, match=r"condensed.json.*more than 64 levels deep.*write the artifact again"):
        read_manifest(tmp_path / "a")
    data = json.loads(make_artifact(tmp_path / "b").to_json())
    deep: object = 0
    for _ in range(200):
        deep = {"x": deep}
    data["method"]["config"]["nested"] = deep
    (tmp_path / "b" / "condensed.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="levels deep"):
        read_manifest(tmp_path / "b")


def test_a_data_file_linking_outside_the_folder_is_refused(tmp_path):
    folder = tmp_path / "a"
    make_artifact(folder)
    outside = tmp_path / "elsewhere.safetensors"
    os.replace(folder / "images.safetensors", outside)
    os.symlink(outside, folder / "images.safetensors")
    for verify in (True, False):
        with pytest.raises(ArtifactError, match=r"images.safetensors is a symbolic link to .*outside the artifact"):
            CondensedDataset(folder, verify=verify)
    os.replace(folder / "images.safetensors", tmp_path / "link")
    os.replace(outside, folder / "images.safetensors")
    os.symlink("images.safetensors", folder / "inside")  # a link within the folder is fine (not listed anyway)
    assert len(CondensedDataset(folder)) == 6


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    folder = tmp_path / "a"
    make_artifact(folder)
    path = folder / "images.safetensors"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ArtifactError, match=r"images.safetensors: size .* \(truncated or replaced\?\)"):
        CondensedDataset(folder)
    with pytest.raises(ArtifactError, match=r"images.safetensors is not a readable safetensors file.*again"):
        CondensedDataset(folder, verify=False)


def test_card_of_a_set_without_view_has_no_parquet_config():
    m = tiny_manifest()
    assert "data/train-*.parquet" not in render_card(m)


def test_a_deeply_nested_shard_index_is_a_shard_error(tmp_path):
    from condensed_data.interop.export import export_webdataset
    from condensed_data.interop.webdataset import ShardError, read_index

    make_artifact(tmp_path / "a")
    m = export_webdataset(tmp_path / "a", tmp_path / "w", shard_size=3)
    assert not view_files(m.files)  # webdataset sets are read from their shards
    (tmp_path / "w" / "shards.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ShardError, match=r"shards.json.*levels deep"):
        read_index(tmp_path / "w", m)


def test_a_generator_set_carries_the_view_of_its_fixed_set(tmp_path):
    from test_generator_source import make_generator_artifact

    folder = make_generator_artifact(tmp_path / "gen")
    m = read_artifact(folder)
    assert view_files(m.files) == [VIEW]
    images, labels = CondensedDataset(folder).tensors()
    view_images, view_labels = read_view(folder, m)
    assert torch.equal(view_labels, labels)
    inside = (images >= 0) & (images <= 1)  # the view clips to the pixel range
    assert (view_images - images)[inside].abs().max() <= 0.5 / 255 + 1e-6
