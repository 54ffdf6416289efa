import json
import os

import pytest
from helpers import make_artifact, tiny_manifest

from condensed_data.artifact.folder import (
    ArtifactError,
    ChecksumError,
    read_artifact,
    read_manifest,
    save_artifact,
    sha256_file,
)
from condensed_data.artifact.manifest import ManifestError


def test_save_lists_every_file_with_checksum(tmp_path):
    m = make_artifact(tmp_path / "a")
    assert set(m.files) == {"images.safetensors", "data/train-00000-of-00001.parquet"}
    entry = m.files["images.safetensors"]
    path = tmp_path / "a" / "images.safetensors"
    assert entry.size == path.stat().st_size and entry.sha256 == sha256_file(path)
    assert (tmp_path / "a" / "README.md").read_text().startswith("---\n")
    assert read_artifact(tmp_path / "a") == m


def test_existing_folder_refused_without_overwrite(tmp_path):
    make_artifact(tmp_path / "a")
    with pytest.raises(FileExistsError, match="overwrite"):
        make_artifact(tmp_path / "a")


def test_overwrite_replaces_whole_folder(tmp_path):
    make_artifact(tmp_path / "a")
    (tmp_path / "a" / "stale.bin").write_bytes(b"x")
    save_artifact(tmp_path / "a", tiny_manifest(), lambda d: (d / "new.txt").write_text("n"), overwrite=True)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["condensed.json", "new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no temporary folders left behind


def test_failed_write_leaves_nothing(tmp_path):
    def boom(folder):
        (folder / "partial.bin").write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        save_artifact(tmp_path / "a", tiny_manifest(), boom)
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_the_old_artifact(tmp_path):
    old = make_artifact(tmp_path / "a")

    def boom(folder):
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        save_artifact(tmp_path / "a", tiny_manifest(), boom, overwrite=True)
    assert read_artifact(tmp_path / "a") == old


def test_checksum_mismatch_names_the_file(tmp_path):
    make_artifact(tmp_path / "a")
    path = tmp_path / "a" / "images.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="images.safetensors: sha256"):
        read_artifact(tmp_path / "a")
    read_artifact(tmp_path / "a", verify=False)  # explicit opt-out still reads the manifest


def test_truncated_file_is_reported_by_size(tmp_path):
    make_artifact(tmp_path / "a")
    path = tmp_path / "a" / "images.safetensors"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ChecksumError, match="images.safetensors: size 50 bytes"):
        read_artifact(tmp_path / "a")


def test_missing_listed_file(tmp_path):
    make_artifact(tmp_path / "a")
    os.remove(tmp_path / "a" / "images.safetensors")
    with pytest.raises(ArtifactError, match="missing"):
        read_artifact(tmp_path / "a")


def test_not_an_artifact(tmp_path):
    with pytest.raises(ArtifactError, match="not a condensed-data artifact"):
        read_manifest(tmp_path)


def test_invalid_manifest_names_the_file(tmp_path):
    make_artifact(tmp_path / "a")
    path = tmp_path / "a" / "condensed.json"
    data = json.loads(path.read_text())
    data["ipc"] = 3
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=r"condensed.json.*unknown field 'ipc'"):
        read_manifest(tmp_path / "a")
