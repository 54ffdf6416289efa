import dataclasses
from dataclasses import dataclass

import pytest
from condensed_data_plugins.dm import DM

from condensed_data import CondensedDataset
from condensed_data.artifact.folder import read_artifact
from condensed_data.condense.driver import CondensationError, CondenseConfig, checkpoint_path, condense
from condensed_data.condense.matching import PixelConfig
from condensed_data.condense.registry import UnknownMethodError, register, unregister
from condensed_data.evaluate import evaluate
from condensed_data.evaluate.protocol import EvalConfig
from condensed_data.testing import tiny_real_dataset

FAST_EVAL = EvalConfig(arch="convnet-d1", epochs=3, models=1, precision="fp32")


@pytest.fixture(scope="module")
def tiny():
    return tiny_real_dataset(per_class=12, seed=0), tiny_real_dataset(per_class=6, seed=1)


def run(tiny, out, *, resume=False, **kw):
    real, test = tiny
    cfg = CondenseConfig(
        **{
            "method": "dm",
            "dataset": "tiny",
            "ipc": 2,
            "iterations": 4,
            "options": {"batch_real": 6},
            "eval": FAST_EVAL,
            "checkpoint_every": 2,
            **kw,
        }
    )
    return condense(cfg, out, real=real, test=test, progress=False, resume=resume)


def test_end_to_end_artifact(tiny, tmp_path):
    result = run(tiny, tmp_path / "a")
    folder = tmp_path / "a"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "condensed.json",
        "data",
        "images.safetensors",
        "preview.png",
    ]
    m = read_artifact(folder)
    real, _ = tiny
    assert m == result.manifest
    assert m.source.fingerprint == real.fingerprint() and m.source.num_samples == len(real)
    assert m.method.name == "dm" and m.method.distribution == "condensed-data" and m.method.config["iterations"] == 4
    assert m.method.config["batch_real"] == 6
    assert [e.subject for e in m.evaluation] == ["condensed", "random-real"]
    assert m.recipe.mean == tuple(real.mean) and m.recipe.epochs == 3
    ds = CondensedDataset(folder)
    assert len(ds) == 6 and ds.targets == [0, 0, 1, 1, 2, 2]
    assert not checkpoint_path(folder).exists()  # removed once the artifact is complete


def test_output_in_folders_that_do_not_exist_yet(tiny, tmp_path):
    out = tmp_path / "new" / "nested" / "a"
    run(tiny, out, evaluate=False, iterations=4, checkpoint_every=2)  # a checkpoint is written before the artifact
    assert (out / "condensed.json").exists()


def test_same_seed_same_artifact_and_seed_matters(tiny, tmp_path):
    a = run(tiny, tmp_path / "a", evaluate=False).manifest
    b = run(tiny, tmp_path / "b", evaluate=False).manifest
    c = run(tiny, tmp_path / "c", evaluate=False, seed=1).manifest
    assert a.files == b.files
    assert a.files != c.files


def test_existing_output_refused_before_any_work(tiny, tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        run(tiny, tmp_path / "a", method="no-such-method")  # refused before the method is even looked up


def test_unknown_method_and_bad_ipc(tiny, tmp_path):
    with pytest.raises(UnknownMethodError, match="dm"):
        run(tiny, tmp_path / "a", method="no-such-method")
    with pytest.raises(ValueError, match="exceeds the size of class"):
        run(tiny, tmp_path / "a", ipc=13)
    with pytest.raises(ValueError, match="ipc"):
        CondenseConfig(ipc=0)
    with pytest.raises(ValueError, match="unknown option"):
        run(tiny, tmp_path / "a", options={"lr": 1.0})


@dataclass
class _ExplodingConfig(PixelConfig):
    explode_at: int = 3


class _Exploding(DM):
    """DM whose loss turns NaN at a chosen iteration."""

    name = "exploding"
    config_class = _ExplodingConfig

    def loss(self, *, iteration, generator):
        loss = super().loss(iteration=iteration, generator=generator)
        return loss * float("nan") if iteration == self.config.explode_at else loss


class _Interrupted(DM):
    name = "interrupted"

    def loss(self, *, iteration, generator):
        if iteration == 3 and not getattr(_Interrupted, "resumed", False):
            raise KeyboardInterrupt
        return super().loss(iteration=iteration, generator=generator)


@pytest.fixture
def extra_methods():
    register("exploding", _Exploding)
    register("interrupted", _Interrupted)
    yield
    unregister("exploding")
    unregister("interrupted")


def test_nan_stops_with_iteration_and_keeps_last_checkpoint(tiny, tmp_path, extra_methods):
    out = tmp_path / "a"
    with pytest.raises(CondensationError, match=r"loss became nan at iteration 3; the last good state \(iteration 2\)"):
        run(tiny, out, method="exploding")
    assert checkpoint_path(out).exists() and not out.exists()


def test_interrupted_run_resumes_to_the_same_artifact(tiny, tmp_path, extra_methods):
    _Interrupted.resumed = True
    reference = run(tiny, tmp_path / "ref", method="interrupted", evaluate=False, iterations=6).manifest
    _Interrupted.resumed = False
    out = tmp_path / "a"
    with pytest.raises(KeyboardInterrupt):
        run(tiny, out, method="interrupted", evaluate=False, iterations=6)
    assert checkpoint_path(out).exists() and not out.exists()
    _Interrupted.resumed = True
    try:
        resumed = run(tiny, out, method="interrupted", evaluate=False, iterations=6, resume=True).manifest
    finally:
        _Interrupted.resumed = False
    assert resumed.files == reference.files


def test_checkpoint_of_another_run_is_refused(tiny, tmp_path, extra_methods):
    out = tmp_path / "a"
    with pytest.raises(CondensationError):
        run(tiny, out, method="exploding")
    with pytest.raises(CondensationError, match=r"\(ipc: 2 in the checkpoint, 3 now\)"):
        run(tiny, out, method="exploding", ipc=3, resume=True)
    checkpoint_path(out).write_bytes(b"garbage")
    with pytest.raises(CondensationError, match="cannot be read"):
        run(tiny, out, method="exploding", ipc=3, resume=True)


def test_periodic_evaluation_is_recorded_and_does_not_change_the_result(tiny, tmp_path):
    plain = run(tiny, tmp_path / "a", iterations=4, evaluate=True)
    watched = run(tiny, tmp_path / "b", iterations=4, eval_every=2)
    assert [h["iteration"] for h in watched.history] == [2]
    assert plain.history == [] and plain.manifest.files == watched.manifest.files
    # the recorded accuracy is the protocol's (one network, the run's seed) on the set as it was at iteration 2
    early = run(tiny, tmp_path / "c", iterations=2, evaluate=False)
    images, labels = CondensedDataset(early.folder).tensors()
    one = dataclasses.replace(FAST_EVAL, models=1)
    [expected] = evaluate(images, labels, tiny[1], config=one, seed=0, normalization=early.manifest.recipe)
    assert watched.history[0]["accuracy"] == expected.accuracy_mean


def test_manifest_records_the_objective_that_ran(tiny, tmp_path):
    """A method that overrides build_objective records its objective, not the config's default name."""
    from condensed_data.condense.objectives import make_objective

    class DMWithMMD(DM):
        name = "dm-with-mmd"

        def build_objective(self):
            return make_objective("echo")

    register("dm-with-mmd", DMWithMMD)
    try:
        result = run(tiny, tmp_path / "a", method="dm-with-mmd", evaluate=False)
    finally:
        unregister("dm-with-mmd")
    assert result.manifest.method.config["objective"] == "echo"
    assert run(tiny, tmp_path / "b", evaluate=False).manifest.method.config["objective"] == "dm"


def test_the_driver_looks_the_method_up_once_and_records_its_distribution(tiny, tmp_path, monkeypatch):
    import condensed_data.condense.driver as driver
    from condensed_data.condense.registry import lookup

    calls = []
    monkeypatch.setattr(driver, "lookup", lambda name: calls.append(name) or lookup(name))
    method = run(tiny, tmp_path / "a", evaluate=False).manifest.method
    assert calls == ["dm"]
    assert (method.distribution, method.version) == (lookup("dm").distribution, lookup("dm").version)

    register("dm-here", DM)
    try:
        method = run(tiny, tmp_path / "b", method="dm-here", evaluate=False).manifest.method
    finally:
        unregister("dm-here")
    assert (method.name, method.distribution, method.version) == ("dm-here", "<runtime>", "")
