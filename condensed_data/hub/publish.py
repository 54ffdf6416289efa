"""Loading wing: publish an artifact folder to a Hugging Face Hub dataset repository, in one commit.

As huggingface_hub's ``push_to_hub``: validate the folder (no network), stage what is to be uploaded in a temporary
copy (the manifest, the files it lists, ``preview.png``, the dataset card ``README.md`` and, for a set
written before it existed, the Parquet view ``data/train-*.parquet``, drawn and written there when needed), then upload that copy in one commit. The user's folder is only read, never written.
``huggingface_hub`` is imported only inside functions.

>>> push_to_hub("out/fashion-mnist-dm-ipc10", "me/fmnist-dm-ipc10")  # doctest: +SKIP
PushResult(repo_id='me/fmnist-dm-ipc10', revision='main', commit_url='https://huggingface.co/...', ...)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from condensed_data.hub.errors import hub_errors, redownload_hint
from condensed_data.hub.names import is_hub_id
from condensed_data.hub.options import HubOptions

if TYPE_CHECKING:
    from condensed_data.artifact.manifest import Manifest

__all__ = ["PushResult", "push_to_hub"]

logger = logging.getLogger(__name__)

_CARD = "README.md"
_PREVIEW = "preview.png"


@dataclasses.dataclass(frozen=True)
class PushResult:
    """The commit :func:`push_to_hub` made. ``str(result)`` is the commit URL."""

    repo_id: str
    revision: str
    commit_url: str
    commit_sha: str

    def __str__(self) -> str:
        return self.commit_url


def _is_hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


def _validate(folder: Path) -> tuple[Manifest, Any]:
    """Read, verify and open the artifact; refuse with the reason and the fix. No network."""
    from condensed_data.artifact.folder import ArtifactError, read_artifact
    from condensed_data.artifact.manifest import ManifestError
    from condensed_data.sources import open_source

    try:
        with redownload_hint(folder):
            manifest = read_artifact(folder, verify=True)
        hidden = sorted(name for name in manifest.files if _is_hidden(name))
        if hidden:
            raise ArtifactError(
                f"{folder}: condensed.json lists hidden file(s) {hidden}; hidden files (checkpoints, editor files) "
                "are never uploaded: rename them"
            )
        source = open_source(folder, manifest)
    except (ArtifactError, ManifestError, NotImplementedError) as exc:
        raise type(exc)(
            f"{exc}. Nothing was uploaded: fix the folder (or write it again with `condensed-data condense "
            "--overwrite`) and push again"
        ) from None
    return manifest, source


def _link_or_copy(source: Path, target: Path) -> None:
    """Put ``source``'s bytes at ``target``: a hard link where the file system allows (no copy), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)  # follows symlinks (a cache snapshot's files are links into blobs/)
    except OSError:
        shutil.copyfile(source, target)


def _stage(folder: Path, staging: Path, manifest: Manifest, source: Any, repo_id: str) -> list[str]:
    """Fill ``staging`` with exactly what the commit holds; return the names of the folder's files left out."""
    from condensed_data.artifact.card import GENERATED_MARK, preview_grid, render_card
    from condensed_data.artifact.manifest import MANIFEST_NAME

    for name in (MANIFEST_NAME, *manifest.files):
        _link_or_copy(folder / name, staging / name)
    manifest = _stage_view(staging, manifest, source)
    card = folder / _CARD
    if card.is_file() and GENERATED_MARK not in card.read_text(encoding="utf-8", errors="replace"):
        _link_or_copy(card, staging / _CARD)  # the user's own card, unchanged
    else:
        (staging / _CARD).write_text(render_card(manifest, repo_id=repo_id), encoding="utf-8")
    if not (staging / _PREVIEW).is_file():  # unless the manifest lists it
        if (folder / _PREVIEW).is_file():
            _link_or_copy(folder / _PREVIEW, staging / _PREVIEW)
        else:
            images, labels = source.tensors()
            preview_grid(images, labels, manifest.num_classes).save(staging / _PREVIEW, format="PNG")
    staged = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file()}
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in staged
    )


def _stage_view(staging: Path, manifest: Manifest, source: Any) -> Manifest:
    """Add the Parquet view to a staged ``tensors`` or ``generator`` set written before views existed; return the
    staged manifest."""
    from condensed_data.artifact.folder import sha256_file
    from condensed_data.artifact.manifest import MANIFEST_NAME, FileEntry
    from condensed_data.artifact.view import view_files, view_skip_reason, write_view

    if manifest.kind not in ("tensors", "generator") or view_files(manifest.files) or view_skip_reason(manifest):
        return manifest
    images, labels = source.tensors()
    names = write_view(staging, images, labels, manifest)
    files = dict(manifest.files)
    for name in names:
        files[name] = FileEntry(sha256=sha256_file(staging / name), size=(staging / name).stat().st_size)
    manifest = manifest.replace(files=files)
    target = staging / MANIFEST_NAME
    target.unlink()  # a hard link to the user's condensed.json: never write through it
    target.write_text(manifest.to_json(), encoding="utf-8")
    logger.info("added the Parquet view (%s) to the upload", ", ".join(names))
    return manifest


def _default_message(manifest: Manifest) -> str:
    from condensed_data._version import __version__

    return (
        f"Upload {manifest.source.name} condensed with {manifest.method.name} "
        f"({manifest.images_per_class} images per class), condensed-data {__version__}"
    )


def _upload(staging: Path, repo_id: str, options: HubOptions, *, private: bool | None, message: str) -> PushResult:
    """One commit of every file under ``staging`` (the repository and branch are created if missing)."""
    from huggingface_hub import CommitOperationAdd, HfApi

    names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(staging / name)) for name in names]
    api = HfApi(endpoint=options.server, token=options.token)
    revision = options.revision
    with hub_errors(repo_id, options, action="push to"):
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision not in (None, "main"):
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        info = api.create_commit(repo_id, operations, commit_message=message, repo_type="dataset", revision=revision)
    return PushResult(repo_id=repo_id, revision=revision or "main", commit_url=info.commit_url, commit_sha=info.oid)


def push_to_hub(
    folder: str | os.PathLike,
    repo_id: str,
    options: HubOptions | None = None,
    *,
    private: bool | None = None,
    commit_message: str | None = None,
) -> PushResult:
    """Upload an artifact folder to a Hub dataset repository in one commit.

    The folder is validated completely first (manifest, every file's size and sha256, the data itself); a folder
    that fails is refused before any network request. The commit holds ``condensed.json``, the files it lists,
    ``preview.png`` and ``README.md``. A missing preview is drawn from the data; the dataset card is generated from
    the manifest (with this repository id in its loading snippet) when the folder has none, or when its card is
    the generated one (it carries a marker line; delete that line to keep your own edits). Any other
    ``README.md`` is uploaded unchanged. Hidden files (``.*``, e.g. checkpoints) and files the manifest does not
    list are never uploaded. The preview and card are written into a temporary copy of the folder, which is what
    is uploaded: the folder itself is never modified.

    Args:
        folder: An artifact folder (holding ``condensed.json``).
        repo_id: ``org/name``; the dataset repository is created if missing (``exist_ok``).
        options: ``token`` (with write access; ``None`` uses ``HF_TOKEN`` or ``hf auth login``), ``revision`` (the
            branch to commit to, created from main if missing; default main), ``endpoint``.
        private: Visibility of a repository created here (``None``: the Hub's default). An existing
            repository keeps its visibility.
        commit_message: Default: names the method, the source dataset and the images per class.

    Returns:
        The commit: ``result.commit_url``, ``result.commit_sha``.

    Raises:
        ArtifactError, ManifestError: The folder is not a valid artifact (nothing was uploaded).
        HubError: A subclass naming the problem (``HubAccessError`` for 401/403, ...).

    >>> push_to_hub("out/set", "me/set", HubOptions(revision="dev"), private=True)  # doctest: +SKIP
    """
    folder = Path(folder)
    options = options or HubOptions()
    if not is_hub_id(repo_id):
        raise ValueError(f"{repo_id!r} is not a Hub repository id: push to 'org/name' (your user name or an org)")
    if options.local_files_only:
        raise ValueError("local_files_only=True forbids network access, and a push needs it: pass False")
    manifest, source = _validate(folder)
    with tempfile.TemporaryDirectory(prefix="condensed-data-push-") as tmp:
        staging = Path(tmp) / folder.name
        skipped = _stage(folder, staging, manifest, source, repo_id)
        if skipped:
            logger.warning("not uploaded (hidden, or not listed in condensed.json): %s", ", ".join(skipped))
        message = commit_message or _default_message(manifest)
        result = _upload(staging, repo_id, options, private=private, message=message)
    logger.info("pushed %s to %s: %s", folder, repo_id, result.commit_url)
    return result
