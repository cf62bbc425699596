"""The registry's typed records: what ``Registry`` answers, built from its rows (no session
or SQL here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from visionflow.store.schema import ApiKey, ModelVersion, Workspace

__all__ = [
    "ApiKeyRecord",
    "ModelVersionRecord",
    "StoredWorkflowRecord",
    "StoredWorkflowSummary",
    "WorkspaceContents",
    "WorkspaceRecord",
    "key_record",
    "model_record",
    "workspace_record",
]


@dataclass(frozen=True)
class WorkspaceRecord:
    id: int
    name: str
    created_at: datetime


@dataclass(frozen=True)
class WorkspaceContents:
    api_keys: int
    model_versions: int
    workflow_versions: int

    @property
    def total(self) -> int:
        return self.api_keys + self.model_versions + self.workflow_versions

    def describe(self) -> str:
        parts = [
            f"{count} {noun}"
            for count, noun in (
                (self.api_keys, "API key(s)"),
                (self.model_versions, "model version(s)"),
                (self.workflow_versions, "stored workflow version(s)"),
            )
            if count
        ]
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    workspace: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    role: str = "admin"
    expires_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))


@dataclass(frozen=True)
class ModelVersionRecord:
    workspace: str
    project: str
    version: int
    task: str
    architecture: str
    package_sha256: str
    created_at: datetime

    @property
    def model_id(self) -> str:
        return f"{self.project}/{self.version}"


@dataclass(frozen=True)
class StoredWorkflowRecord:
    """One version of a stored workflow definition (versions count up from 1 per name)."""

    workspace: str
    name: str
    version: int
    definition: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class StoredWorkflowSummary:
    """A stored workflow: its latest version, when version 1 and the latest were stored."""

    workspace: str
    name: str
    latest_version: int
    created_at: datetime
    updated_at: datetime


def workspace_record(row: Workspace) -> WorkspaceRecord:
    return WorkspaceRecord(id=row.id, name=row.name, created_at=row.created_at)


def key_record(row: ApiKey, workspace: str) -> ApiKeyRecord:
    return ApiKeyRecord(
        row.id,
        workspace,
        row.name,
        row.prefix,
        row.created_at,
        row.revoked_at,
        row.role,
        row.expires_at,
    )


def model_record(row: ModelVersion, workspace: str) -> ModelVersionRecord:
    return ModelVersionRecord(
        workspace=workspace,
        project=row.project,
        version=row.version,
        task=row.task,
        architecture=row.architecture,
        package_sha256=row.package_sha256,
        created_at=row.created_at,
    )
