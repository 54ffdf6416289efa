"""Loading wing: the artifact, one folder with one manifest.

* :mod:`.manifest`: :class:`Manifest`, typed and strict (unknown keys rejected, errors name the field).
* :mod:`.folder`: atomic writes, checksums, reading and verifying a folder.
* :mod:`.card`: the dataset card (YAML metadata, evaluation table) and the preview grid.

>>> from condensed_data.artifact import Manifest, read_artifact, save_artifact
"""

from condensed_data.artifact.folder import (
    ArtifactError,
    ChecksumError,
    read_artifact,
    read_manifest,
    save_artifact,
    sha256_file,
    verify_files,
    write_folder_atomically,
    write_manifest,
)
from condensed_data.artifact.manifest import (
    KINDS,
    MANIFEST_NAME,
    Evaluation,
    FileEntry,
    Manifest,
    ManifestError,
    MethodSpec,
    Provenance,
    Recipe,
    SourceInfo,
    ValueSpace,
)

__all__ = [
    "KINDS",
    "MANIFEST_NAME",
    "ArtifactError",
    "ChecksumError",
    "Evaluation",
    "FileEntry",
    "Manifest",
    "ManifestError",
    "MethodSpec",
    "Provenance",
    "Recipe",
    "SourceInfo",
    "ValueSpace",
    "read_artifact",
    "read_manifest",
    "save_artifact",
    "sha256_file",
    "verify_files",
    "write_folder_atomically",
    "write_manifest",
]
