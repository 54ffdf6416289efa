"""``condensed-data export --to ddranking | imagefolder | parquet``: the formats other tools read, round-tripped."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import make_artifact, require, tiny_tensors
from PIL import Image

from condensed_data.artifact.manifest import Manifest
from condensed_data.artifact.view import read_view
from condensed_data.cli import main
from condensed_data.interop.export import (
    export_ddranking,
    export_imagefolder,
    export_parquet,
    imagefolder_name,
)


@pytest.fixture
def shuffled(tmp_path):
    """A set stored out of class order (so class-contiguity is really done by the export), 3 channels."""
    images, labels = tiny_tensors(shape=(3, 8, 8))
    perm = torch.tensor([4, 0, 2, 5, 1, 3])
    make_artifact(tmp_path / "set", shape=(3, 8, 8), labels=labels[perm])
    # make_artifact stores tiny_tensors' images; pair them with the permuted labels as the truth
    return tmp_path / "set", images, labels[perm]


def test_ddranking_is_class_contiguous_normalized_and_denormalizes_exactly(shuffled, tmp_path):
    folder, images, labels = shuffled
    out = export_ddranking(folder, tmp_path / "dd")
    assert sorted(p.name for p in out.iterdir()) == ["images.pt", "labels.pt", "lr.pt"]
    x = torch.load(out / "images.pt", weights_only=True)
    y = torch.load(out / "labels.pt", weights_only=True)
    lr = torch.load(out / "lr.pt", weights_only=True)
    assert y.tolist() == [0, 0, 1, 1, 2, 2] and y.dtype == torch.int64
    m = Manifest.from_json((folder / "condensed.json").read_text())
    mean = torch.tensor(m.recipe.mean).view(1, -1, 1, 1)
    std = torch.tensor(m.recipe.std).view(1, -1, 1, 1)
    order = torch.sort(labels, stable=True).indices
    assert torch.allclose(x * std + mean, images[order], atol=1e-6)
    assert float(lr) == pytest.approx(m.recipe.lr) and lr.dim() == 0


def test_ddranking_soft_labels_are_logits_of_the_stored_probabilities(tmp_path):
    soft = torch.softmax(torch.randn(6, 3, generator=torch.Generator().manual_seed(2)), dim=1)
    make_artifact(tmp_path / "s", labels=soft, label_kind="soft")
    out = export_ddranking(tmp_path / "s", tmp_path / "dd")
    logits = torch.load(out / "labels.pt", weights_only=True)
    order = torch.sort(soft.argmax(1), stable=True).indices
    assert logits.shape == (6, 3) and torch.allclose(torch.softmax(logits, dim=1), soft[order], atol=1e-6)


def test_imagefolder_round_trips_within_one_step(shuffled, tmp_path):
    folder, images, labels = shuffled
    out = export_imagefolder(folder, tmp_path / "if")
    assert json.loads((out / "classes.json").read_text()) == ["c0", "c1", "c2"]
    dirs = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert dirs == ["0_c0", "1_c1", "2_c2"]
    for k, name in enumerate(dirs):
        for png in sorted((out / name).iterdir()):
            i = int(png.stem)
            assert int(labels[i]) == k
            got = torch.from_numpy(np.asarray(Image.open(png), dtype=np.float32)).permute(2, 0, 1) / 255
            assert (got - images[i]).abs().max() <= 1 / 255


def test_imagefolder_names_keep_class_order_and_are_path_safe():
    assert imagefolder_name(3, "T-shirt/top", 10) == "3_T-shirt_top"
    assert imagefolder_name(3, "cat", 1000) == "003_cat"
    assert sorted(imagefolder_name(k, n, 11) for k, n in enumerate("kjihgfedcba")) == [
        imagefolder_name(k, n, 11) for k, n in enumerate("kjihgfedcba")
    ]


def test_parquet_export_round_trips_and_datasets_reads_it(shuffled, tmp_path):
    folder, images, labels = shuffled
    out = export_parquet(folder, tmp_path / "pq")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "README.md",
        "data/train-00000-of-00001.parquet",
    ]
    m = Manifest.from_json((folder / "condensed.json").read_text())
    got, got_labels = read_view(out, m.replace(files={}))
    assert torch.equal(got_labels, labels) and (got - images).abs().max() <= 1 / 255
    datasets = require("datasets")
    ds = datasets.load_dataset(str(out), split="train")
    assert ds.features["label"].names == ["c0", "c1", "c2"] and list(ds["label"]) == labels.tolist()


def test_cli_exports_and_refuses_to_overwrite(shuffled, tmp_path, capsys):
    folder, _, _ = shuffled
    for target in ("ddranking", "imagefolder", "parquet"):
        assert main(["export", str(folder), "--to", target, "--output", str(tmp_path / target)]) == 0
        assert f"wrote {tmp_path / target}" in capsys.readouterr().out
        with pytest.raises(FileExistsError, match="--overwrite"):
            export_ddranking(folder, tmp_path / target)
    assert main(["export", str(folder), "--to", "parquet"]) == 0
    assert (tmp_path / "set-parquet" / "data").is_dir()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folders left
