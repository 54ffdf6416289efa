"""The Hub story on loopback, no internet: push through a fake upload API into git repositories that olah serves.

olah runs offline with ``mirrors-path``; in that mode ``GET /api/datasets/{org}/{name}`` *without* a revision answers
401 (olah then looks only at its own cache, not at the mirrors), so every download here names a revision ("main", a
tag or a sha). huggingface_hub reads HF_ENDPOINT at import, so the tests pass ``endpoint=`` (or set HF_ENDPOINT,
which condensed_data.hub reads at call time) instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import make_artifact, make_tiny_dit, require, tiny_tensors
from hub_servers import closed_port_url, git, make_git_repo
from PIL import Image

from condensed_data import CondensedDataset
from condensed_data.artifact.folder import ArtifactError, ChecksumError, read_manifest, write_manifest
from condensed_data.artifact.manifest import Evaluation, ManifestError
from condensed_data.cli import main
from condensed_data.hub import (
    HubAccessError,
    HubOptions,
    HubUnreachableError,
    Location,
    NotACondensedSetError,
    RepoNotFoundError,
    RevisionNotFoundError,
    is_hub_cache,
    locate,
    push_to_hub,
)

SET_FILES = {"condensed.json", "images.safetensors", "data/train-00000-of-00001.parquet", "README.md", "preview.png"}


@pytest.fixture(autouse=True)
def hub_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_TOKEN", "dummy-token")
    monkeypatch.delenv("HF_ENDPOINT", raising=False)


def load(servers, repo_id, cache, **kw):
    kw.setdefault("revision", "main")
    kw.setdefault("endpoint", servers.olah)
    return CondensedDataset.from_pretrained(repo_id, cache_dir=cache, **kw)


def snapshot_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def evaluated_artifact(folder: Path, **kw):
    manifest = make_artifact(folder, **kw)
    ev = Evaluation(arch="convnet", test_set="digits/test", models=2, accuracy_mean=0.8123, accuracy_std=0.01)
    manifest = manifest.replace(evaluation=(ev,))
    write_manifest(folder, manifest)  # the README on disk is the generated card of the manifest without evaluation
    return manifest


@pytest.fixture(scope="module")
def published(servers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pub") / "set"
    manifest = evaluated_artifact(folder)
    before = len(servers.fake.requests)
    result = CondensedDataset(folder).push_to_hub("org/set", endpoint=servers.fake.url, token="dummy")
    return SimpleNamespace(folder=folder, manifest=manifest, result=result, requests=servers.fake.requests[before:])


# -- push and pull --------------------------------------------------------------------------------------------


def test_push_is_one_commit_with_card_and_preview(published, servers):
    commits = [c for c in servers.fake.commits if c["repo_id"] == "org/set"]
    assert len(commits) == 1 and set(commits[0]["files"]) == SET_FILES
    assert "dm" in commits[0]["summary"] and "digits" in commits[0]["summary"]
    assert servers.fake.created["org/set"]["type"] == "dataset"
    posts = [path for method, path in published.requests if method == "POST"]
    assert posts == [
        "/api/repos/create",
        "/api/validate-yaml",
        "/api/datasets/org/set/preupload/main",
        "/api/datasets/org/set/commit/main",
    ]
    sha = git(servers.mirrors / "datasets/org/set", "rev-parse", "main")
    assert published.result.commit_sha == sha and str(published.result) == published.result.commit_url
    assert published.result.commit_url.endswith(sha)


def test_pull_gives_back_the_same_set(published, servers, tmp_path):
    ds = load(servers, "org/set", tmp_path / "cache")
    images, labels = tiny_tensors()
    got_images, got_labels = ds.tensors()
    assert torch.equal(got_images, images) and torch.equal(got_labels, labels)
    assert ds.manifest == published.manifest
    assert is_hub_cache(ds.folder) and ds.folder.name == published.result.commit_sha
    assert snapshot_files(ds.folder) == SET_FILES  # .gitattributes and anything unlisted are not fetched


def test_pushed_card_is_generated_for_the_repo_and_parses(published, servers, tmp_path):
    from huggingface_hub import DatasetCard

    folder = load(servers, "org/set", tmp_path / "cache").folder
    text = (folder / "README.md").read_text()
    data = DatasetCard(text).data.to_dict()
    assert data["task_categories"] == ["image-classification"] and data["license"]
    assert {"dataset-distillation", "condensed-data", "dm", "ipc-2"} <= set(data["tags"])
    assert data["source_datasets"] == ["digits"] and data["size_categories"] == ["n<1K"]
    condensed = data["condensed"]
    assert condensed["method"] == "dm" and condensed["images_per_class"] == 2 and condensed["label_kind"] == "hard"
    assert condensed["source_dataset"] == "digits" and condensed["source_fingerprint"].startswith("sha256:")
    assert condensed["value_space"]["mean"] == [0.5]
    # the card on disk predates the evaluation and names no repository: push regenerated it
    assert "| condensed | convnet | 2 | 81.23 ± 1.00 % | digits/test |" in text
    assert 'CondensedDataset.from_pretrained("org/set")' in text and "![preview](preview.png)" in text
    assert Image.open(folder / "preview.png").size == (2 * 17 + 1, 3 * 17 + 1)  # 2 per row, 3 classes, scale 2


def test_second_load_needs_no_network(published, servers, tmp_path):
    cache = tmp_path / "cache"
    first = load(servers, "org/set", cache)
    down = closed_port_url()
    assert load(servers, "org/set", cache, endpoint=down).folder == first.folder  # network down: the cache answers
    assert load(servers, "org/set", cache, revision=None, local_files_only=True, endpoint=down).folder == first.folder
    sha = published.result.commit_sha
    assert load(servers, "org/set", cache, revision=sha, local_files_only=True).folder == first.folder


def test_hf_hub_offline_in_a_fresh_process(published, servers, tmp_path):
    cache = tmp_path / "cache"
    load(servers, "org/set", cache)
    code = (
        "from condensed_data import CondensedDataset\n"
        "from condensed_data.hub import HubUnreachableError\n"
        f"print(len(CondensedDataset.from_pretrained('org/set', cache_dir={str(cache)!r})))\n"
        "try:\n"
        f"    CondensedDataset.from_pretrained('org/other', cache_dir={str(cache)!r})\n"
        "except HubUnreachableError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": closed_port_url(), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "6"
    assert "org/other" in lines[1] and "HF_HUB_OFFLINE" in lines[1]


def test_revisions_sha_tag_and_branch(servers, tmp_path):
    make_artifact(tmp_path / "a", ipc=2)
    make_artifact(tmp_path / "b", ipc=3)
    first = push_to_hub(tmp_path / "a", "org/versions", HubOptions(endpoint=servers.fake.url))
    git(servers.mirrors / "datasets/org/versions", "tag", "v1", first.commit_sha)
    second = push_to_hub(tmp_path / "b", "org/versions", HubOptions(endpoint=servers.fake.url), commit_message="ipc 3")
    assert first.commit_sha != second.commit_sha
    cache = tmp_path / "cache"
    assert len(load(servers, "org/versions", cache, revision=first.commit_sha)) == 6
    assert len(load(servers, "org/versions", cache, revision="v1")) == 6
    assert len(load(servers, "org/versions", cache, revision="main")) == 9
    branch = push_to_hub(tmp_path / "a", "org/versions", HubOptions(endpoint=servers.fake.url, revision="dev"))
    assert branch.revision == "dev" and servers.fake.commits[-1]["revision"] == "dev"
    assert len(load(servers, "org/versions", cache, revision="dev")) == 6
    assert len(load(servers, "org/versions", cache, revision="main")) == 9  # main untouched


def test_existing_readme_is_kept(servers, tmp_path):
    folder = tmp_path / "set"
    make_artifact(folder)
    mine = "---\nlicense: mit\n---\n# My own card\n"
    (folder / "README.md").write_text(mine)
    push_to_hub(folder, "org/mycard", HubOptions(endpoint=servers.fake.url))
    assert (servers.mirrors / "datasets/org/mycard/README.md").read_text() == mine


def test_push_never_uploads_hidden_or_unlisted_files(servers, tmp_path):
    folder = tmp_path / "set"
    make_artifact(folder)
    (folder / ".set.checkpoint.pt").write_bytes(b"checkpoint")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "x").write_text("x")
    (folder / "notes.txt").write_text("not listed")
    push_to_hub(folder, "org/clean", HubOptions(endpoint=servers.fake.url))
    assert set(servers.fake.commits[-1]["files"]) == SET_FILES


def test_push_writes_card_and_preview_into_a_copy_never_into_the_folder(servers, tmp_path):
    folder = tmp_path / "set"
    make_artifact(folder)
    (folder / "README.md").unlink()  # push must write both the card and the preview
    (folder / "preview.png").unlink(missing_ok=True)

    def state():
        files = (p for p in folder.rglob("*") if p.is_file())
        return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}

    before = state()
    push_to_hub(folder, "org/untouched", HubOptions(endpoint=servers.fake.url))
    assert state() == before
    assert sorted(before) == ["condensed.json", "data/train-00000-of-00001.parquet", "images.safetensors"]
    assert set(servers.fake.commits[-1]["files"]) == SET_FILES
    repo = servers.mirrors / "datasets/org/untouched"
    assert 'CondensedDataset.from_pretrained("org/untouched")' in (repo / "README.md").read_text()
    assert Image.open(repo / "preview.png").size == (2 * 17 + 1, 3 * 17 + 1)


def test_push_refuses_an_invalid_folder_before_any_request(servers, tmp_path):
    folder = tmp_path / "set"
    make_artifact(folder)
    before = len(servers.fake.requests)
    with pytest.raises(ValueError, match="not a Hub repository id"):
        push_to_hub(folder, "not-an-id", HubOptions(endpoint=servers.fake.url))
    with pytest.raises(ValueError, match="local_files_only=True forbids network access"):
        push_to_hub(folder, "org/x", HubOptions(endpoint=servers.fake.url, local_files_only=True))
    with pytest.raises(ArtifactError, match="not a condensed-data artifact"):
        push_to_hub(tmp_path, "org/bad", HubOptions(endpoint=servers.fake.url))
    path = folder / "images.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="images.safetensors.*Nothing was uploaded"):
        push_to_hub(folder, "org/bad", HubOptions(endpoint=servers.fake.url))
    assert servers.fake.requests[before:] == []


# -- errors ---------------------------------------------------------------------------------------------------


def test_repo_not_found(servers, tmp_path):
    with pytest.raises(RepoNotFoundError, match="no dataset repository 'org/missing'") as exc:
        load(servers, "org/missing", tmp_path)
    assert "private" in str(exc.value) and "hf auth login" in str(exc.value)


def test_revision_not_found(servers, tmp_path):
    servers.fake.errors["/api/datasets/org/revs/revision/nope"] = (
        404,
        {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id: nope"},
    )
    with pytest.raises(RevisionNotFoundError, match="has no revision 'nope'.*branch, tag or full commit sha"):
        load(servers, "org/revs", tmp_path, revision="nope", endpoint=servers.fake.url)


@pytest.mark.parametrize(
    "status, headers, message",
    [
        (
            401,
            {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access restricted"},
            "gated dataset.*accept its access",
        ),
        (401, {"X-Error-Message": "Invalid credentials in Authorization header"}, "401 unauthorized.*hf auth login"),
        (403, {"X-Error-Message": "no access"}, "403 forbidden.*read access"),
    ],
)
def test_gated_and_unauthorized(servers, tmp_path, status, headers, message):
    repo = f"org/locked-{status}-{len(headers)}"
    servers.fake.errors[f"/api/datasets/{repo}/revision/main"] = (status, headers)
    with pytest.raises(HubAccessError, match=message):
        load(servers, repo, tmp_path, endpoint=servers.fake.url)


def test_push_with_a_read_token_is_refused(servers, tmp_path):
    make_artifact(tmp_path / "set")
    with pytest.raises(HubAccessError, match="403 forbidden.*write access"):
        push_to_hub(tmp_path / "set", "org/ro", HubOptions(token="read-only", endpoint=servers.fake.url))


def test_not_a_condensed_set_is_refused_before_its_data_is_downloaded(servers, tmp_path):
    make_git_repo(servers.mirrors, "org/plain", {"data.csv": b"a,b\n" * 100, "README.md": b"# plain dataset\n" * 20})
    with pytest.raises(NotACondensedSetError, match=r"org/plain@main is not a condensed set.*README.md, data.csv"):
        load(servers, "org/plain", tmp_path / "cache")
    cached = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert "data.csv" not in cached


def test_checksum_mismatch_in_the_cache_names_the_file_and_the_fix(published, servers, tmp_path):
    cache = tmp_path / "cache"
    folder = load(servers, "org/set", cache).folder
    blob = (folder / "images.safetensors").resolve()  # the snapshot holds symlinks into blobs/
    assert blob != folder / "images.safetensors"
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"images.safetensors.*force_download=True") as exc:
        load(servers, "org/set", cache, local_files_only=True)
    assert f"condensed-data pull org/set --revision {folder.name} --force-download" in str(exc.value)
    ds = load(servers, "org/set", cache, force_download=True)
    assert torch.equal(ds.tensors()[0], tiny_tensors()[0])


def test_network_down_without_a_cache(servers, tmp_path):
    with pytest.raises(HubUnreachableError, match="could not reach .* not in the huggingface_hub cache"):
        load(servers, "org/set", tmp_path, endpoint=closed_port_url())
    with pytest.raises(HubUnreachableError, match="downloads are disabled"):
        load(servers, "org/set", tmp_path, local_files_only=True)


# -- nothing downloaded executes code --------------------------------------------------------------------------


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path(os.environ["BOOM_MARKER"]),))


def test_a_manifest_listing_a_pickle_is_refused_and_nothing_is_unpickled(servers, tmp_path, monkeypatch):
    marker = tmp_path / "unpickled"
    monkeypatch.setenv("BOOM_MARKER", str(marker))
    # padded past 150 bytes: olah decodes files of 121-149 bytes as text to look for LFS pointers, and fails on binary
    payload = pickle.dumps(_Boom()) + b"\0" * 200
    manifest = make_artifact(tmp_path / "set").to_dict()
    manifest["files"]["weights.pkl"] = {"sha256": "sha256:" + "0" * 64, "size": len(payload)}
    make_git_repo(
        servers.mirrors, "org/pickled", {"condensed.json": json.dumps(manifest).encode(), "weights.pkl": payload}
    )
    with pytest.raises(ManifestError, match="weights.pkl.*pickle"):
        load(servers, "org/pickled", tmp_path / "cache")
    assert not marker.exists()
    assert "weights.pkl" not in [p.name for p in (tmp_path / "cache").rglob("*")]


def test_a_stray_pickle_in_a_repo_is_never_downloaded(servers, tmp_path):
    folder = tmp_path / "set"
    make_artifact(folder)
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    make_git_repo(servers.mirrors, "org/stray", {**files, "evil.pkl": b"not even read"})
    ds = load(servers, "org/stray", tmp_path / "cache")
    assert "evil.pkl" not in snapshot_files(ds.folder) and len(ds) == 6


def test_unknown_kinds_and_networks_say_what_to_install(monkeypatch):
    from condensed_data import sources
    from condensed_data.artifact.manifest import Manifest, MethodSpec
    from condensed_data.nn import get_network
    from condensed_data.sources import open_source

    data = Manifest.example().to_dict()
    data["kind"] = "video"
    data["method"]["distribution"] = "condensed-video"
    with pytest.raises(ManifestError, match=r"kind must be one of.*pip install -U condensed-video"):
        Manifest.from_dict(data)
    # A kind the format knows but this version cannot read (as an older release would meet latent-diffusion).
    monkeypatch.delitem(sources._SOURCES, "latent-diffusion")
    diffusion = Manifest.example().replace(
        kind="latent-diffusion", method=MethodSpec(name="ld3m", distribution="cd-ld")
    )
    with pytest.raises(NotImplementedError, match="pip install -U cd-ld"):
        open_source(Path("."), diffusion)
    with pytest.raises(ValueError, match="no network named 'resnet999' is installed.*install the plugin"):
        get_network("resnet999", channels=1, num_classes=2, image_size=(8, 8))


# -- resolution and CLI ---------------------------------------------------------------------------------------


def test_ld3m_prior_from_a_hub_model_repo_is_pinned_and_the_set_round_trips(servers, tmp_path, monkeypatch):
    require("diffusers")
    import huggingface_hub

    from condensed_data.condense.driver import CondenseConfig, condense
    from condensed_data.testing import tiny_real_dataset

    model = make_tiny_dit(tmp_path / "dit")
    files = {p.relative_to(model).as_posix(): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    sha = make_git_repo(servers.mirrors, "org/tiny-dit", {**files, "transformer/extra.bin": b"x"}, repo_type="model")
    monkeypatch.setenv("HF_ENDPOINT", servers.olah)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))  # read once, at import
    options = {"prior": "hf-hub:org/tiny-dit", "batch_real": 4, "steps": 2}
    run = CondenseConfig(method="ld3m", dataset="tiny", ipc=1, iterations=1, options=options, evaluate=False)
    condense(run, tmp_path / "set", real=tiny_real_dataset(), progress=False)
    info = json.loads((tmp_path / "set" / "diffusion" / "condensed_data.json").read_text())
    assert info["prior"] == {"name": "hf-hub:org/tiny-dit", "repo_id": "org/tiny-dit", "revision": sha}
    snapshot = next((tmp_path / "cache").glob("models--org--tiny-dit/snapshots/*"))
    assert "transformer/extra.bin" not in snapshot_files(snapshot)  # only configs and safetensors weights
    assert len(CondensedDataset(tmp_path / "set")) == 3  # the artifact stores the model: no Hub needed to load

    # ... and the diffusion-backed set itself round-trips through the Hub: nested diffusers folders included
    CondensedDataset(tmp_path / "set").push_to_hub("org/ld3m-set", endpoint=servers.fake.url, token="dummy")
    pulled = load(servers, "org/ld3m-set", tmp_path / "cache2")
    assert pulled.manifest.kind == "latent-diffusion"
    assert "diffusion/transformer/diffusion_pytorch_model.safetensors" in snapshot_files(pulled.folder)
    assert torch.equal(pulled.tensors()[0], CondensedDataset(tmp_path / "set").tensors()[0])


def test_locate_reads_the_prefix_then_the_file_system_then_the_id_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "org" / "set").mkdir(parents=True)
    assert locate("org/set") == Location("local", "org/set")  # an existing path wins
    assert locate("hf-hub:org/set") == Location("hub", "org/set")
    assert locate("org/other") == Location("hub", "org/other")
    assert locate("local-dir:org/other") == Location("local", "org/other")  # forced, even if missing
    assert locate(tmp_path / "org").path == tmp_path / "org" and locate("hf-hub:org/set").repo_id == "org/set"
    with pytest.raises(FileNotFoundError, match=r"'out/a/missing' is neither.*'local-dir:PATH'.*'hf-hub:ORG/NAME'"):
        locate("out/a/missing")
    with pytest.raises(ValueError, match="hf-hub:ORG/NAME"):
        locate("hf-hub:not-an-id")
    with pytest.raises(ValueError, match="local-dir:PATH"):
        locate("local-dir:")
    with pytest.raises(FileNotFoundError, match=r"'missing-set' is neither.*local-dir:PATH.*hf-hub:ORG/NAME"):
        CondensedDataset.from_pretrained("missing-set")


def test_hub_options_are_checked_frozen_and_read_hf_endpoint_at_call_time(monkeypatch):
    with pytest.raises(ValueError, match="revision must be a branch, tag or commit sha"):
        HubOptions(revision="")
    with pytest.raises(ValueError, match="endpoint must be a server URL"):
        HubOptions(endpoint="localhost")
    with pytest.raises(ValueError, match="force_download must be True or False"):
        HubOptions(force_download="yes")
    options = HubOptions(revision="v1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.revision = "v2"
    assert options.server is None
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert options.server == "http://127.0.0.1:9"  # read now, not at import
    assert HubOptions(endpoint="http://mirror.example").server == "http://mirror.example"
    assert options.replace(revision="v2").where("org/set") == "org/set@v2"


def test_dcgm_prior_from_a_hub_model_repo_fetches_only_config_and_weights(servers, tmp_path):
    from condensed_data.condense.priors import load_prior
    from condensed_data.models.generator import ConditionalGenerator, ConditionalGeneratorConfig, save_generator

    config = ConditionalGeneratorConfig(num_classes=3, image_shape=(1, 8, 8), latent_dim=8, embed_dim=4, width=8)
    generator = ConditionalGenerator(config)
    save_generator(tmp_path / "gan", generator)
    files = {p.name: p.read_bytes() for p in (tmp_path / "gan").iterdir()}
    make_git_repo(servers.mirrors, "org/tiny-gan", {**files, "extra.bin": b"x" * 200}, repo_type="model")
    hub = HubOptions(revision="main", endpoint=servers.olah, cache_dir=tmp_path / "cache")
    loaded = load_prior("hf-hub:org/tiny-gan", num_classes=3, image_shape=(1, 8, 8), hub=hub)
    for a, b in zip(loaded.state_dict().values(), generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    (snapshot,) = (tmp_path / "cache" / "models--org--tiny-gan" / "snapshots").iterdir()
    assert snapshot_files(snapshot) == {"config.json", "model.safetensors"}  # never extra.bin


def test_prefixes_and_existing_paths_decide_local_or_hub(published, servers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_artifact(tmp_path / "org" / "set", ipc=1)  # a local folder spelled like the Hub id
    assert len(CondensedDataset.from_pretrained("org/set")) == 3  # an existing path wins
    assert len(CondensedDataset.from_pretrained("local-dir:org/set")) == 3
    hub = CondensedDataset.from_pretrained("hf-hub:org/set", revision="main", cache_dir="c", endpoint=servers.olah)
    assert len(hub) == 6


def test_cli_push_info_pull(servers, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "set"
    make_artifact(folder)
    monkeypatch.setenv("HF_ENDPOINT", servers.fake.url)
    assert main(["push", str(folder), "org/cli", "--private", "-m", "first upload", "--token", "dummy"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pushed {folder} to org/cli (main): {servers.fake.url}/datasets/org/cli/commit/")
    assert servers.fake.created["org/cli"]["visibility"] == "private"
    assert servers.fake.commits[-1]["summary"] == "first upload"

    monkeypatch.setenv("HF_ENDPOINT", servers.olah)
    cache = tmp_path / "info-cache"
    assert main(["info", "org/cli", "--revision", "main", "--cache-dir", str(cache)]) == 0
    assert "images per class: 2" in capsys.readouterr().out
    (snapshot,) = (cache / "datasets--org--cli" / "snapshots").iterdir()
    assert snapshot_files(snapshot) == {"condensed.json"}  # info downloads the manifest only
    assert main(["info", "org/cli", "--revision", "main", "--cache-dir", str(cache), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images_per_class"] == 2

    assert main(["pull", "org/cli", "--revision", "main", "--cache-dir", str(tmp_path / "c2")]) == 0
    lines = capsys.readouterr().out.splitlines()
    pulled = Path(lines[0])
    assert snapshot_files(pulled) == SET_FILES and any(line.startswith("images per class: 2") for line in lines)

    assert main(["evaluate", str(pulled), "--write", "--eval-epochs", "1", "--eval-models", "1"]) == 2
    err = capsys.readouterr().err
    assert "huggingface_hub cache" in err and "cp -rL" in err
    assert read_manifest(pulled).evaluation == ()


def test_cli_hub_errors_exit_2_with_the_fix(servers, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_ENDPOINT", servers.olah)
    assert main(["pull", "org/missing", "--revision", "main", "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "condensed-data pull: error: no dataset repository 'org/missing'" in err and "--token" in err
    assert main(["push", str(tmp_path), "org/x"]) == 2
    assert "Nothing was uploaded" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["push", "pull"])
def test_hub_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and "--token" in capsys.readouterr().out
