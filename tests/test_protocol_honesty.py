"""An honest protocol: a validation hold-out for choosing hyperparameters, one start per seed, fixed evaluation seeds.

- ``CondenseConfig(validation=N)`` condenses the train split minus N images per class and tests on those; the
  manifest's source is the part it was condensed from and names the hold-out.
- At one seed DM, ATOM and ECHO start from exactly the same real images, and LD3M encodes that same draw.
- The condensation seed changes the start and the random stream; the evaluation seed does not follow it.
"""

import json

import pytest
import torch
from helpers import require
from safetensors.torch import load_file

from condensed_data.artifact.folder import read_artifact
from condensed_data.artifact.manifest import Holdout, Manifest, ManifestError, SourceInfo
from condensed_data.cli import main
from condensed_data.condense import driver
from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.data import RealDataset
from condensed_data.evaluate.protocol import EvalConfig
from condensed_data.testing import tiny_real_dataset

FAST_EVAL = EvalConfig(arch="convnet-d1", epochs=2, models=1, precision="fp32")


def _start(method, tmp_path, *, seed=0, real=None, **options):
    """The set ``method`` starts from at ``seed`` (0 iterations), in pixel space (for a pixel method)."""
    real = real if real is not None else tiny_real_dataset()
    options = {"batch_real": 4, **options}
    cfg = CondenseConfig(method=method, dataset="tiny", ipc=2, iterations=0, seed=seed, options=options, evaluate=False)
    out = tmp_path / f"{method}-{seed}"
    condense(cfg, out, real=real, progress=False)
    stored = out / "images.safetensors"
    return load_file(stored)["images"] if stored.exists() else None


# -- the validation hold-out ---------------------------------------------------------------------------------
def test_validation_condenses_the_train_part_and_tests_on_the_held_out_images(tmp_path):
    real = tiny_real_dataset()
    cfg = CondenseConfig(method="dm", dataset="tiny", ipc=2, iterations=2, options={"batch_real": 4},
                         eval=FAST_EVAL, validation=3)  # fmt: skip
    result = condense(cfg, tmp_path / "a", real=real, progress=False)
    part, validation = real.holdout(3)
    m = read_artifact(tmp_path / "a")
    assert (m.source.split, m.source.num_samples, m.source.fingerprint) == ("train", 27, part.fingerprint())
    assert m.source.validation == Holdout(per_class=3, seed=0, num_samples=9, fingerprint=validation.fingerprint())
    assert [(e.subject, e.test_set) for e in m.evaluation] == [("condensed", "tiny/validation"),
                                                               ("random-real", "tiny/validation")]  # fmt: skip
    assert result.manifest == m
    assert "9 images of the train split were held out" in (tmp_path / "a" / "README.md").read_text()


def test_validation_refuses_a_test_set_and_a_hold_out_too_large(tmp_path):
    real = tiny_real_dataset(per_class=4)
    cfg = CondenseConfig(method="dm", dataset="tiny", ipc=1, iterations=1, eval=FAST_EVAL, validation=2)
    with pytest.raises(ValueError, match="got a test set and a validation hold-out"):
        condense(cfg, tmp_path / "a", real=real, test=real, progress=False)
    too_big = CondenseConfig(method="dm", dataset="tiny", ipc=1, iterations=1, eval=FAST_EVAL, validation=4)
    with pytest.raises(ValueError, match=r"class 0 .* has only 4.*at most 3 per class"):
        condense(too_big, tmp_path / "b", real=real, progress=False)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\)"):
        CondenseConfig(validation=1.5)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_manifest_validation_block_round_trips_and_is_absent_without_one():
    example = Manifest.example()
    assert "validation" not in json.loads(example.to_json())["source"]  # written as before the hold-out existed
    held = Holdout(per_class=0.25, seed=0, num_samples=30, fingerprint="sha256:" + "1" * 64)
    m = example.replace(source=SourceInfo(name="digits", split="train", num_samples=90,
                                          fingerprint="sha256:" + "0" * 64, validation=held))  # fmt: skip
    again = Manifest.from_json(m.to_json())
    assert again == m and again.source.validation.per_class == 0.25
    counted = json.loads(m.to_json())
    counted["source"]["validation"]["per_class"] = 10
    assert Manifest.from_dict(counted).source.validation.per_class == 10
    counted["source"]["validation"]["per_class"] = "10"
    with pytest.raises(ManifestError, match="source.validation.per_class must be a number"):
        Manifest.from_dict(counted)


def test_cli_validation(tmp_path, capsys):
    out = tmp_path / "v"
    code = main(["condense", "--dataset", "digits", "--ipc", "1", "--iterations", "1", "--set", "batch_real=8",
                 "--eval-epochs", "1", "--eval-models", "1", "--eval-arch", "convnet-d1", "--no-baseline",
                 "--validation", "0.1", "--output", str(out)])  # fmt: skip
    assert code == 0
    assert "validation accuracy on digits/validation" in capsys.readouterr().out
    m = read_artifact(out)
    assert m.source.validation.per_class == 0.1 and m.evaluation[0].test_set == "digits/validation"
    with pytest.raises(SystemExit):
        main(["condense", "--validation", "ten"])


# -- one start per seed --------------------------------------------------------------------------------------
def test_pixel_methods_start_from_the_same_real_images(tmp_path):
    dm, atom, echo = (_start(name, tmp_path) for name in ("dm", "atom", "echo"))
    torch.testing.assert_close(atom, dm, rtol=0, atol=0)
    torch.testing.assert_close(echo, dm, rtol=0, atol=0)
    # ... and they are real images of the right classes (the start is a draw, not noise).
    real = tiny_real_dataset()
    pool = real.images.flatten(1)
    matches = [int(torch.cdist(x.flatten()[None], pool).argmin()) for x in dm]
    assert [int(real.labels[i]) for i in matches] == [0, 0, 1, 1, 2, 2]
    assert not torch.equal(_start("dm", tmp_path, seed=1), dm)  # another seed, another start


def test_ld3m_encodes_the_same_draw_as_the_pixel_methods(tmp_path, monkeypatch):
    require("diffusers")
    from condensed_data.condense.priors import LDMPriorConfig, train_ldm_prior

    real = tiny_real_dataset()
    config = LDMPriorConfig(autoencoder_iterations=1, denoiser_iterations=1, batch_size=8, image_size=8, width=8,
                            denoiser_width=16)  # fmt: skip
    prior = train_ldm_prior(real, tmp_path / "prior", config=config, progress=False)
    draws = []
    original = RealDataset.sample_per_class

    def spy(self, n, **kwargs):
        draws.append(original(self, n, **kwargs))
        return draws[-1]

    monkeypatch.setattr(RealDataset, "sample_per_class", spy)
    dm = _start("dm", tmp_path, real=real)
    assert len(draws) == 1  # 0 iterations: the start is the only draw
    _start("ld3m", tmp_path, real=real, prior=str(prior), steps=2, chunk=6)
    assert len(draws) == 2
    torch.testing.assert_close(draws[1], draws[0], rtol=0, atol=0)
    torch.testing.assert_close(real.normalize(draws[0].flatten(0, 1)), real.normalize(dm), rtol=1e-5, atol=1e-5)


# -- seeds ---------------------------------------------------------------------------------------------------
def test_the_condensation_seed_moves_the_run_and_not_the_evaluation(tmp_path, monkeypatch):
    seen = []

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            seen.append((name, kwargs["seed"], kwargs.get("draw_seed")))
            return fn(*args, **kwargs)

        monkeypatch.setattr(driver, name, wrapped)

    spy("evaluate", driver.evaluate)
    spy("evaluate_random_real", driver.evaluate_random_real)
    real, test = tiny_real_dataset(), tiny_real_dataset(per_class=4, seed=1)
    images = {}
    for seed in (0, 1):
        cfg = CondenseConfig(method="dm", dataset="tiny", ipc=2, iterations=2, seed=seed, options={"batch_real": 4},
                             eval=FAST_EVAL, checkpoint_every=0)  # fmt: skip
        condense(cfg, tmp_path / f"s{seed}", real=real, test=test, progress=False)
        images[seed] = load_file(tmp_path / f"s{seed}" / "images.safetensors")["images"]
    assert seen == [("evaluate", 0, None), ("evaluate_random_real", 0, 0),
                    ("evaluate", 0, None), ("evaluate_random_real", 0, 1)]  # fmt: skip
    assert not torch.equal(images[0], images[1])
