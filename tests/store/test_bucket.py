"""Artifacts on a real S3-compatible server (moto in server mode on loopback): uploaded once,
fetched and verified by another replica's local cache, rotted copies replaced, a fault of the
bucket's server a 503 with Retry-After."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.s3 import S3Server, s3_server
from visionflow.errors import ArtifactStorageUnavailableError
from visionflow.store import ArtifactStore, S3Bucket

BUCKET = "visionflow-artifacts"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    with s3_server(monkeypatch) as server:
        server.create_bucket(BUCKET)
        yield server


def _bucket(s3: S3Server, prefix: str = "prod") -> S3Bucket:
    return S3Bucket(f"s3://{BUCKET}/{prefix}", endpoint_url=s3.endpoint_url, timeout_s=2)


def _keys(s3: S3Server) -> list[str]:
    client: Any = s3.client()
    listed = client.list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_a_file_added_on_one_replica_is_fetched_and_verified_by_another(
    s3: S3Server, tmp_path: Path
) -> None:
    writer = ArtifactStore(tmp_path / "a", _bucket(s3))
    reader = ArtifactStore(tmp_path / "b", _bucket(s3))
    data = bytes(range(256)) * 4096  # 1 MiB
    source = tmp_path / "weights.onnx"
    source.write_bytes(data)
    digest = writer.add_file(source)
    assert _keys(s3) == [f"prod/sha256/{digest[:2]}/{digest}"]
    assert not reader.path_for(digest).exists()
    assert reader.has(digest)
    assert reader.intact(digest)
    assert reader.path_for(digest).read_bytes() == data
    manifest = writer.add_bytes(b'{"task": "object-detection"}')
    assert reader.read_bytes(manifest) == b'{"task": "object-detection"}'
    assert reader.local_path(manifest).is_file()
    # Adding the same content again uploads nothing new.
    writer.add_file(source)
    assert len(_keys(s3)) == 2


def test_a_rotted_local_copy_is_fetched_again(s3: S3Server, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a", _bucket(s3))
    digest = store.add_bytes(b"weights" * 1000)
    path = store.path_for(digest)
    path.write_bytes(b"rotted" * 1000)
    assert store.intact(digest)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_a_rotted_object_in_the_bucket_is_not_served(s3: S3Server, tmp_path: Path) -> None:
    writer = ArtifactStore(tmp_path / "a", _bucket(s3))
    digest = writer.add_bytes(b"good bytes")
    client: Any = s3.client()
    client.put_object(Bucket=BUCKET, Key=f"prod/sha256/{digest[:2]}/{digest}", Body=b"bad bytes")
    reader = ArtifactStore(tmp_path / "b", _bucket(s3))
    assert not reader.intact(digest)
    assert not reader.path_for(digest).exists()  # the bad download was not kept
    assert list((tmp_path / "b").rglob(".tmp-*")) == []


def test_an_object_the_bucket_lacks_is_missing(s3: S3Server, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a", _bucket(s3, prefix=""))
    digest = hashlib.sha256(b"never stored").hexdigest()
    assert not store.has(digest)
    assert not store.intact(digest)
    assert not store.local_path(digest).exists()


def test_an_unreachable_bucket_is_503_with_retry_after(s3: S3Server, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a", _bucket(s3))
    digest = store.add_bytes(b"stored while up")
    s3.server.stop()
    fresh = ArtifactStore(tmp_path / "b", _bucket(s3))
    with pytest.raises(ArtifactStorageUnavailableError) as raised:
        fresh.intact(digest)
    assert raised.value.status_code == 503
    assert raised.value.retry_after_s
    assert "VISIONFLOW_S3_TIMEOUT_S" in raised.value.message
    # What is cached locally is still served.
    assert store.intact(digest)
    s3.server.start()  # for the fixture's stop


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("s3:///prefix", "names no bucket", id="no-bucket"),
    ],
)
def test_bad_bucket_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        S3Bucket(url)
