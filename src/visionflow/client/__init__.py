"""The visionflow Python SDK. Depends on httpx only (numpy, Pillow and OpenCV are used when the
caller passes such images); it never imports the server's layers."""

from visionflow.client._client import InferenceHTTPClient
from visionflow.errors import (
    ApiKeyRequiredError,
    ImageDecodeError,
    InvalidApiKeyError,
    InvalidInputError,
    ModelNotFoundError,
    PayloadTooLargeError,
    VisionflowError,
)

__all__ = [
    "ApiKeyRequiredError",
    "ImageDecodeError",
    "InferenceHTTPClient",
    "InvalidApiKeyError",
    "InvalidInputError",
    "ModelNotFoundError",
    "PayloadTooLargeError",
    "VisionflowError",
]
