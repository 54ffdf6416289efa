"""Soft labels (a teacher's tempered probabilities, condense --labels soft) and DD-Ranking's metrics (IOR, HLR).

The teacher here is a tiny network trained directly on digits (the library's own teacher comes from
condensed_data.condense.pretrained, cached on disk); every run is a few epochs on 8x8 images.
"""

import dataclasses
import json
import shutil

import pytest
import torch

import condensed_data.condense.soft_labels as soft
import condensed_data.evaluate.protocol as protocol
import condensed_data.evaluate.ranking as ranking
from condensed_data.artifact.manifest import Evaluation, ManifestError, Teacher
from condensed_data.cli import main
from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.data import load_dataset
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.evaluate import EvalConfig, Ranking, RankingError, rank, recipe_labels, train_network
from condensed_data.seeding import derive_seed, make_generator

FAST = EvalConfig(arch="convnet-d1", epochs=3, models=1, augmentation="none", precision="fp32")
TEMPERATURE = 3.0


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", "train"), load_dataset("digits", "test")


@pytest.fixture(scope="module")
def teacher(digits):
    train, _ = digits
    config = EvalConfig(arch="convnet-d1", epochs=4, augmentation="none", precision="fp32")
    net = train_network(train.images, train.labels, num_classes=10, mean=train.mean, std=train.std, config=config,
                        generator=make_generator(0))  # fmt: skip
    return net.eval()


def _labeller(teacher, real):
    return lambda images: soft.soft_labels(teacher, images, temperature=TEMPERATURE, mean=real.mean, std=real.std)


def _entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-12).log()).sum(dim=1)


def test_labels_are_probability_rows_and_temperature_flattens_them(digits, teacher):
    train, _ = digits
    images = train.images[:40]
    teacher.train()  # labelling switches to eval mode and back
    rows = {t: soft.soft_labels(teacher, images, temperature=t, mean=train.mean, std=train.std) for t in (0.5, 1, 8)}
    assert teacher.training
    for probs in rows.values():
        assert probs.shape == (40, 10) and probs.dtype == torch.float32
        torch.testing.assert_close(probs.sum(dim=1), torch.ones(40))
        assert bool((probs >= 0).all())
    assert bool((_entropy(rows[0.5]) < _entropy(rows[1])).all()) and bool((_entropy(rows[1]) < _entropy(rows[8])).all())
    assert torch.equal(rows[0.5].argmax(1), rows[8].argmax(1))  # temperature never changes the ranking of classes
    with torch.no_grad():
        normalized = (images - torch.tensor(train.mean).view(1, -1, 1, 1)) / torch.tensor(train.std).view(1, -1, 1, 1)
        expected = torch.softmax(teacher.eval()(normalized) / 8, dim=1)
    torch.testing.assert_close(rows[8], expected)  # softmax(logits / T) of the normalized images
    batched = soft.soft_labels(teacher, images, temperature=8, mean=train.mean, std=train.std, batch_size=7)
    torch.testing.assert_close(batched, rows[8])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "4", True])
def test_a_bad_temperature_is_refused_by_name(bad, teacher):
    with pytest.raises(ValueError, match="temperature"):
        soft.soft_labels(teacher, torch.rand(2, 1, 8, 8), temperature=bad, mean=(0.5,), std=(0.5,))
    with pytest.raises(ValueError, match="temperature"):
        CondenseConfig(labels="soft", temperature=bad)


def test_bad_condense_options_are_named():
    with pytest.raises(ValueError, match="labels must be 'hard' or 'soft'"):
        CondenseConfig(labels="fuzzy")
    with pytest.raises(ValueError, match="teacher_epochs"):
        CondenseConfig(labels="soft", teacher_epochs=0)
    assert CondenseConfig().teacher is None
    assert CondenseConfig(labels="soft", seed=3, temperature=2).teacher == Teacher("convnet", 20, 3, 2.0)
    with pytest.raises(ManifestError, match="teacher.temperature"):
        Teacher(arch="convnet", epochs=1, seed=0, temperature=0.0)
    with pytest.raises(ValueError, match="item_classes|class-major"):
        soft.item_classes(7, 3)


def test_cli_teacher_options_need_soft_labels(tmp_path, capsys):
    code = main(
        ["condense", "--dataset", "digits", "--ipc", "1", "--temperature", "2", "--output", str(tmp_path / "x")]
    )
    assert (
        code == 2
        and "--temperature describe(s) the teacher of soft labels: add --labels soft" in capsys.readouterr().err
    )
    assert not (tmp_path / "x").exists()


def test_recipe_says_which_targets_evaluation_trains_on():
    from helpers import tiny_manifest

    m = tiny_manifest(label_kind="soft")
    probs = torch.softmax(torch.randn(6, 3), dim=1)
    assert recipe_labels(probs, m.recipe, 3).tolist() == [0, 0, 1, 1, 2, 2]  # targets "hard": the items' classes
    soft_recipe = dataclasses.replace(m.recipe, targets="soft")
    assert recipe_labels(probs, soft_recipe, 3) is probs
    with pytest.raises(RankingError, match="recipe.targets is 'soft'"):
        recipe_labels(torch.tensor([0, 1, 2]), soft_recipe, 3)


@pytest.fixture(scope="module")
def soft_run(digits, teacher, tmp_path_factory):
    """DM on digits at IPC 1, soft labels from ``teacher``, the labels of every trained set spied on."""
    train, test = digits
    seen = []
    real_train = protocol.train_network

    def spy(images, labels, **kw):
        seen.append((kw["desc"], images.clone(), labels.clone()))
        return real_train(images, labels, **kw)

    protocol.train_network = spy
    try:
        config = CondenseConfig(method="dm", dataset="digits", ipc=1, iterations=2, options={"batch_real": 8},
                                eval=FAST, labels="soft", temperature=TEMPERATURE, checkpoint_every=0)  # fmt: skip
        out = tmp_path_factory.mktemp("soft") / "digits-dm-soft"
        result = condense(config, out, real=train, test=test, progress=False, teacher=teacher)
    finally:
        protocol.train_network = real_train
    return result, seen


def test_condense_writes_soft_labels_and_records_the_teacher(soft_run, digits, teacher):
    result, _ = soft_run
    train, _ = digits
    m = result.manifest
    assert m.kind == "tensors" and m.label_kind == "soft" and m.recipe.targets == "soft"
    assert m.teacher == Teacher(arch="convnet", epochs=20, seed=0, temperature=TEMPERATURE)
    ds = CondensedDataset(result.folder)
    images, labels = ds.tensors()
    assert labels.shape == (10, 10) and labels.dtype == torch.float32
    torch.testing.assert_close(labels.sum(1), torch.ones(10))
    torch.testing.assert_close(labels, _labeller(teacher, train)(images))
    image, label = ds[3]
    assert isinstance(label, torch.Tensor) and label.shape == (10,)
    saved = json.loads((result.folder / "condensed.json").read_text())
    assert saved["teacher"]["temperature"] == TEMPERATURE and saved["recipe"]["targets"] == "soft"
    assert [(e.subject, e.labels) for e in m.evaluation] == [("condensed", "soft"), ("random-real", "soft")]
    card = (result.folder / "README.md").read_text()
    assert "| condensed | convnet-d1 | 1 |" in card and "| digits/test | soft |" in card
    assert "soft targets: cross-entropy against each item's stored probability row" in card
    assert f"temperature {TEMPERATURE:g}" in card


def test_the_soft_random_real_baseline_is_labelled_by_the_same_teacher(soft_run, digits, teacher):
    result, seen = soft_run
    train, _ = digits
    [(desc, images, labels)] = [s for s in seen if "random-real" in s[0]]
    subset = train.subset_per_class(1, generator=make_generator(derive_seed(0, "random-real", 1, 0)))
    assert torch.equal(images, subset.images)
    torch.testing.assert_close(labels, _labeller(teacher, train)(subset.images))
    [(_, condensed_images, condensed_labels)] = [s for s in seen if "condensed" in s[0]]
    assert condensed_labels.dim() == 2  # the set itself trained on its soft labels


def test_a_generator_set_with_soft_labels_is_materialized(digits, teacher, tmp_path):
    train, test = digits
    options = {"batch_real": 8, "latent_dim": 16, "embed_dim": 8, "width": 8}
    config = CondenseConfig(method="dcgm", dataset="digits", ipc=1, iterations=1, options=options, evaluate=False,
                            labels="soft", temperature=TEMPERATURE, checkpoint_every=0)  # fmt: skip
    result = condense(config, tmp_path / "dcgm", real=train, progress=False, teacher=teacher)
    assert result.manifest.kind == "tensors" and result.manifest.method.name == "dcgm"
    images, labels = CondensedDataset(result.folder).tensors()
    assert images.shape == (10, 1, 8, 8)
    torch.testing.assert_close(labels, _labeller(teacher, train)(images))


def test_a_teacher_without_soft_labels_is_refused(digits, teacher, tmp_path):
    with pytest.raises(ValueError, match="labels='soft'"):
        condense(CondenseConfig(dataset="digits", ipc=1), tmp_path / "x", real=digits[0], teacher=teacher)


def test_evaluate_ranking_records_the_runs_the_metrics_come_from(soft_run, digits, teacher, tmp_path, monkeypatch,
                                                                 capsys):  # fmt: skip
    result, _ = soft_run
    train, _ = digits
    folder = tmp_path / "set"
    shutil.copytree(result.folder, folder)
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path / "home"))
    built = []

    def teacher_network(real, spec, *, device="cpu"):
        built.append(spec)
        return teacher

    monkeypatch.setattr(soft, "teacher_network", teacher_network)
    args = ["evaluate", str(folder), "--ranking", "--real-epochs", "1", "--eval-epochs", "2", "--eval-models", "1",
            "--eval-arch", "convnet-d1", "--write"]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert built == [result.manifest.teacher]  # the random images are labelled by the set's own teacher
    m = CondensedDataset(folder).manifest
    runs = {(e.subject, e.labels, e.arch): e for e in m.evaluation}
    expected = {("condensed", "soft"), ("random-real", "soft"), ("condensed", "hard"), ("full-real", "hard")}
    assert {(s, k) for s, k, a in runs if a == "convnet-d1"} == expected
    r = Ranking.from_evaluations(m.evaluation, arch="convnet-d1", labels="soft")
    assert r.ior == runs[("condensed", "soft", "convnet-d1")].accuracy_mean - runs[
        ("random-real", "soft", "convnet-d1")].accuracy_mean  # fmt: skip
    assert r.hlr == runs[("full-real", "hard", "convnet-d1")].accuracy_mean - runs[
        ("condensed", "hard", "convnet-d1")].accuracy_mean  # fmt: skip
    assert f"IOR {r.ior:+.4f}, HLR {r.hlr:+.4f}" in out
    assert runs[("full-real", "hard", "convnet-d1")].protocol["epochs"] == 1
    assert len(m.evaluation) == 4  # condense's results on convnet-d1 were replaced, not duplicated
    assert list((tmp_path / "home" / "evaluations").glob("full-real-*.json"))  # cached for the next set


def test_rank_reuses_known_runs_and_caches_the_full_real_one(digits, tmp_path, monkeypatch):
    train, test = digits
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path))
    sub = train.subset_per_class(1, generator=make_generator(5))
    first = rank(sub.images, sub.labels, train, test, ipc=1, config=FAST, real_epochs=1)
    assert first.labels == "hard" and first.condensed is first.condensed_hard
    assert len(first.evaluations()) == 3
    assert first.ior == first.condensed.accuracy_mean - first.random_real.accuracy_mean

    def no_training(*args, **kwargs):
        raise AssertionError("a known or cached run was trained again")

    monkeypatch.setattr(ranking, "_run", no_training)
    monkeypatch.setattr(ranking, "evaluate", no_training)
    monkeypatch.setattr(ranking, "evaluate_random_real", no_training)
    again = rank(sub.images, sub.labels, train, test, ipc=1, config=FAST, real_epochs=1, known=first.evaluations()[:2])
    assert again.full_real == first.full_real and again.ior == first.ior and again.hlr == first.hlr


def test_rank_refuses_what_cannot_be_compared(digits):
    train, test = digits
    probs = torch.softmax(torch.randn(10, 10), dim=1)
    with pytest.raises(RankingError, match="labelled the same way"):
        rank(train.images[:10], probs, train, test, ipc=1, config=FAST)
    with pytest.raises(RankingError, match="real_epochs"):
        rank(train.images[:10], train.labels[:10], train, test, ipc=1, config=FAST, real_epochs=0)
    with pytest.raises(RankingError, match="no evaluation of full-real with hard labels on convnet"):
        e = Evaluation(arch="convnet", test_set="digits/test", models=1, accuracy_mean=0.5, accuracy_std=0.0)
        Ranking.from_evaluations([e, dataclasses.replace(e, subject="random-real")], arch="convnet", labels="hard")


def test_the_soft_label_benchmark_writes_separate_ranking_records(digits, teacher, tmp_path, monkeypatch, capsys):
    import sys
    from pathlib import Path

    benchmarks = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))
    import accuracy
    import records
    import tables

    saved = {}

    def save(name, new, results=None):
        saved[name] = new
        return records.save(name, new, results=tmp_path / "results")

    monkeypatch.setattr(accuracy, "save", save)
    monkeypatch.setattr(soft, "teacher_network", lambda real, spec, device="cpu": teacher)
    monkeypatch.setenv("CONDENSED_DATA_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["accuracy.py", "--dataset", "digits", "--ipc", "1", "--iterations", "2",
                                      "--batch-real", "8", "--eval-epochs", "2", "--eval-models", "1", "--arch",
                                      "convnet-d1", "--eval-precision", "fp32", "--labels", "soft", "--temperature",
                                      "3", "--real-epochs", "1"])  # fmt: skip
    accuracy.main()
    assert list(saved) == ["ranking"]  # nothing beside the hard-label rows of accuracy.json
    [r] = saved["ranking"]
    assert r["labels"] == "soft" and r["budget"]["temperature"] == 3.0 and r["budget"]["real_epochs"] == 1
    assert r["ior"] == pytest.approx(
        r["accuracy_mean"] - r["random_accuracy_mean"], abs=2e-4
    )  # each rounded to 4 places
    assert r["hlr"] == pytest.approx(r["full_real_accuracy_mean"] - r["hard_accuracy_mean"], abs=2e-4)
    m = CondensedDataset(tmp_path / "out/bench/digits-dm-soft-ipc1").manifest
    assert m.label_kind == "soft" and r["accuracy_mean"] == round(m.evaluation[0].accuracy_mean, 4)
    table = tables.ranking_table(tables.Results(tmp_path / "results"))
    [row] = [line for line in table.splitlines() if line.startswith("| digits")]
    assert "| soft | convnet-d1 |" in row and f"| {r['ior']:+.4f} |" in row
    monkeypatch.setattr(sys, "argv", ["accuracy.py", "--ipc", "1", "--iterations", "1", "--temperature", "2"])
    with pytest.raises(SystemExit):
        accuracy.main()
    assert "describe soft labels: add --labels soft" in capsys.readouterr().err


def test_a_soft_set_without_a_teacher_has_no_ranking_and_a_hard_baseline(soft_run, tmp_path, capsys):
    from condensed_data.artifact.folder import write_manifest

    result, _ = soft_run
    folder = tmp_path / "imported"
    shutil.copytree(result.folder, folder)
    write_manifest(folder, result.manifest.replace(teacher=None))  # as an imported soft-label set
    common = ["--eval-epochs", "1", "--eval-models", "1", "--eval-arch", "convnet-d1"]
    assert main(["evaluate", str(folder), "--ranking", *common]) == 2
    assert "record no teacher" in capsys.readouterr().err
    assert main(["evaluate", str(folder), "--baseline", "--write", *common]) == 0
    runs = [(e.subject, e.labels) for e in CondensedDataset(folder).manifest.evaluation]
    assert ("condensed", "soft") in runs and ("random-real", "hard") in runs  # kept apart by their labels kind


def test_a_multi_formation_set_gets_one_soft_label_per_decoded_item(digits, teacher, tmp_path):
    train, _ = digits
    config = CondenseConfig(method="dm", dataset="digits", ipc=1, iterations=1, evaluate=False, labels="soft",
                            temperature=TEMPERATURE, checkpoint_every=0, options={"batch_real": 8, "factor": 2})  # fmt: skip
    result = condense(config, tmp_path / "tiled-soft", real=train, progress=False, teacher=teacher)
    ds = CondensedDataset(result.folder)
    assert ds.manifest.decode is not None and ds.manifest.label_kind == "soft" and len(ds) == 40
    images, labels = ds.tensors()
    assert labels.shape == (40, 10)
    torch.testing.assert_close(labels, _labeller(teacher, train)(images))  # each decoded item labelled on its own
