"""``condensed-data import``: a file of every foreign format, built here from the format descriptions
(shared/reference/FORMATS.md), imported and loaded back exactly; refusals name the file and the fix."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch
from helpers import make_artifact, require
from PIL import Image

from condensed_data import CondensedDataset
from condensed_data.artifact.folder import read_artifact
from condensed_data.interop.importers import REFERENCE_DATASETS, DatasetInfo, fit_zca, import_set
from condensed_data.interop.readers import ForeignFormatError
from condensed_data.interop.safe_torch import UnsafeFileError

CIFAR = REFERENCE_DATASETS["cifar10"]
MEAN = torch.tensor(CIFAR.mean).view(1, 3, 1, 1)
STD = torch.tensor(CIFAR.std).view(1, 3, 1, 1)


def pixels(n=20, shape=(3, 8, 8), seed=0):
    """Pixel-space images and class-major hard labels (10 classes, n // 10 per class)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g), torch.arange(10).repeat_interleave(n // 10)


def loaded(folder):
    ds = CondensedDataset.from_pretrained(folder)
    images, labels = ds.tensors()
    return ds, images, labels


def test_mtt_hard_labels_normalized_with_lr(tmp_path):
    x, y = pixels()
    src = tmp_path / "run"
    src.mkdir()
    torch.save((x - MEAN) / STD, src / "images_best.pt")
    torch.save(y, src / "labels_best.pt")
    torch.save(torch.tensor(0.01), src / "lr_best.pt")
    m = import_set("mtt", src, dataset="cifar10", output=tmp_path / "out", space="normalized")
    ds, images, labels = loaded(tmp_path / "out")
    torch.testing.assert_close(images, x, atol=1e-6, rtol=0)
    assert torch.equal(labels, y) and ds.classes == list(CIFAR.classes)
    assert m.recipe.lr == 0.01 and m.recipe.mean == CIFAR.mean and m.images_per_class == 2
    p = m.provenance
    assert p.format == "mtt" and p.value_space == "normalized" and p.extra["syn_lr"] == 0.01
    assert set(p.files) == {"images_best.pt", "labels_best.pt", "lr_best.pt"}
    assert all(v.startswith("sha256:") for v in p.files.values())
    assert read_artifact(tmp_path / "out").provenance == p  # written to condensed.json


def test_mtt_soft_logits_become_probabilities(tmp_path):
    x, _ = pixels()
    logits = torch.randn(20, 10, generator=torch.Generator().manual_seed(1))
    torch.save(x, tmp_path / "images_best.pt")
    torch.save(logits, tmp_path / "labels_best.pt")
    m = import_set("mtt", tmp_path / "images_best.pt", dataset="cifar10", output=tmp_path / "out")
    _, images, labels = loaded(tmp_path / "out")
    assert torch.equal(images, x) and m.label_kind == "soft" and m.recipe.targets == "soft"
    torch.testing.assert_close(labels, logits.softmax(1))
    assert "softmax" in m.provenance.extra["soft_labels"]


def test_dc_picks_the_experiment_and_records_the_stored_accuracies(tmp_path):
    runs = [pixels(seed=s) for s in range(3)]
    content = {
        "data": [[(x - MEAN) / STD, y] for x, y in runs],
        "accs_all_exps": {"ConvNet": [np.float64(0.41), np.sum(np.array([0.25, 0.125]))]},  # numpy scalars
    }
    file = tmp_path / "res_DM_CIFAR10_ConvNet_2ipc.pt"
    torch.save(content, file)
    m = import_set("dc", file, dataset="cifar10", output=tmp_path / "last", space="normalized")
    torch.testing.assert_close(loaded(tmp_path / "last")[1], runs[2][0], atol=1e-6, rtol=0)
    assert m.provenance.experiment == 2 and m.provenance.reported == {"ConvNet": [0.41, 0.375]}
    assert m.method.name == "dm (imported)"
    import_set("dc", tmp_path, dataset="cifar10", output=tmp_path / "first", space="normalized", experiment=0)
    torch.testing.assert_close(loaded(tmp_path / "first")[1], runs[0][0], atol=1e-6, rtol=0)
    with pytest.raises(ForeignFormatError, match="holds 3 experiments"):
        import_set("dc", file, dataset="cifar10", output=tmp_path / "x", experiment=3)


def test_datadam(tmp_path):
    x, y = pixels(shape=(1, 6, 6))
    torch.save({"data": [x, y]}, tmp_path / "syn_data_mnist_ipc_2.pt")
    import_set("datadam", tmp_path, dataset="mnist", output=tmp_path / "out")
    _, images, labels = loaded(tmp_path / "out")
    assert torch.equal(images, x) and torch.equal(labels, y)


def test_idc_decodes_factor_by_factor_tiles(tmp_path):
    x, y = pixels(shape=(3, 8, 8))
    torch.save([x, y], tmp_path / "data.pt")
    with pytest.raises(ForeignFormatError, match="--factor"):
        import_set("idc", tmp_path, dataset="cifar10", output=tmp_path / "out")
    m = import_set("idc", tmp_path, dataset="cifar10", output=tmp_path / "out", factor=2)
    _, images, labels = loaded(tmp_path / "out")
    assert images.shape == (80, 3, 8, 8) and m.images_per_class == 8
    # tile-major: all top-left tiles first, each upsampled to the full size
    top_left = torch.nn.functional.interpolate(x[:, :, :4, :4], size=(8, 8), mode="bilinear")
    bottom_right = torch.nn.functional.interpolate(x[:, :, 4:, 4:], size=(8, 8), mode="bilinear")
    assert torch.equal(images[:20], top_left) and torch.equal(images[60:], bottom_right)
    assert torch.equal(labels, y.repeat(4))


def test_kip_npz_nhwc_one_hot(tmp_path):
    x, y = pixels()
    np.savez(
        tmp_path / "kip.npz",
        images=x.permute(0, 2, 3, 1).numpy(),
        labels=np.eye(10, dtype=np.float32)[y.numpy()] - 0.1,  # KIP's centered one-hot
    )
    import_set("kip", tmp_path / "kip.npz", dataset="cifar10", output=tmp_path / "out")
    _, images, labels = loaded(tmp_path / "out")
    assert torch.equal(images, x) and torch.equal(labels, y)


def test_kip_object_array_is_refused(tmp_path):
    np.savez(tmp_path / "kip.npz", images=np.zeros((2, 4, 4, 1)), labels=np.array([{"a": 1}, 2], dtype=object))
    with pytest.raises(ForeignFormatError, match="object array"):
        import_set("kip", tmp_path / "kip.npz", dataset="mnist", output=tmp_path / "out")


def png(array: np.ndarray, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt)
    return buffer.getvalue()


def test_imagefolder_sre2l_naming(tmp_path):
    x, y = pixels(shape=(3, 8, 8))
    u8 = (x * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, (image, c) in enumerate(zip(u8, y.tolist(), strict=True)):
        folder = tmp_path / "set" / f"new{c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"class{c:03d}_id{i % 2:03d}.png").write_bytes(png(image))
    m = import_set("imagefolder", tmp_path / "set", dataset="cifar10", output=tmp_path / "out")
    ds, images, labels = loaded(tmp_path / "out")
    assert torch.equal(images, torch.from_numpy(u8).permute(0, 3, 1, 2).float() / 255) and torch.equal(labels, y)
    assert ds.classes == list(CIFAR.classes) and len(m.provenance.files) == 20
    import_set("imagefolder", tmp_path / "set", dataset="my-set", output=tmp_path / "own")
    assert loaded(tmp_path / "own")[0].classes == [f"new{c:03d}" for c in range(10)]
    with pytest.raises(ValueError, match="pixel space"):
        import_set("imagefolder", tmp_path / "set", dataset="cifar10", output=tmp_path / "x", space="normalized")


def test_parquet_image_bytes_and_class_id(tmp_path):
    pa = require("pyarrow", "pip install condensed-data (pyarrow is a dependency)")
    import pyarrow.parquet as pq

    x, y = pixels(shape=(1, 8, 8))
    u8 = (x * 255).round().to(torch.uint8)[:, 0].numpy()
    rows = [{"bytes": png(a), "path": None} for a in u8]
    table = pa.table({"image": rows, "class_id": y.tolist()})
    pq.write_table(table, tmp_path / "train-00000.parquet")
    import_set("parquet", tmp_path, dataset="mnist", output=tmp_path / "out")
    _, images, labels = loaded(tmp_path / "out")
    assert torch.equal(images, torch.from_numpy(u8).unsqueeze(1).float() / 255) and torch.equal(labels, y)
    # plain bytes, a "label" column and class names from the datasets features in the schema metadata
    features = {"info": {"features": {"label": {"names": [f"k{i}" for i in range(10)], "_type": "ClassLabel"}}}}
    table = pa.table({"image": [png(a) for a in u8], "label": y.tolist()})
    table = table.replace_schema_metadata({"huggingface": json.dumps(features)})
    pq.write_table(table, tmp_path / "named.parquet")
    import_set("parquet", tmp_path / "named.parquet", dataset="my-set", output=tmp_path / "named")
    assert loaded(tmp_path / "named")[0].classes == [f"k{i}" for i in range(10)]


def test_zca_space_is_stored_in_pixel_space(tmp_path):
    real = torch.rand(200, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    zca = fit_zca(real, epsilon=0.1, fitted_on="toy/train")
    x, y = pixels(shape=(1, 4, 4))
    torch.save(zca.whiten(x), tmp_path / "images_best.pt")
    torch.save(y, tmp_path / "labels_best.pt")
    info = DatasetInfo("toy", tuple("abcdefghij"), 200, mean=(0.5,), std=(0.29,))
    m = import_set("mtt", tmp_path, dataset=info, output=tmp_path / "out", space="zca", zca=zca)
    torch.testing.assert_close(loaded(tmp_path / "out")[1], x, atol=1e-5, rtol=0)
    assert m.provenance.transform["epsilon"] == 0.1 and m.provenance.value_space == "zca"
    with pytest.raises(ValueError, match="fitted on the real train split"):
        import_set("mtt", tmp_path, dataset=info, output=tmp_path / "x", space="zca")


def test_round_trip_ours_export_mtt_import_is_exact(tmp_path):
    from condensed_data.cli import main

    make_artifact(tmp_path / "ours", classes=3, ipc=2)
    assert main(["export", str(tmp_path / "ours"), "--to", "tensors", "-o", str(tmp_path / "plain")]) == 0
    ds, images, labels = loaded(tmp_path / "plain")
    run = tmp_path / "run"
    run.mkdir()
    torch.save(images, run / "images_best.pt")
    torch.save(labels, run / "labels_best.pt")
    info = DatasetInfo("digits", tuple(ds.classes), mean=ds.recipe.mean, std=ds.recipe.std)
    import_set("mtt", run, dataset=info, output=tmp_path / "back")
    _, again, again_labels = loaded(tmp_path / "back")
    assert torch.equal(again, images) and torch.equal(again_labels, labels)
    assert torch.equal(again, loaded(tmp_path / "ours")[1])


class Custom:
    """Not a tensor: a file holding one needs unpickling."""


def test_a_file_that_needs_unpickling_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            return (marker.write_text, ("pwned",))

    torch.save([torch.zeros(2, 1, 4, 4), Boom()], tmp_path / "data.pt")
    with pytest.raises(UnsafeFileError, match=r"data.pt: refused.*getattr.*run code.*import mtt"):
        import_set("idc", tmp_path, dataset="mnist", output=tmp_path / "out", factor=1)
    assert not marker.exists() and not (tmp_path / "out").exists()
    torch.save({"data": [torch.zeros(2, 1, 4, 4), Custom()]}, tmp_path / "syn_data_x.pt")
    with pytest.raises(UnsafeFileError, match=r"syn_data_x.pt: refused.*Custom"):
        import_set("datadam", tmp_path, dataset="mnist", output=tmp_path / "out")


def test_truncated_file_is_refused(tmp_path):
    torch.save({"data": [torch.zeros(2, 1, 4, 4), torch.zeros(2)]}, tmp_path / "syn_data_x.pt")
    data = (tmp_path / "syn_data_x.pt").read_bytes()
    (tmp_path / "syn_data_x.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(UnsafeFileError, match="syn_data_x.pt: not a readable torch.save file"):
        import_set("datadam", tmp_path, dataset="mnist", output=tmp_path / "out")
    (tmp_path / "broken.npz").write_bytes(b"PK not really")
    with pytest.raises(ForeignFormatError, match="broken.npz: not a readable .npz"):
        import_set("kip", tmp_path / "broken.npz", dataset="mnist", output=tmp_path / "out")
    assert zipfile  # the npz reader goes through zipfile + read_array(allow_pickle=False)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (torch.zeros(4, 8, 8), torch.zeros(4, dtype=torch.long), r"images_best.pt: images must have 4 dimensions"),
        (torch.zeros(4, 1, 8, 8), torch.zeros(3, dtype=torch.long), r"4 images but labels of shape \[3\]"),
        (torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 2, 10]), r"labels need 11 classes.*'mnist' names 10"),
        (torch.zeros(4, 1, 8, 8), torch.zeros(4, 7), r"soft labels of width 7.*names 10"),
        (torch.tensor([0.0, float("nan")]).repeat(32).view(4, 1, 4, 4), torch.zeros(4, dtype=torch.long), "NaN"),
    ],
)
def test_bad_content_is_refused_and_nothing_is_written(tmp_path, images, labels, message):
    torch.save(images, tmp_path / "images_best.pt")
    torch.save(labels, tmp_path / "labels_best.pt")
    with pytest.raises(ForeignFormatError, match=message):
        import_set("mtt", tmp_path, dataset="mnist", output=tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_options_are_checked(tmp_path):
    x, y = pixels(shape=(1, 4, 4))
    torch.save(x, tmp_path / "images_best.pt")
    torch.save(y, tmp_path / "labels_best.pt")
    with pytest.raises(ValueError, match="unknown format 'pkl'"):
        import_set("pkl", tmp_path, dataset="mnist", output=tmp_path / "out")
    with pytest.raises(ValueError, match="--space must be one of"):
        import_set("mtt", tmp_path, dataset="mnist", output=tmp_path / "out", space="meanstd")
    with pytest.raises(ValueError, match="pass --mean and --std"):
        import_set("mtt", tmp_path, dataset="my-set", output=tmp_path / "out", space="normalized")
    with pytest.raises(ValueError, match="need 1 values"):
        import_set(
            "mtt", tmp_path, dataset="cifar10", output=tmp_path / "out", space="normalized", classes="0123456789"
        )
    with pytest.raises(FileNotFoundError, match="hf-hub:ORG/NAME::PATH"):
        import_set("mtt", tmp_path / "missing", dataset="mnist", output=tmp_path / "out")
    with pytest.raises(ValueError, match="written hf-hub:ORG/NAME::PATH"):
        import_set("mtt", "hf-hub:org/name", dataset="mnist", output=tmp_path / "out")
    (tmp_path / "out").mkdir()
    with pytest.raises(FileExistsError):
        import_set("mtt", tmp_path, dataset="mnist", output=tmp_path / "out")


def test_cli_formats_match_the_readers():
    from condensed_data.cli.parser import IMPORT_FORMATS
    from condensed_data.interop.readers import FORMATS

    assert IMPORT_FORMATS == FORMATS


def test_cli_import_dc_digits_normalized_and_zca(tmp_path, digits, capsys):
    from condensed_data.cli import main

    real = digits[0]
    x, y = pixels(shape=(1, 8, 8))
    mean, std = torch.tensor(real.mean).view(1, 1, 1, 1), torch.tensor(real.std).view(1, 1, 1, 1)
    content = {"data": [[(x - mean) / std, y]], "accs_all_exps": {"ConvNet": [np.float64(0.9)]}}
    torch.save(content, tmp_path / "res_DM_digits_ConvNet_2ipc.pt")
    out = tmp_path / "out"
    argv = ["import", "dc", str(tmp_path / "res_DM_digits_ConvNet_2ipc.pt"), "--dataset", "digits", "-o", str(out)]
    assert main([*argv, "--space", "normalized"]) == 0
    assert "recorded for ConvNet: 0.9" in capsys.readouterr().out
    ds, images, _ = loaded(out)
    torch.testing.assert_close(images, x, atol=1e-5, rtol=0)
    assert ds.manifest.source.fingerprint == real.fingerprint() and ds.classes == list(real.classes)
    assert ds.manifest.source.num_samples == len(real) and ds.recipe.mean == tuple(real.mean)
    # ZCA space: the CLI fits the whitening on the real train split with the stated epsilon
    from condensed_data.interop.importers import fit_zca

    zca = fit_zca(real.images, epsilon=0.05)
    torch.save(zca.whiten(x), tmp_path / "images_best.pt")
    torch.save(y, tmp_path / "labels_best.pt")
    zargs = ["import", "mtt", str(tmp_path), "--dataset", "digits", "-o", str(tmp_path / "z"), "--space", "zca"]
    assert main([*zargs, "--zca-epsilon", "0.05"]) == 0
    torch.testing.assert_close(loaded(tmp_path / "z")[1], x, atol=1e-4, rtol=0)
    assert read_artifact(tmp_path / "z").provenance.transform["fitted_on"] == "digits/train"
    assert (
        main(["import", "mtt", str(tmp_path), "--dataset", "cifar10", "-o", str(tmp_path / "c"), "--space", "zca"]) == 2
    )
    assert "CIFAR-10 (train split) was not found" in capsys.readouterr().err  # ZCA is fitted on its images
    assert (
        main(["import", "mtt", str(tmp_path), "--dataset", "stl10", "-o", str(tmp_path / "s"), "--space", "zca"]) == 2
    )
    assert "not a dataset this library loads" in capsys.readouterr().err


def test_cli_refusal_is_one_line_naming_the_file(tmp_path, capsys):
    from condensed_data.cli import main

    torch.save({"data": [torch.zeros(2, 1, 4, 4), Custom()]}, tmp_path / "syn_data_x.pt")
    assert main(["import", "datadam", str(tmp_path), "--dataset", "mnist", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "condensed-data import: error:" in err and "syn_data_x.pt: refused" in err
    assert not (tmp_path / "out").exists()


def test_hub_source_through_the_loopback_hub(servers, tmp_path, monkeypatch):
    from hub_servers import make_git_repo

    from condensed_data.hub import HubOptions

    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "dummy-token")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    x, y = pixels(shape=(1, 4, 4))
    files = {}
    for name, value in (("images_best.pt", x), ("labels_best.pt", y)):
        buffer = io.BytesIO()
        torch.save(value, buffer)
        files[f"cifar/{name}"] = buffer.getvalue()
    sha = make_git_repo(servers.mirrors, "org/mtt-sets", {**files, "other/unrelated.bin": b"x" * 1000})
    cache = tmp_path / "cache"
    options = HubOptions(revision="main", endpoint=servers.olah, cache_dir=cache)
    m = import_set(
        "mtt", "hf-hub:org/mtt-sets::cifar/images_best.pt", dataset="mnist", output=tmp_path / "a", hub=options
    )
    assert torch.equal(loaded(tmp_path / "a")[1], x)
    assert m.provenance.source == f"hf-hub:org/mtt-sets@{sha}::cifar/images_best.pt"
    assert set(m.provenance.files) == {"images_best.pt", "labels_best.pt"}
    assert "unrelated.bin" not in [p.name for p in cache.rglob("*")]  # only the named file and its companions
    # a folder inside the repository, then offline from the cache
    offline = HubOptions(revision=sha, cache_dir=cache, local_files_only=True)
    import_set("mtt", "hf-hub:org/mtt-sets::cifar", dataset="mnist", output=tmp_path / "b", hub=offline)
    assert torch.equal(loaded(tmp_path / "b")[1], x)


def test_imports_run_no_unpickler_and_info_shows_the_provenance(tmp_path, monkeypatch, capsys):
    import pickle

    from condensed_data.cli import main

    x, y = pixels()
    torch.save(
        {"data": [[x, y]], "accs_all_exps": {"ConvNet": [np.float64(0.5)]}}, tmp_path / "res_DC_x_ConvNet_2ipc.pt"
    )
    np.savez(tmp_path / "kip.npz", images=x.permute(0, 2, 3, 1).numpy(), labels=np.eye(10)[y.numpy()])

    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for owner, name in [(pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (np, "load")]:
        monkeypatch.setattr(owner, name, refuse)
    import_set("dc", tmp_path / "res_DC_x_ConvNet_2ipc.pt", dataset="cifar10", output=tmp_path / "dc")
    import_set("kip", tmp_path / "kip.npz", dataset="cifar10", output=tmp_path / "kip")
    assert main(["info", str(tmp_path / "dc")]) == 0
    assert "imported:         dc from" in capsys.readouterr().out


def test_imported_set_evaluates_as_the_original_reported(tmp_path, digits, single_thread):
    """A DC-format file whose stored accuracy was measured on the normalized images it holds (here by our protocol,
    standing in for the reference code): imported with --space normalized, the set scores that accuracy under the
    same protocol and seeds."""
    from condensed_data.evaluate.protocol import EvalConfig, evaluate

    train, test = digits
    real = train.subset_per_class(2, generator=torch.Generator().manual_seed(0))
    stats = (train.mean, train.std)
    config = EvalConfig(epochs=30, models=1, precision="fp32")
    original = evaluate(real.images, real.labels, test, config=config, normalization=stats)[0].accuracy_mean
    stored = train.normalize(real.images)
    torch.save({"data": [[stored, real.labels]], "accs_all_exps": {"ConvNet": [np.float64(original)]}},
               tmp_path / "res_DM_digits_ConvNet_2ipc.pt")  # fmt: skip
    info = DatasetInfo("digits", tuple(train.classes), len(train), train.fingerprint(), train.mean, train.std)
    m = import_set("dc", tmp_path, dataset=info, output=tmp_path / "out", space="normalized")
    _, images, labels = loaded(tmp_path / "out")
    torch.testing.assert_close(images, real.images, atol=1e-6, rtol=0)
    score = evaluate(images, labels, test, config=config, normalization=(m.recipe.mean, m.recipe.std))[0]
    assert abs(score.accuracy_mean - m.provenance.reported["ConvNet"][0]) <= 1 / len(test)  # at most one image apart


def test_cli_mean_std_and_classes(tmp_path, capsys):
    from condensed_data.cli import main

    x, y = pixels(n=4, shape=(3, 4, 4))
    y = torch.tensor([0, 0, 1, 1])
    mean, std = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1), torch.tensor([0.5, 0.25, 2.0]).view(1, 3, 1, 1)
    np.savez(tmp_path / "kip.npz", images=((x - mean) / std).permute(0, 2, 3, 1).numpy(), labels=y.numpy())
    out = tmp_path / "out"
    argv = ["import", "kip", str(tmp_path / "kip.npz"), "--dataset", "pets", "-o", str(out), "--space", "normalized"]
    assert main([*argv, "--mean", "0.1,0.2,0.3", "--std", "0.5,0.25,2", "--classes", "cat, dog"]) == 0
    ds, images, labels = loaded(out)
    torch.testing.assert_close(images, x, atol=1e-6, rtol=0)
    assert ds.classes == ["cat", "dog"] and ds.recipe.std == (0.5, 0.25, 2.0)
    assert ds.manifest.source.name == "pets" and ds.manifest.source.num_samples == 0  # unknown real data
    with pytest.raises(SystemExit):  # argparse reports a malformed --mean as a usage error
        main([*argv, "--mean", "a,b", "--std", "1,1,1"])
    assert "expected comma-separated numbers" in capsys.readouterr().err
