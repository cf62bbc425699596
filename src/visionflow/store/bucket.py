"""Artifacts on an S3-compatible bucket (boto3): the copy every replica shares.

Objects are content-addressed like the local folder (``<prefix>/sha256/<aa>/<digest>``), so an
object is written once and never changes: a replica may cache it forever once its bytes hash to
the digest. Faults of the bucket's server (unreachable, timeouts, throttling, 5xx) are
``ArtifactStorageUnavailableError`` (503 with ``Retry-After``); a missing object is ``None``.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from visionflow.errors import ArtifactStorageUnavailableError

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["S3Bucket", "s3_client"]

_RETRY_AFTER_S = 5.0


class S3Bucket:
    """``s3://bucket/prefix`` through one boto3 client (thread-safe)."""

    def __init__(
        self,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(
                f"VISIONFLOW_ARTIFACTS_URL {url!r} names no bucket (s3://bucket[/prefix])"
            )
        self.url = url
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._client: S3Client = s3_client(
            endpoint_url=endpoint_url,
            region=region,
            timeout_s=timeout_s,
            needed_by="VISIONFLOW_ARTIFACTS_URL names an S3 bucket",
        )

    def key_for(self, digest: str) -> str:
        relative = f"sha256/{digest[:2]}/{digest}"
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def has(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=self.key_for(digest))
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise self._unavailable(exc) from None
        except Exception as exc:
            raise self._unavailable(exc) from None
        return True

    def upload(self, digest: str, source: Path) -> None:
        """Store ``source`` as the object of ``digest`` unless the bucket already has it."""
        if self.has(digest):
            return
        try:
            self._client.upload_file(str(source), self.bucket, self.key_for(digest))
        except Exception as exc:
            raise self._unavailable(exc) from None

    def download(self, digest: str, target: IO[bytes]) -> bool:
        """Write the object of ``digest`` into ``target``; ``False`` when the bucket lacks it."""
        from botocore.exceptions import ClientError

        try:
            self._client.download_fileobj(self.bucket, self.key_for(digest), target)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise self._unavailable(exc) from None
        except Exception as exc:
            raise self._unavailable(exc) from None
        return True

    def _unavailable(self, exc: BaseException) -> ArtifactStorageUnavailableError:
        return ArtifactStorageUnavailableError(
            f"The artifact bucket {self.url} is unavailable ({type(exc).__name__}); retry "
            "shortly. Requests to it wait up to VISIONFLOW_S3_TIMEOUT_S.",
            retry_after_s=_RETRY_AFTER_S,
        )


def s3_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    timeout_s: float,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    retries: int = 3,
    needed_by: str = "the s3_sink workflow block uploads to S3",
) -> S3Client:
    """A boto3 S3 client (the one place boto3 is imported); credentials from boto3's usual
    chain unless given; ``retries`` after the first attempt of a call. ``needed_by`` says in the
    missing-boto3 error what asked for it."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ValueError(
            f"{needed_by} but boto3 is not installed: pip install -e '.[s3]'"
        ) from None
    client: S3Client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            # ``total_max_attempts`` counts the first try (``max_attempts`` does not, in
            # botocore's standard mode it means retries)
            retries={"total_max_attempts": retries + 1, "mode": "standard"},
        ),
    )
    return client


def _status(exc: Any) -> int | None:
    response = getattr(exc, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    if code in ("404", "NoSuchKey", "NotFound"):
        return 404
    return int(status) if status is not None else None
