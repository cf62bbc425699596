"""Content-addressed artifact storage: a file lives at ``<root>/sha256/<aa>/<digest>``."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["ArtifactStore"]

_CHUNK = 1 << 20


class ArtifactStore:
    """Adding the same content twice stores it once; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / "sha256" / digest[:2] / digest

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def add_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        if not target.is_file():
            self._write_atomic(target, lambda handle: handle.write(data))
        return digest

    def add_file(self, source: Path, progress: Callable[[int], object] | None = None) -> str:
        """Store a file's content; ``progress`` is called with byte counts as it is hashed."""
        digest = hashlib.sha256()
        with source.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                if progress is not None:
                    progress(len(chunk))
        hexdigest = digest.hexdigest()
        target = self.path_for(hexdigest)
        if not target.is_file():

            def copy(handle: IO[bytes]) -> None:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, handle, _CHUNK)

            self._write_atomic(target, copy)
        return hexdigest

    def read_bytes(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()

    def _write_atomic(self, target: Path, write: Callable[[IO[bytes]], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, prefix=".tmp-") as handle:
            try:
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
            except BaseException:
                os.unlink(handle.name)
                raise
        os.replace(handle.name, target)
