"""A real S3-compatible server for tests: moto in server mode on loopback (HTTP, no AWS)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.support.server import free_port

__all__ = ["S3Server", "s3_server"]

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "visionflow-test",
    "AWS_SECRET_ACCESS_KEY": "visionflow-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    server: ThreadedMotoServer

    def create_bucket(self, name: str) -> None:
        client = boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")
        client.create_bucket(Bucket=name)

    def client(self) -> object:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1")


@contextmanager
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3Server]:
    """moto's S3 on 127.0.0.1 with test credentials in the environment; stopped after."""
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}", server)
    finally:
        server.stop()
