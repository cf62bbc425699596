"""A model package: a manifest plus the weight files it names, each verified by sha256."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from visionflow.errors import InvalidModelPackageError
from visionflow.models.manifest import MANIFEST_FILE, ModelManifest

__all__ = ["ModelPackage", "sha256_file"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelPackage:
    """``manifest`` and, for each weight key, the local file that holds it."""

    manifest: ModelManifest
    files: dict[str, Path]

    @property
    def checksum(self) -> str:
        """sha256 of the canonical manifest, which itself pins every weight file by sha256."""
        return hashlib.sha256(self.manifest.to_json_bytes()).hexdigest()

    def weight_path(self, key: str = "model") -> Path:
        try:
            return self.files[key]
        except KeyError:
            raise InvalidModelPackageError(f"package has no weight file {key!r}") from None

    def verify(self) -> None:
        """Check that every weight file exists and matches the sha256 in the manifest."""
        for key, entry in self.manifest.weights.items():
            path = self.files.get(key)
            if path is None or not path.is_file():
                raise InvalidModelPackageError(f"weight file {entry.file!r} ({key}) is missing")
            actual = sha256_file(path)
            if actual != entry.sha256:
                raise InvalidModelPackageError(
                    f"weight file {entry.file!r} has sha256 {actual}, manifest says {entry.sha256}"
                )

    @classmethod
    def from_folder(cls, folder: Path) -> ModelPackage:
        manifest_path = folder / MANIFEST_FILE
        if not manifest_path.is_file():
            raise InvalidModelPackageError(f"{folder} has no {MANIFEST_FILE}")
        manifest = ModelManifest.read(manifest_path)
        files = {key: folder / entry.file for key, entry in manifest.weights.items()}
        package = cls(manifest=manifest, files=files)
        package.verify()
        return package

    def write_folder(self, folder: Path) -> None:
        """Write ``model.json`` and copies of the weight files into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for key, entry in self.manifest.weights.items():
            shutil.copyfile(self.files[key], folder / entry.file)
        (folder / MANIFEST_FILE).write_bytes(self.manifest.to_json_bytes())
