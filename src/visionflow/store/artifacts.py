"""Content-addressed artifact storage: a file lives at ``<root>/sha256/<aa>/<digest>``.

Writes go to a ``.tmp-*`` file beside the target, held under an exclusive ``flock`` while it is
written, then renamed over the target. A writer killed half-way (``kill -9``) leaves its temp file
behind but not its lock (the kernel drops locks with the process), so ``remove_orphans`` can tell
an abandoned temp file from one another process is still writing.

With a bucket (``S3Bucket``, ``VISIONFLOW_ARTIFACTS_URL``) the folder is a local cache of it:
every file added is uploaded (unless the bucket has it), and a file missing here, or whose bytes
no longer hash to its digest, is downloaded, verified and renamed into place when it is asked
for. Content addressing makes the cache never stale: a digest's bytes never change.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from visionflow.store.bucket import S3Bucket

__all__ = ["ArtifactStore"]

_CHUNK = 1 << 20
_TEMP_PREFIX = ".tmp-"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _NotFetchedError(Exception):
    """The bucket lacks the object, or its bytes do not hash to their digest."""


class ArtifactStore:
    """Adding the same content twice stores it once; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path, bucket: S3Bucket | None = None) -> None:
        self.root = root
        self.bucket = bucket

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a sha256 hex digest: {digest!r}")
        return self.root / "sha256" / digest[:2] / digest

    def has(self, digest: str) -> bool:
        if self.path_for(digest).is_file():
            return True
        return self.bucket is not None and self.bucket.has(digest)

    def intact(self, digest: str) -> bool:
        """Whether the stored file exists and its content still hashes to ``digest`` (fetched
        from the bucket first when the local copy is missing or rotted)."""
        path = self.path_for(digest)
        if path.is_file() and _sha256_of(path) == digest:
            return True
        return self._fetch(digest)

    def local_path(self, digest: str) -> Path:
        """The local file of ``digest``, fetched from the bucket if it is not here."""
        path = self.path_for(digest)
        if not path.is_file():
            self._fetch(digest)
        return path

    def _fetch(self, digest: str) -> bool:
        """Download ``digest`` from the bucket into place if its bytes verify."""
        if self.bucket is None:
            return False
        bucket = self.bucket

        def download(handle: IO[bytes]) -> None:
            if not bucket.download(digest, handle):
                raise _NotFetchedError
            handle.flush()
            if _sha256_of(Path(handle.name)) != digest:
                raise _NotFetchedError

        try:
            self._write_atomic(self.path_for(digest), download)
        except _NotFetchedError:
            return False
        return True

    def add_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path_for(digest)
        # A stored copy whose bytes rotted is replaced, so re-adding a model repairs it.
        if not target.is_file() or target.read_bytes() != data:
            self._write_atomic(target, lambda handle: handle.write(data))
        self._upload(digest)
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
        if not self.intact(hexdigest):

            def copy(handle: IO[bytes]) -> None:
                with source.open("rb") as src:
                    shutil.copyfileobj(src, handle, _CHUNK)

            self._write_atomic(target, copy)
        self._upload(hexdigest)
        return hexdigest

    def _upload(self, digest: str) -> None:
        if self.bucket is not None:
            self.bucket.upload(digest, self.path_for(digest))

    def read_bytes(self, digest: str) -> bytes:
        return self.local_path(digest).read_bytes()

    def remove_orphans(self, min_age_s: float = 2.0) -> list[Path]:
        """Delete temp files left by writers that died; returns what was removed.

        Files younger than ``min_age_s`` are left alone: a writer locks its file just after
        creating it.
        """
        removed: list[Path] = []
        now = time.time()
        for temp in sorted((self.root / "sha256").glob(f"*/{_TEMP_PREFIX}*")):
            try:
                if now - temp.stat().st_mtime < min_age_s:
                    continue
                with temp.open("rb") as handle:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    temp.unlink()
            except BlockingIOError:  # a live writer holds it
                continue
            except FileNotFoundError:  # its writer finished meanwhile
                continue
            removed.append(temp)
        return removed

    def _write_atomic(self, target: Path, write: Callable[[IO[bytes]], object]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            dir=target.parent, delete=False, prefix=_TEMP_PREFIX
        ) as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                write(handle)
                handle.flush()
                os.fsync(handle.fileno())
                os.replace(handle.name, target)
            except BaseException:
                Path(handle.name).unlink(missing_ok=True)
                raise
