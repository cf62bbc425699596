"""The registry: workspaces, API keys, model versions, stored workflows, and artifact storage."""

from visionflow.store.artifacts import ArtifactStore
from visionflow.store.bucket import S3Bucket
from visionflow.store.changes import Change, ChangeListener
from visionflow.store.database import Database
from visionflow.store.records import (
    ApiKeyRecord,
    ModelVersionRecord,
    StoredWorkflowRecord,
    StoredWorkflowSummary,
    WorkspaceRecord,
)
from visionflow.store.registry import Registry

__all__ = [
    "ApiKeyRecord",
    "ArtifactStore",
    "Change",
    "ChangeListener",
    "Database",
    "ModelVersionRecord",
    "Registry",
    "S3Bucket",
    "StoredWorkflowRecord",
    "StoredWorkflowSummary",
    "WorkspaceRecord",
]
