import json
import shutil

import pytest
import torch
from condensed_data_plugins.dcgm import DCGM, DCGMConfig
from helpers import accuracy_vs_random_real, optimize

from condensed_data.cli import main
from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.condense.loop import initial_generator
from condensed_data.condense.objectives import inter_class_loss, intra_class_loss
from condensed_data.condense.priors import PriorConfig, load_prior, train_gan_prior
from condensed_data.condense.registry import get_method
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.models.generator import GeneratorError, load_generator
from condensed_data.seeding import make_generator
from condensed_data.testing import check_method, tiny_real_dataset

SMALL = {"batch_real": 8, "latent_dim": 8, "width": 8}


def _method(real=None, *, ipc=2, seed=0, **options):
    real = real if real is not None else tiny_real_dataset()
    return DCGM(real, ipc=ipc, config=DCGMConfig(**{**SMALL, **options}), generator=make_generator(seed))


def test_registered_through_entry_point():
    assert get_method("dcgm") is DCGM
    assert (DCGM.kind, DCGM.sharding) == ("generator", "data")


def test_contract():
    check_method(DCGM, options=SMALL)


# -- the two regularizers, on hand-computed inputs ------------------------------------------------------------
def test_intra_class_loss_values():
    # class 0: orthogonal pair (cos 0); class 1: (1, 0) and (1, 1) (cos 1/sqrt 2); class 2: identical (cos 1)
    h = torch.tensor([[[1.0, 0.0], [0.0, 3.0]], [[2.0, 0.0], [1.0, 1.0]], [[0.0, 1.0], [0.0, 5.0]]])
    assert intra_class_loss(h).item() == pytest.approx(0.0 + 2**-0.5 + 1.0, abs=1e-6)
    three = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # pairs: 0, 1/sqrt2, 1/sqrt2 -> mean sqrt2/3
    assert intra_class_loss(three).item() == pytest.approx(2**0.5 / 3, abs=1e-6)
    assert intra_class_loss(torch.ones(4, 1, 3)).item() == 0.0  # one sample per class: no pairs


def test_inter_class_loss_values():
    # centres of the normalized embeddings: (0.5, 0.5), (1, 0), (0, 0) -> distances 0.7071, 0.7071, 1
    h = torch.tensor([[[1.0, 0.0], [0.0, 2.0]], [[3.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [-1.0, 0.0]]])
    d01, d02, d12 = 0.5**0.5, 0.5**0.5, 1.0
    expected = -((d01 + d02) / 2 + (d01 + d12) / 2 + (d02 + d12) / 2)
    assert inter_class_loss(h).item() == pytest.approx(expected, abs=1e-6)
    assert inter_class_loss(torch.ones(1, 3, 2)).item() == 0.0  # one class


def test_regularizer_gradients_push_in_the_stated_direction():
    h = torch.tensor([[[1.0, 0.2], [1.0, 0.0]], [[0.9, 0.1], [1.0, 0.1]]], requires_grad=True)
    for loss in (intra_class_loss, inter_class_loss):
        x = h.detach().clone().requires_grad_(True)
        before = loss(x)
        before.backward()
        with torch.no_grad():
            after = loss(x - 0.05 * x.grad)
        assert after < before  # a step down the gradient: samples apart (intra), centres apart (inter)


def test_loss_weights_are_configurable():
    plain = _method(lambda_intra=0.0, lambda_inter=0.0)
    loss = plain.loss(iteration=0, generator=make_generator(1))
    assert loss.item() == pytest.approx(plain.terms["match"], rel=1e-6)
    weighted = _method(lambda_intra=2.0, lambda_inter=3.0)
    loss = weighted.loss(iteration=0, generator=make_generator(1))
    t = weighted.terms
    assert t["match"] == pytest.approx(plain.terms["match"], rel=1e-5)
    assert loss.item() == pytest.approx(t["match"] + 2 * t["intra"] + 3 * t["inter"], rel=1e-5)
    assert t["intra"] > 0 and t["inter"] < 0
    with pytest.raises(ValueError, match="lambda_intra must be >= 0"):
        DCGMConfig(lambda_intra=-1.0)


def test_any_registered_objective():
    for objective in ("atom", "echo"):
        method = _method(objective=objective)
        assert torch.isfinite(method.loss(iteration=0, generator=make_generator(1)))


def test_data_shards_average_to_the_full_gradient():
    """sharding='data': each process keeps its share of the real batch; averaged gradients equal the full one (dm)."""
    full = _method(batch_real=6)
    full.loss(iteration=0, generator=make_generator(1)).backward()
    grads = [torch.zeros_like(p) for p in full.parameters()]
    for index in range(2):
        part = _method(batch_real=6)
        part.shard(index, 2)
        part.loss(iteration=0, generator=make_generator(1)).backward()
        for g, p in zip(grads, part.parameters(), strict=True):
            g += p.grad / 2
    for g, p in zip(grads, full.parameters(), strict=True):
        assert (g - p.grad).norm() <= 1e-4 * p.grad.norm() + 1e-6


def test_export_loads_back_as_the_condensed_set(tmp_path):
    run = CondenseConfig(method="dcgm", dataset="tiny", ipc=2, iterations=0, options=SMALL, evaluate=False)
    result = condense(run, tmp_path / "out", real=tiny_real_dataset(), progress=False)
    assert result.manifest.kind == "generator"
    assert sorted(result.manifest.files) == [
        "data/train-00000-of-00001.parquet",
        "generator/codes.safetensors",
        "generator/config.json",
        "generator/model.safetensors",
        "preview.png",
    ]
    ds = CondensedDataset(tmp_path / "out")
    assert len(ds) == 6 and ds.targets == [0, 0, 1, 1, 2, 2]
    initial = DCGM(
        tiny_real_dataset(), ipc=2, config=DCGMConfig(**SMALL), generator=initial_generator(0)
    )  # 0 iterations: the set the driver started from
    images, labels = initial.synthetic()
    assert torch.allclose(ds.tensors()[0], images, atol=1e-6) and labels.tolist() == ds.targets


# -- the prior ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior") / "tiny-gan"
    config = PriorConfig(iterations=3, batch_size=8, latent_dim=8, width=8, disc_width=4)
    return train_gan_prior(tiny_real_dataset(), folder, config=config, progress=False)


def test_prior_is_saved_as_config_and_safetensors(prior):
    assert sorted(p.name for p in prior.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((prior / "config.json").read_text())
    assert config["architecture"] == "conditional-dcgan" and config["provenance"]["dataset"]["name"] == "tiny"
    with pytest.raises(FileExistsError, match="--overwrite"):
        train_gan_prior(tiny_real_dataset(), prior, config=PriorConfig(iterations=1), progress=False)


def test_condensation_starts_from_the_prior(prior):
    method = _method(prior=str(prior))
    loaded = load_generator(prior)
    for a, b in zip(method.representation.generator.parameters(), loaded.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(GeneratorError, match=r"3 classes.*data has 4 classes.*condensed-data prior"):
        _method(tiny_real_dataset(classes=4), prior=str(prior))
    with pytest.raises(GeneratorError, match="does not exist.*condensed-data prior"):
        load_prior(prior.parent / "missing")


def test_codes_are_fitted_to_reproduce_real_images(prior):
    """invert_steps: the codes start where the prior reproduces the real images a pixel method would start from."""
    real = tiny_real_dataset()
    targets = real.sample_per_class(2, generator=make_generator(0)).flatten(0, 1)  # the run's first draw
    fitted = _method(real, prior=str(prior), invert_steps=60)
    plain = _method(real, prior=str(prior), invert_steps=0)
    error = {name: float((m.synthetic()[0] - targets).pow(2).mean()) for name, m in (("fit", fitted), ("no", plain))}
    assert error["fit"] < 0.95 * error["no"], error  # a 3-step prior reproduces little; a trained one, much more
    # 0 steps: the N(0, I) codes of the first draw, as before the option existed
    torch.testing.assert_close(plain.representation.codes, torch.randn(6, 8, generator=make_generator(0)))
    before, after = plain.representation.fit_codes(targets, steps=20, lr=0.05, chunk=4)  # chunks of 4 and 2 rows
    assert after < before and before == pytest.approx(error["no"], rel=1e-4)
    with pytest.raises(ValueError, match=r"one target image \(C, H, W\) per code \(6\)"):
        plain.representation.fit_codes(targets[:3], steps=1, lr=0.05)


def test_without_a_prior_codes_are_not_fitted():
    a, b = _method(invert_steps=0), _method(invert_steps=50)
    assert torch.equal(a.representation.codes, b.representation.codes)


def test_truncated_prior_is_refused(prior, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_bytes((prior / "config.json").read_bytes())
    (broken / "model.safetensors").write_bytes((prior / "model.safetensors").read_bytes()[:100])
    with pytest.raises(GeneratorError, match=r"model\.safetensors is not a readable safetensors file.*again"):
        _method(prior=str(broken))


def test_prior_cli(tmp_path, capsys):
    out = tmp_path / "digits-gan"
    assert main(["prior", "--kind", "gan", "--dataset", "digits", "--iterations", "2", "--output", str(out)]) == 0
    assert "--method dcgm --set prior=" in capsys.readouterr().out
    assert load_generator(out).config.image_shape == (1, 8, 8)
    wide = tmp_path / "wide"
    argv = ["prior", "--dataset", "digits", "--iterations", "1", "--set", "width=48", "--output", str(wide)]
    assert main(argv) == 0 and load_generator(wide).config.width == 48
    assert main([*argv[:-1], str(tmp_path / "y"), "--set", "depth=3"]) == 2
    assert "unknown prior option(s) ['depth'] for --kind gan; known:" in capsys.readouterr().err
    argv = ["prior", "--kind", "gan", "--autoencoder-iterations", "2", "--dataset", "digits"]
    assert main([*argv, "--output", str(tmp_path / "x")]) == 2
    assert "--autoencoder-iterations applies to --kind ldm only" in capsys.readouterr().err


@pytest.mark.slow
def test_dcgm_beats_random_real_on_digits_ipc1(digits):
    train, test = digits
    config = DCGMConfig(batch_real=64, lr_gen=3e-3, lr_codes=0.1, lambda_inter=0.1)
    # 500 iterations: at 300 the run is on the steep part of its curve, where float differences between machines
    # moved it from above the bar to 68.3% against 65.9% (measured 2026-12-02); at 500 it reaches 83.7%.
    method = optimize(DCGM(train, ipc=1, config=config, generator=make_generator(0)), 500)
    ours, rand = accuracy_vs_random_real(method, train, test)
    assert ours > rand + 0.03, (ours, rand)


def test_prior_names_follow_the_local_dir_and_hf_hub_rule(prior, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(prior, tmp_path / "org" / "gan")  # a local folder spelled like a Hub id
    method = _method(prior="local-dir:org/gan")
    for a, b in zip(method.representation.generator.parameters(), load_generator(prior).parameters(), strict=True):
        assert torch.equal(a, b)
    shutil.rmtree(tmp_path / "org")
    with pytest.raises(GeneratorError, match="prior local-dir:org/gan does not exist"):
        load_prior("local-dir:org/gan")  # a local folder, never looked up on the Hub
    with pytest.raises(GeneratorError, match=r"no-such-prior does not exist.*local-dir:PATH.*hf-hub:ORG/NAME"):
        load_prior("no-such-prior")
