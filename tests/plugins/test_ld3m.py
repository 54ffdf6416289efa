import json
import shutil

import pytest
import torch
from condensed_data_plugins.ld3m import LD3M, LD3MConfig
from helpers import accuracy_vs_random_real, make_artifact, make_tiny_dit, optimize, require

from condensed_data.artifact.folder import ArtifactError
from condensed_data.cli import main
from condensed_data.condense.driver import CondenseConfig, condense
from condensed_data.condense.priors import LDMPriorConfig, train_ldm_prior
from condensed_data.condense.registry import get_method
from condensed_data.condense.representations import two_stage
from condensed_data.dataset.condensed import CondensedDataset
from condensed_data.interop.export import export_tensors
from condensed_data.models.diffusion import DiffusionError, load_diffusion, skip_ddim, skip_weights
from condensed_data.seeding import make_generator
from condensed_data.testing import check_method, tiny_real_dataset

diffusers = require("diffusers")

TINY_PRIOR = LDMPriorConfig(
    autoencoder_iterations=3, denoiser_iterations=3, batch_size=8, image_size=8, width=8, denoiser_width=16
)


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior") / "tiny-ldm"
    return train_ldm_prior(tiny_real_dataset(), folder, config=TINY_PRIOR, progress=False)


def _options(prior, **extra):
    return {"prior": str(prior), "batch_real": 4, "steps": 3, **extra}


def _method(prior, real=None, *, ipc=2, seed=0, **extra):
    real = real if real is not None else tiny_real_dataset()
    return LD3M(real, ipc=ipc, config=LD3MConfig(**_options(prior, **extra)), generator=make_generator(seed))


def test_registered_through_entry_point():
    assert get_method("ld3m") is LD3M
    assert (LD3M.kind, LD3M.sharding) == ("latent-diffusion", "classes")


def test_contract(prior):
    check_method(LD3M, options=_options(prior))


# -- the sampler ----------------------------------------------------------------------------------------------
def test_skip_weights_decay_linearly_from_one_to_zero():
    assert skip_weights(5) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert skip_weights(2) == [1.0, 0.0] and skip_weights(1) == [0.0]


def test_skip_blended_ddim_step_matches_a_hand_computation():
    z = torch.tensor([[0.5, -1.0]])
    n = torch.tensor([[0.2, 0.4]])
    alphas = torch.tensor([0.9, 0.8, 0.6, 0.3])  # a_t for t = 0..3
    timesteps = [3, 1]

    def eps(x, t):
        return 0.1 * x + t  # any deterministic function of (x, t)

    # by hand, two steps: weights 1 then 0; a_prev of the last step is final_alpha_cumprod = 0.95
    x = 0.3**0.5 * z + 0.7**0.5 * n
    e = 0.1 * x + 3
    x0 = (x - 0.7**0.5 * e) / 0.3**0.5
    x0 = 0.0 * x0 + 1.0 * z  # the skip at the first step replaces the prediction by z
    x = 0.8**0.5 * x0 + 0.2**0.5 * e
    e = 0.1 * x + 1
    x0 = (x - 0.2**0.5 * e) / 0.8**0.5  # weight 0 at the last step: the model's own prediction
    expected = 0.95**0.5 * x0 + 0.05**0.5 * e
    got = skip_ddim(eps, z, n, alphas, timesteps, final_alpha_cumprod=0.95)
    assert torch.allclose(got, expected, atol=1e-6)
    # three steps: the middle step blends half and half
    x = 0.3**0.5 * z + 0.7**0.5 * n
    for t, prev, w in ((3, 0.6, 1.0), (2, 0.8, 0.5), (1, 0.95, 0.0)):
        a = alphas[t]
        e = 0.1 * x + t
        x0 = (x - (1 - a).sqrt() * e) / a.sqrt()
        x0 = (1 - w) * x0 + w * z
        x = prev**0.5 * x0 + (1 - prev) ** 0.5 * e
    assert torch.allclose(skip_ddim(eps, z, n, alphas, [3, 2, 1], final_alpha_cumprod=0.95), x, atol=1e-6)
    plain = skip_ddim(eps, z, n, alphas, [3, 2, 1], final_alpha_cumprod=0.95, skip=False)
    assert not torch.allclose(plain, x)


def test_two_stage_backward_equals_plain_backward():
    w = torch.randn(3, 3)

    def fn(a, b):
        return torch.tanh(a @ w) * b.sum(1, keepdim=True)

    a, b = torch.randn(5, 3, requires_grad=True), torch.randn(5, 2, requires_grad=True)
    target = torch.randn(5, 3)
    ((two_stage(fn, 2, a, b) - target) ** 2).sum().backward()
    ga, gb = a.grad.clone(), b.grad.clone()
    a.grad = b.grad = None
    ((fn(a, b) - target) ** 2).sum().backward()
    assert torch.allclose(ga, a.grad, atol=1e-6) and torch.allclose(gb, b.grad, atol=1e-6)


def test_gradients_reach_latents_and_class_embeddings_through_the_steps(prior):
    for skip in (True, False):
        method = _method(prior, steps=4, skip=skip)
        method.loss(iteration=0, generator=make_generator(1)).backward()
        for p in (method.representation.latents, method.representation.conditioning):
            assert p.grad is not None and p.grad.abs().sum() > 0 and torch.isfinite(p.grad).all()


def test_any_registered_objective(prior):
    for objective in ("atom", "echo"):
        method = _method(prior, objective=objective)
        loss = method.loss(iteration=0, generator=make_generator(1))
        loss.backward()
        assert torch.isfinite(loss) and method.representation.latents.grad.abs().sum() > 0
        assert method.objective.name == objective


def test_chunks_and_checkpointing_do_not_change_the_gradient(prior):
    grads = []
    for chunk, checkpointing in ((4, True), (6, False)):
        method = _method(prior, chunk=chunk, checkpointing=checkpointing)
        method.loss(iteration=0, generator=make_generator(1)).backward()
        grads.append((method.representation.latents.grad, method.representation.conditioning.grad))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def test_latents_start_from_encoded_real_images_and_class_rows(prior):
    method = _method(prior)
    rows = method.representation.model.class_conditioning(torch.tensor([0, 0, 1, 1, 2, 2]))
    assert torch.equal(method.representation.conditioning.detach(), rows)
    assert not torch.equal(rows[0], rows[2])  # classes are told apart by their rows
    assert method.representation.latents.shape[1:] == method.representation.model.latent_shape
    with pytest.raises(ValueError, match="condensed-data prior --kind ldm"):
        LD3M(tiny_real_dataset(), ipc=1, config=LD3MConfig(), generator=make_generator(0))
    mapped = _method(prior, class_ids=[2, 1, 0])  # the model's class of each data class (e.g. ImageNet ids)
    assert torch.equal(
        mapped.representation.conditioning.detach(),
        method.representation.model.class_conditioning(torch.tensor([2, 2, 1, 1, 0, 0])),
    )
    with pytest.raises(ValueError, match="class_ids has 2 ids but the data has 3 classes"):
        _method(prior, class_ids=[0, 1])
    with pytest.raises(DiffusionError, match=r"class ids must lie in \[0, 4\)"):
        _method(prior, class_ids=[0, 1, 9])


# -- the artifact and the dataset -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def artifact(prior, tmp_path_factory):
    out = tmp_path_factory.mktemp("ld3m") / "set"
    run = CondenseConfig(method="ld3m", dataset="tiny", ipc=2, iterations=2, options=_options(prior), evaluate=False)
    condense(run, out, real=tiny_real_dataset(), progress=False)
    return out


def test_export_writes_a_diffusers_layout_and_loads_back(artifact):
    ds = CondensedDataset(artifact)
    assert ds.manifest.kind == "latent-diffusion" and len(ds) == 6 and ds.targets == [0, 0, 1, 1, 2, 2]
    files = sorted(ds.manifest.files)
    for name in ("diffusion/latents.safetensors", "diffusion/unet/config.json", "diffusion/vae/config.json"):
        assert name in files
    assert not any(f.endswith((".bin", ".pt", ".pkl", ".py")) for f in files)
    info = json.loads((artifact / "diffusion" / "condensed_data.json").read_text())
    assert info["sampling"] == {"steps": 3, "skip": True, "guidance": 3.0}
    card = (artifact / "README.md").read_text()
    assert "condensed-data[diffusion]" in card and "steps=5" in card
    image, label = ds[0]
    assert image.shape == (1, 8, 8) and 0 <= float(image.min()) and float(image.max()) <= 1 and label == 0


def test_decoded_set_is_the_condensed_set_and_steps_are_overridable(artifact, prior):
    ds = CondensedDataset(artifact)
    images, labels = ds.tensors()
    model = load_diffusion(artifact / "diffusion")
    stored = ds.source
    with torch.no_grad():
        direct = model.sample(stored.latents, stored.conditioning, stored.noise, steps=3, guidance=3.0)
        two = model.sample(stored.latents, stored.conditioning, stored.noise, steps=2, guidance=3.0)
    assert torch.allclose(images, direct, atol=1e-5)
    fewer = CondensedDataset(artifact, steps=2)
    assert torch.allclose(fewer.tensors()[0], two, atol=1e-5) and not torch.allclose(fewer.tensors()[0], images)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        CondensedDataset(artifact, steps=0)
    make_artifact(artifact.parent / "pixels")
    with pytest.raises(ValueError, match=r"option\(s\) \['steps'\] do not apply.*latent-diffusion"):
        CondensedDataset(artifact.parent / "pixels", steps=2)


def test_decoding_is_deterministic_in_and_out_of_workers(artifact):
    ds = CondensedDataset(artifact)
    first = torch.stack([ds[i][0] for i in (5, 0, 3, 1, 4, 2)])[[1, 3, 5, 2, 4, 0]]
    again = torch.stack([CondensedDataset(artifact)[i][0] for i in range(6)])
    assert torch.equal(first, again)
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)
    in_workers = torch.cat([x for x, _ in loader])
    assert torch.equal(in_workers, again)


def test_export_to_tensors_materializes_the_set(artifact, tmp_path):
    manifest = export_tensors(artifact, tmp_path / "tensors")
    assert manifest.kind == "tensors"
    assert torch.allclose(CondensedDataset(tmp_path / "tensors").tensors()[0], CondensedDataset(artifact).tensors()[0])


def test_missing_or_mismatched_denoiser_is_a_clear_error(artifact, tmp_path):
    broken = tmp_path / "no-denoiser"
    shutil.copytree(artifact, broken)
    shutil.rmtree(broken / "diffusion" / "unet")
    with pytest.raises(ArtifactError, match=r"has no denoiser \(unet/ or transformer/\)"):
        CondensedDataset(broken, verify=False)
    # a denoiser for other latents: 2 channels instead of 4
    other = tmp_path / "other"
    shutil.copytree(artifact, other)
    config = json.loads((other / "diffusion" / "unet" / "config.json").read_text())
    small = diffusers.UNet2DModel(**{**_init_args(config), "in_channels": 2, "out_channels": 2})
    small.save_pretrained(other / "diffusion" / "unet", safe_serialization=True)
    with pytest.raises(ArtifactError, match="2-channel latents but the autoencoder makes 4"):
        CondensedDataset(other, verify=False)
    # a config that names a class we do not build
    config["_class_name"] = "UNet2DConditionModel"
    (other / "diffusion" / "unet" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArtifactError, match="must be a UNet2DModel"):
        CondensedDataset(other, verify=False)
    with pytest.raises(DiffusionError, match="does not exist.*condensed-data prior --kind ldm"):
        load_diffusion(tmp_path / "nowhere")


def _init_args(config):
    return {k: v for k, v in config.items() if not k.startswith("_")}


def test_prior_for_other_data_is_refused(prior):
    with pytest.raises(DiffusionError, match=r"3 classes, but the data has 4.*condensed-data prior --kind ldm"):
        _method(prior, tiny_real_dataset(classes=4))
    with pytest.raises(DiffusionError, match=r"images \[1, 8, 8\], but the data has \[1, 16, 16\]"):
        _method(prior, tiny_real_dataset(shape=(1, 16, 16)))


def test_prior_is_diffusers_layout_and_cli_trains_one(prior, tmp_path, capsys):
    assert {p.name for p in prior.iterdir()} >= {"unet", "vae", "scheduler", "condensed_data.json"}
    info = json.loads((prior / "condensed_data.json").read_text())
    assert (info["num_classes"], info["null_class"], info["kind"]) == (3, 3, "ldm")
    out = tmp_path / "digits-ldm"
    argv = ["prior", "--kind", "ldm", "--dataset", "digits", "--iterations", "2", "--autoencoder-iterations", "2"]
    assert main([*argv, "--batch-size", "8", "--output", str(out)]) == 0
    assert "--method ld3m --set prior=" in capsys.readouterr().out
    assert load_diffusion(out).image_shape == (1, 8, 8)


# -- an external model: a tiny random DiT with an RGB autoencoder, as a diffusers pipeline folder ---------------
@pytest.fixture(scope="module")
def dit_folder(tmp_path_factory):
    return make_tiny_dit(tmp_path_factory.mktemp("dit") / "tiny-dit")


def test_external_dit_with_its_vae_condenses_and_loads(dit_folder, tmp_path):
    model = load_diffusion(dit_folder, num_classes=3, image_shape=(1, 8, 8))
    assert model.null_class == 3 and len(model._tables) == 2  # one label table per DiT block
    out = tmp_path / "set"
    options = {"prior": str(dit_folder), "batch_real": 4, "steps": 2}
    run = CondenseConfig(method="ld3m", dataset="tiny", ipc=1, iterations=1, options=options, evaluate=False)
    condense(run, out, real=tiny_real_dataset(), progress=False)
    ds = CondensedDataset(out)
    images, labels = ds.tensors()
    assert images.shape == (3, 1, 8, 8) and labels.tolist() == [0, 1, 2]
    assert "diffusion/transformer/diffusion_pytorch_model.safetensors" in ds.manifest.files
    method = LD3M(
        tiny_real_dataset(), ipc=1, config=LD3MConfig(**options), generator=make_generator(0)
    )  # gradients reach every block's class vector
    method.loss(iteration=0, generator=make_generator(1)).backward()
    dims = [t.embedding_dim for t in method.representation.model._tables]
    for part in method.representation.conditioning.grad.split(dims, dim=1):
        assert part.abs().sum() > 0


# -- accuracy -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ld3m_beats_random_real_on_digits_ipc1(digits, tmp_path):
    train, test = digits
    config = LDMPriorConfig(
        autoencoder_iterations=300, denoiser_iterations=600, image_size=16, width=8, denoiser_width=16
    )
    prior = train_ldm_prior(train, tmp_path / "digits-ldm", config=config, progress=False)
    options = LD3MConfig(prior=str(prior), batch_real=64, steps=5)
    method = optimize(LD3M(train, ipc=1, config=options, generator=make_generator(0)), 100)
    ours, rand = accuracy_vs_random_real(method, train, test)
    assert ours > rand + 0.03, (ours, rand)


def test_prior_names_follow_the_local_dir_and_hf_hub_rule(prior, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(prior, tmp_path / "org" / "ldm")  # a local folder spelled like a Hub id
    assert _method("local-dir:org/ldm").prior_folder.resolve() == (tmp_path / "org" / "ldm").resolve()
    shutil.rmtree(tmp_path / "org")
    with pytest.raises(DiffusionError, match="org/ldm does not exist.*condensed-data prior --kind ldm"):
        _method("local-dir:org/ldm")  # a local folder, never looked up on the Hub
    with pytest.raises(DiffusionError, match=r"no-such-prior does not exist.*local-dir:PATH.*hf-hub:ORG/NAME"):
        _method("no-such-prior")
