"""Reading and writing artifact folders: atomic saves, checksummed files, verified loads.

An artifact is one folder holding ``condensed.json`` and the files it lists. Writes go to a temporary sibling
folder that is renamed into place only when complete, so a crash never leaves a half-written artifact under the
final name. Loads check every listed file's size and sha256 before anything reads it.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "demo"
>>> def write(folder):
...     (folder / "hello.txt").write_text("hi")
>>> manifest = save_artifact(out, Manifest.example(), write)
>>> sorted(read_artifact(out).files)
['hello.txt']
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from condensed_data.artifact.manifest import MANIFEST_NAME, FileEntry, Manifest, ManifestError

__all__ = [
    "ArtifactError",
    "ChecksumError",
    "save_artifact",
    "read_manifest",
    "read_artifact",
    "verify_files",
    "check_links",
    "sha256_file",
    "write_manifest",
]

logger = logging.getLogger(__name__)

# Files that may sit in an artifact folder without being listed in the manifest: the manifest itself and the
# dataset card (users edit cards after publishing; the card is documentation, not data).
UNLISTED = frozenset({MANIFEST_NAME, "README.md", ".gitattributes"})
# How to get a good copy of a folder that fails its checksums. (A Hub cache snapshot must be downloaded again
# instead: the hub package, which reads those, adds that; this package knows nothing of the Hub.)
_AGAIN = "download or copy the artifact again"


class ArtifactError(RuntimeError):
    """An artifact folder that cannot be used; the message says which file and what to do."""


class ChecksumError(ArtifactError):
    """A file whose size or sha256 differs from the manifest."""


def sha256_file(path: str | os.PathLike, *, chunk_size: int = 1 << 20) -> str:
    """Return ``"sha256:<hex>"`` of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (renames into it) to disk, where the platform allows."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # not supported on every platform/filesystem
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _list_files(folder: Path) -> dict[str, FileEntry]:
    entries = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in UNLISTED:
            continue
        entries[rel] = FileEntry(sha256=sha256_file(path), size=path.stat().st_size)
    return entries


def save_artifact(
    folder: str | os.PathLike,
    manifest: Manifest,
    write_files: Callable[[Path], None],
    *,
    overwrite: bool = False,
    card: Callable[[Manifest], str] | None = None,
) -> Manifest:
    """Write an artifact atomically and return the final manifest (with its ``files`` filled in).

    Args:
        folder: Destination folder. It must not exist unless ``overwrite`` is true.
        manifest: The manifest; its ``files`` field is replaced by the checksums of what ``write_files`` wrote.
        write_files: Called with a temporary folder; writes the data files into it. For a ``tensors`` set the
            Parquet view (``data/train-*.parquet``, :mod:`condensed_data.artifact.view`) is then added from
            ``images.safetensors`` (for a ``generator`` set: from the generated set) unless ``write_files`` wrote
            one; it is listed with the other files.
        overwrite: Replace an existing folder (the old one is removed only after the new one is complete).
        card: Optional function returning the dataset card (``README.md``) text for the final manifest.

    Raises:
        FileExistsError: ``folder`` exists and ``overwrite`` is false.
    """
    folder = Path(folder)
    final = manifest

    def write(tmp: Path) -> None:
        nonlocal final
        write_files(tmp)
        _add_view(tmp, manifest)
        final = manifest.replace(files=_list_files(tmp))
        if card is not None and not (tmp / "README.md").exists():
            (tmp / "README.md").write_text(card(final), encoding="utf-8")
        (tmp / MANIFEST_NAME).write_text(final.to_json(), encoding="utf-8")

    write_folder_atomically(folder, write, overwrite=overwrite)
    logger.info("wrote artifact %s (%d files)", folder, len(final.files))
    return final


def _add_view(tmp: Path, manifest: Manifest) -> None:
    """Write the Parquet view (:mod:`.view`) of a ``tensors`` or ``generator`` set into ``tmp`` unless the writer
    already did (latent-diffusion and webdataset sets get none)."""
    from condensed_data.artifact.view import VIEW_DIR, view_skip_reason, write_view

    if any((tmp / VIEW_DIR).glob("train-*.parquet")):
        return
    reason = view_skip_reason(manifest)
    if reason:
        logger.warning("no Parquet view: %s", reason)
        return
    if manifest.kind == "generator":
        # The condensed set itself (fixed mode: one image per stored code), generated once through the loading
        # wing's own Source, as CondensedDataset would.
        from condensed_data.sources import open_source

        images, labels = open_source(tmp, manifest).tensors()
        write_view(tmp, images, labels, manifest)
        return
    if manifest.kind != "tensors":
        # Diffusion sets decode every image through many denoiser steps (minutes for a large set): `condensed-data
        # export --to tensors` (or `--to parquet`) materializes them once. Webdataset sets are read from their shards.
        logger.info("no Parquet view for an artifact of kind %r (export it --to tensors to get one)", manifest.kind)
        return
    path = tmp / "images.safetensors"
    if not path.is_file():
        return
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    try:
        write_view(tmp, tensors["images"], tensors["labels"], manifest)
    except (KeyError, ValueError, IndexError) as exc:  # data that does not fit the manifest: the loader refuses it
        shutil.rmtree(tmp / VIEW_DIR, ignore_errors=True)
        logger.warning("no Parquet view: the stored tensors do not fit the manifest (%s)", exc)


def write_folder_atomically(
    folder: str | os.PathLike, write: Callable[[Path], None], *, overwrite: bool = False
) -> None:
    """Create ``folder`` through ``write(tmp)`` in a temporary sibling, then rename it into place.

    Readers see either no folder (or the old one) or the complete new one, never a half-written one; the old folder
    is removed only after the new one is in place.

    Raises:
        FileExistsError: ``folder`` exists and ``overwrite`` is false (checked before ``write`` runs).
    """
    folder = Path(folder)
    if folder.exists() and not overwrite:
        raise FileExistsError(
            f"{folder} already exists; choose another output folder or pass overwrite=True (CLI: --overwrite)"
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        write(tmp)
        fsync_dir(tmp)
        if folder.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
            os.replace(folder, trash / folder.name)
            os.replace(tmp, folder)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, folder)
        fsync_dir(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_manifest(folder: str | os.PathLike, manifest: Manifest) -> None:
    """Atomically replace ``condensed.json`` in an existing artifact (e.g. to add evaluation results)."""
    folder = Path(folder)
    tmp = folder / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(manifest.to_json(), encoding="utf-8")
    os.replace(tmp, folder / MANIFEST_NAME)


def read_manifest(folder: str | os.PathLike) -> Manifest:
    """Read and validate ``condensed.json`` from a folder (no data file is touched)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        hint = "" if Path(folder).is_dir() else " (the folder does not exist)"
        raise ArtifactError(
            f"{path} not found{hint}: {folder} is not a condensed-data artifact. "
            "Artifacts are written by `condensed-data condense` or pulled with `condensed-data pull`."
        )
    try:
        return Manifest.from_json(path.read_text(encoding="utf-8"))
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None


def _allowed_roots(folder: Path) -> list[Path]:
    """Where the files of ``folder`` may really live: inside it, and for a huggingface_hub cache snapshot
    (``.../datasets--org--name/snapshots/REV/``, whose files are links into ``blobs/``) that repository's blobs."""
    roots = [folder.resolve()]
    for parent in folder.absolute().parents:
        if parent.name == "snapshots" and parent.parent.name.startswith(("datasets--", "models--")):
            roots.append((parent.parent / "blobs").resolve())
            break
    return roots


def check_links(folder: str | os.PathLike, manifest: Manifest) -> None:
    """Refuse a listed file that is (or lies under) a symbolic link resolving outside the artifact folder.

    Such a link would make a load read, and a push upload, an arbitrary file of the machine (``../../.ssh/id_rsa``).
    Links inside the folder, and a Hub cache snapshot's links into its own ``blobs/``, are fine.

    Raises:
        ArtifactError: Naming the file, where it points and what to do.
    """
    folder = Path(folder)
    roots = _allowed_roots(folder)
    for name in manifest.files:
        path = folder / name
        target = path.resolve()
        if not any(target == root or target.is_relative_to(root) for root in roots):
            raise ArtifactError(
                f"{path} is a symbolic link to {target}, outside the artifact folder {folder}: refused (a data file "
                f"must lie inside the folder). Replace the link by a copy of the file, or download or copy the "
                "artifact again"
            )


def verify_files(folder: str | os.PathLike, manifest: Manifest) -> None:
    """Check that every file the manifest lists lies inside the folder and has the recorded size and sha256."""
    folder = Path(folder)
    check_links(folder, manifest)
    for name, entry in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in {MANIFEST_NAME} but missing: the artifact is incomplete")
        size = path.stat().st_size
        if size != entry.size:
            raise ChecksumError(
                f"{path}: size {size} bytes, but {MANIFEST_NAME} records {entry.size} (truncated or replaced?); "
                + _AGAIN
            )
        digest = sha256_file(path)
        if digest != entry.sha256:
            raise ChecksumError(
                f"{path}: sha256 {digest} does not match {MANIFEST_NAME} ({entry.sha256}); the file is corrupt or "
                "was modified; " + _AGAIN
            )


def read_artifact(folder: str | os.PathLike, *, verify: bool = True) -> Manifest:
    """Read the manifest and, unless ``verify`` is false, check every listed file's size and sha256.

    Listed files that are links outside the folder are refused either way (:func:`check_links`).
    """
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest)
    else:
        check_links(folder, manifest)
    return manifest
