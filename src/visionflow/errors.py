"""Errors that carry their own HTTP semantics.

Every error has an HTTP ``status_code`` and a stable ``code``; the HTTP layer has one handler that
writes ``{"message": ..., "error_type": code}`` and the SDK maps ``error_type`` back to these
classes.
This module has no dependencies so that both the server and the SDK can import it.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ApiKeyRequiredError",
    "ArtifactStorageUnavailableError",
    "ConflictError",
    "ForbiddenError",
    "ImageDecodeError",
    "ImageFetchError",
    "ImageTooLargeError",
    "InvalidApiKeyError",
    "InvalidInputError",
    "InvalidModelIdError",
    "InvalidModelPackageError",
    "ModelIntegrityError",
    "ModelLoadError",
    "ModelNotFoundError",
    "NotFoundError",
    "OverloadedError",
    "PayloadTooLargeError",
    "RateLimitedError",
    "RegistryUnavailableError",
    "RunTimeoutError",
    "ServiceUnavailableError",
    "UrlNotAllowedError",
    "VisionflowError",
    "WorkspaceNotFoundError",
    "error_class_for_code",
]


class VisionflowError(Exception):
    """Base of every error the server reports; ``status_code`` and ``code`` travel on the wire."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        # Seconds after which a retry may succeed: sent as the ``Retry-After`` header (429, 503).
        self.retry_after_s = retry_after_s
        # The status a server actually answered with (the SDK sets it; equals the class default
        # on the server side).
        self.http_status = self.status_code

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "error_type": self.code}
        body.update(self.details)
        return body


class InvalidInputError(VisionflowError):
    status_code = 400
    code = "invalid_input"


class ImageDecodeError(InvalidInputError):
    code = "image_decode_error"


class ImageFetchError(InvalidInputError):
    code = "image_fetch_error"


class UrlNotAllowedError(InvalidInputError):
    code = "url_not_allowed"


class InvalidModelIdError(InvalidInputError):
    code = "invalid_model_id"


class InvalidModelPackageError(InvalidInputError):
    code = "invalid_model_package"


class PayloadTooLargeError(VisionflowError):
    status_code = 413
    code = "payload_too_large"


class ImageTooLargeError(PayloadTooLargeError):
    code = "image_too_large"


class ApiKeyRequiredError(VisionflowError):
    status_code = 401
    code = "api_key_required"


class InvalidApiKeyError(VisionflowError):
    status_code = 401
    code = "invalid_api_key"


class ForbiddenError(VisionflowError):
    """A valid key whose role does not allow the operation."""

    status_code = 403
    code = "forbidden"


class RunTimeoutError(VisionflowError):
    """A request's own work (e.g. a workflow run) went past its wall-clock budget."""

    status_code = 408
    code = "run_timeout"


class RateLimitedError(VisionflowError):
    status_code = 429
    code = "rate_limited"


class NotFoundError(VisionflowError):
    status_code = 404
    code = "not_found"


class ModelNotFoundError(NotFoundError):
    code = "model_not_found"


class WorkspaceNotFoundError(NotFoundError):
    code = "workspace_not_found"


class ConflictError(VisionflowError):
    status_code = 409
    code = "conflict"


class ModelLoadError(VisionflowError):
    status_code = 500
    code = "model_load_error"


class ServiceUnavailableError(VisionflowError):
    status_code = 503
    code = "service_unavailable"


class OverloadedError(ServiceUnavailableError):
    """The server is serving as many requests as it admits at once."""

    code = "server_busy"


class RegistryUnavailableError(ServiceUnavailableError):
    """The registry database is locked, unreachable or read-only; a retry may succeed."""

    code = "registry_unavailable"


class ArtifactStorageUnavailableError(ServiceUnavailableError):
    """The shared artifact bucket cannot be reached or answers with a fault; a retry may succeed."""

    code = "artifact_storage_unavailable"


class ModelIntegrityError(ServiceUnavailableError):
    """A model's stored weights do not match the sha256 its package pins."""

    code = "model_integrity_error"


def _all_subclasses(cls: type[VisionflowError]) -> list[type[VisionflowError]]:
    found: list[type[VisionflowError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class_for_code(code: str | None, status_code: int) -> type[VisionflowError]:
    """The most specific error class for a wire ``error_type`` (falls back on the HTTP status)."""
    candidates: list[type[VisionflowError]] = [VisionflowError, *_all_subclasses(VisionflowError)]
    for cls in candidates:
        if cls.code == code:
            return cls
    for cls in _all_subclasses(VisionflowError):
        if cls.status_code == status_code and cls.__base__ is VisionflowError:
            return cls
    return VisionflowError
