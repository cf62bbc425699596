from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from visionflow.store import ArtifactStore

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"hello", id="small"),
        pytest.param(bytes(range(256)) * 5000, id="binary-1.2MB"),
    ],
)
def test_add_bytes(tmp_path: Path, data: bytes) -> None:
    store = ArtifactStore(tmp_path / "artifacts")

    digest = store.add_bytes(data)

    assert digest == hashlib.sha256(data).hexdigest()
    assert store.path_for(digest) == tmp_path / "artifacts" / "sha256" / digest[:2] / digest
    assert _files(tmp_path / "artifacts") == [store.path_for(digest)]
    assert store.read_bytes(digest) == data
    assert store.has(digest)


def test_empty_bytes_digest(tmp_path: Path) -> None:
    assert ArtifactStore(tmp_path).add_bytes(b"") == EMPTY_SHA256


@pytest.mark.parametrize(
    "contents",
    [
        pytest.param([], id="nothing"),
        pytest.param([b"a"], id="one"),
        pytest.param([b"a", b"a"], id="same-twice"),
        pytest.param([b"a", b"b", b"a", b"b", b"a"], id="two-distinct-repeated"),
    ],
)
def test_same_content_is_stored_once(tmp_path: Path, contents: list[bytes]) -> None:
    store = ArtifactStore(tmp_path / "artifacts")

    digests = [store.add_bytes(data) for data in contents]

    assert len(_files(tmp_path)) == len(set(contents))
    assert len(set(digests)) == len(set(contents))


def test_add_file_and_bytes_share_storage(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "weights.onnx"
    source.write_bytes(b"model bytes")

    from_file = store.add_file(source)
    from_bytes = store.add_bytes(b"model bytes")
    again = store.add_file(source)

    assert from_file == from_bytes == again == hashlib.sha256(b"model bytes").hexdigest()
    assert _files(tmp_path / "artifacts") == [store.path_for(from_file)]
    assert source.read_bytes() == b"model bytes"  # the source is copied, not moved


@pytest.mark.parametrize(
    ("size", "calls"),
    [
        pytest.param(0, 0, id="empty"),
        pytest.param(1, 1, id="one-byte"),
        pytest.param(1 << 20, 1, id="one-chunk"),
        pytest.param((5 << 19) + 3, 3, id="two-and-a-half-chunks"),
    ],
)
def test_add_file_reports_progress(tmp_path: Path, size: int, calls: int) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "blob.bin"
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    source.write_bytes(data)
    progress: list[int] = []

    digest = store.add_file(source, progress=progress.append)

    assert sum(progress) == size
    assert len(progress) == calls
    assert all(n > 0 for n in progress)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.read_bytes(digest) == data


def test_add_file_missing_source(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")

    with pytest.raises(FileNotFoundError):
        store.add_file(tmp_path / "missing.bin")

    assert _files(tmp_path) == []


def test_no_temporary_files_left_behind(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "src.bin"
    source.write_bytes(b"x" * 1000)

    store.add_bytes(b"one")
    store.add_file(source)

    assert not [p for p in _files(tmp_path / "artifacts") if p.name.startswith(".tmp")]


@pytest.mark.parametrize(
    "digest",
    [
        pytest.param("", id="empty"),
        pytest.param("abc", id="short"),
        pytest.param("a" * 63, id="63-chars"),
        pytest.param("a" * 65, id="65-chars"),
        pytest.param("A" * 64, id="uppercase"),
        pytest.param("g" * 64, id="not-hex"),
        pytest.param("../" + "a" * 61, id="path-escape"),
        pytest.param(" " + "a" * 63, id="leading-space"),
    ],
)
def test_invalid_digest_rejected(tmp_path: Path, digest: str) -> None:
    store = ArtifactStore(tmp_path)

    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.path_for(digest)
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.has(digest)
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.read_bytes(digest)


def test_has_and_read_unknown_digest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)

    assert store.has(EMPTY_SHA256) is False
    with pytest.raises(FileNotFoundError):
        store.read_bytes(EMPTY_SHA256)


_SLOW_WRITER = """
import shutil, sys, time
from pathlib import Path
from visionflow.store import ArtifactStore

def slow_copy(src, dst, length=0):
    # Write a little, then stall: the writer is caught (and killed) mid-copy.
    dst.write(src.read(1024))
    dst.flush()
    print("writing", flush=True)
    time.sleep(60)

shutil.copyfileobj = slow_copy
ArtifactStore(Path(sys.argv[1])).add_file(Path(sys.argv[2]))
"""


def _start_writer(root: Path, source: Path) -> subprocess.Popen[str]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(root), str(source)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "writing"
    return writer


def test_orphans_of_a_killed_writer_are_removed_live_writers_kept(tmp_path: Path) -> None:
    root = tmp_path / "artifacts"
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 4096)
    killed = _start_writer(root, source)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    killed.communicate()
    live = _start_writer(root, source)
    try:
        temps = sorted(root.glob("sha256/*/.tmp-*"))
        assert len(temps) == 2
        removed = ArtifactStore(root).remove_orphans(min_age_s=0)
        assert len(removed) == 1
        assert sorted(root.glob("sha256/*/.tmp-*")) == [t for t in temps if t not in removed]
        assert ArtifactStore(root).remove_orphans(min_age_s=0) == []
        # A young temp file is left alone whatever its lock (its writer may be about to lock it).
        assert ArtifactStore(root).remove_orphans() == []
    finally:
        live.kill()
        live.communicate()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    assert not ArtifactStore(root).has(digest)


def test_a_corrupt_stored_copy_is_replaced_when_added_again(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    source = tmp_path / "weights.bin"
    source.write_bytes(b"weights" * 1000)
    digest = store.add_file(source)
    stored = store.path_for(digest)
    stored.write_bytes(b"rotten" + stored.read_bytes()[6:])
    assert not store.intact(digest)
    assert store.add_file(source) == digest
    assert store.intact(digest)
    blob = store.add_bytes(b"manifest")
    store.path_for(blob).write_bytes(b"Manifest")
    store.add_bytes(b"manifest")
    assert store.intact(blob)
