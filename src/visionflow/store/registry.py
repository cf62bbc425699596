"""Registry operations on workspaces, API keys and model versions (HTTP-agnostic, typed records)."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from visionflow.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    WorkspaceNotFoundError,
)
from visionflow.store.changes import Change, announce
from visionflow.store.database import Database
from visionflow.store.lookups import LookupCache
from visionflow.store.records import (
    ApiKeyRecord,
    ModelVersionRecord,
    StoredWorkflowRecord,
    StoredWorkflowSummary,
    WorkspaceContents,
    WorkspaceRecord,
    key_record,
    model_record,
    workspace_record,
)
from visionflow.store.schema import ApiKey, ModelVersion, StoredWorkflow, Workspace, utcnow

__all__ = ["KEY_ROLES", "Registry", "hash_api_key"]

_WORKSPACE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_WORKFLOW_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
KEY_PREFIX = "vf_"
# What a key may do: "admin" manages models, workflows and keys of its workspace and infers;
# "infer" runs inference and workflows only.
KEY_ROLES = ("admin", "infer")


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_WORKSPACE_CHILDREN: tuple[type[ApiKey] | type[ModelVersion] | type[StoredWorkflow], ...] = (
    ApiKey,
    ModelVersion,
    StoredWorkflow,
)


def _contents(session: Session, workspace_id: int) -> WorkspaceContents:
    counts = [
        session.scalar(
            select(func.count()).select_from(table).where(table.workspace_id == workspace_id)
        )
        or 0
        for table in _WORKSPACE_CHILDREN
    ]
    return WorkspaceContents(*counts)


def validate_workspace_name(name: str) -> str:
    if not _WORKSPACE_NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid workspace name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def validate_project_name(name: str) -> str:
    if not _PROJECT_NAME.fullmatch(name):
        raise InvalidInputError(
            f"invalid project name {name!r}: use 1-128 letters, digits, '.', '-' or '_'"
        )
    return name


class Registry:
    """Reads and writes the registry tables; every method runs in its own transaction.

    ``find_model_version_in`` (each inference's lookup) remembers what it found for
    ``lookup_ttl_s`` seconds (``store.lookups``); this registry's own writes of model versions
    and workspaces forget it at once, other processes' through ``forget_lookups``."""

    def __init__(self, database: Database, *, lookup_ttl_s: float = 0.0) -> None:
        self.database = database
        self._lookups: LookupCache[ModelVersionRecord] = LookupCache(lookup_ttl_s)

    def forget_lookups(self) -> None:
        """Drop every remembered lookup (a change made elsewhere, or notices missed)."""
        self._lookups.clear()

    # -- workspaces -------------------------------------------------------------------------
    def create_workspace(self, name: str) -> WorkspaceRecord:
        validate_workspace_name(name)
        try:
            with self.database.session() as session:
                row = Workspace(name=name, created_at=utcnow())
                session.add(row)
                session.flush()
                return workspace_record(row)
        except IntegrityError:
            raise ConflictError(f"workspace {name!r} already exists") from None

    def ensure_workspace(self, name: str) -> WorkspaceRecord:
        found = self.find_workspace(name)
        if found is not None:
            return found
        try:
            return self.create_workspace(name)
        except ConflictError:  # created concurrently by another process
            return self.get_workspace(name)

    def find_workspace(self, name: str) -> WorkspaceRecord | None:
        with self.database.session() as session:
            row = session.scalar(select(Workspace).where(Workspace.name == name))
            return workspace_record(row) if row else None

    def get_workspace(self, name: str) -> WorkspaceRecord:
        found = self.find_workspace(name)
        if found is None:
            raise WorkspaceNotFoundError(f"workspace {name!r} does not exist")
        return found

    def list_workspaces(self) -> list[WorkspaceRecord]:
        with self.database.session() as session:
            rows = session.scalars(select(Workspace).order_by(Workspace.name))
            return [workspace_record(r) for r in rows]

    def workspace_contents(self, name: str) -> WorkspaceContents:
        """How many keys, model versions and stored workflow versions ``name`` holds."""
        with self.database.session() as session:
            row = session.scalar(select(Workspace).where(Workspace.name == name))
            if row is None:
                raise WorkspaceNotFoundError(f"workspace {name!r} does not exist")
            return _contents(session, row.id)

    def delete_workspace(self, name: str, *, force: bool = False) -> WorkspaceContents:
        """Delete workspace ``name``; one that still holds keys, models or workflows only with
        ``force`` (they go with it). Returns what was deleted with it. Weight files stay in the
        artifact store (other versions may share them)."""
        with self.database.session() as session:
            row = session.scalar(select(Workspace).where(Workspace.name == name))
            if row is None:
                raise WorkspaceNotFoundError(f"workspace {name!r} does not exist")
            contents = _contents(session, row.id)
            if contents.total and not force:
                raise ConflictError(
                    f"workspace {name!r} still holds {contents.describe()}; delete those first "
                    "or pass --force to delete them with it"
                )
            for table in _WORKSPACE_CHILDREN:
                for child in session.scalars(select(table).where(table.workspace_id == row.id)):
                    session.delete(child)
            session.delete(row)
            # Other processes drop their cached workflows and lookups of it when this commits.
            announce(session, Change("workspace", name, ""))
        self._lookups.clear()
        return contents

    # -- API keys ---------------------------------------------------------------------------
    def create_api_key(
        self,
        workspace: str,
        name: str = "",
        *,
        role: str = "admin",
        expires_at: datetime | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """A new key for ``workspace``; the plaintext is returned once and never stored."""
        if role not in KEY_ROLES:
            raise InvalidInputError(f"unknown key role {role!r}: use one of {', '.join(KEY_ROLES)}")
        if expires_at is not None and expires_at.tzinfo is None:
            raise InvalidInputError("a key's expiry must be a timezone-aware time")
        ws = self.get_workspace(workspace)
        plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.database.session() as session:
            row = ApiKey(
                workspace_id=ws.id,
                name=name,
                prefix=plaintext[:10],
                key_hash=hash_api_key(plaintext),
                created_at=utcnow(),
                role=role,
                expires_at=expires_at,
            )
            session.add(row)
            session.flush()
            record = key_record(row, ws.name)
        return record, plaintext

    def list_api_keys(self, workspace: str | None = None) -> list[ApiKeyRecord]:
        with self.database.session() as session:
            query = select(ApiKey, Workspace.name).join(Workspace).order_by(ApiKey.id)
            if workspace is not None:
                query = query.where(Workspace.name == workspace)
            return [key_record(k, ws) for k, ws in session.execute(query)]

    def revoke_api_key(self, key_id: int) -> ApiKeyRecord:
        with self.database.session() as session:
            row = session.get(ApiKey, key_id)
            if row is None:
                raise NotFoundError(f"API key #{key_id} does not exist")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            ws = session.get(Workspace, row.workspace_id)
            assert ws is not None
            return key_record(row, ws.name)

    def find_key(self, plaintext: str) -> ApiKeyRecord | None:
        """The record of a key by its plaintext (revoked and expired ones included)."""
        with self.database.session() as session:
            found = session.execute(
                select(ApiKey, Workspace.name)
                .join(Workspace)
                .where(ApiKey.key_hash == hash_api_key(plaintext))
            ).one_or_none()
            return key_record(*found) if found else None

    def workspace_for_key(self, plaintext: str) -> WorkspaceRecord | None:
        """The workspace an active, unexpired key belongs to, else ``None``."""
        key = self.find_key(plaintext)
        if key is None or not key.active or key.expired():
            return None
        return self.find_workspace(key.workspace)

    # -- model versions ---------------------------------------------------------------------
    def add_model_version(
        self,
        workspace: str,
        project: str,
        version: int,
        *,
        task: str,
        architecture: str,
        package_sha256: str,
    ) -> ModelVersionRecord:
        validate_project_name(project)
        if version < 1:
            raise InvalidInputError(f"model version must be a positive integer, got {version}")
        ws = self.get_workspace(workspace)
        try:
            with self.database.session() as session:
                row = ModelVersion(
                    workspace_id=ws.id,
                    project=project,
                    version=version,
                    task=task,
                    architecture=architecture,
                    package_sha256=package_sha256,
                    created_at=utcnow(),
                )
                session.add(row)
                session.flush()
                # A lookup of the project in another workspace may now resolve to this one.
                announce(session, Change("model", ws.name, f"{project}/{version}"))
                record = model_record(row, ws.name)
        except IntegrityError:
            raise ConflictError(
                f"model {project}/{version} already exists in workspace {workspace!r}; "
                "register a new version number"
            ) from None
        self._lookups.clear()
        return record

    @staticmethod
    def _model_version_query(workspace: str, project: str, version: int) -> Select[ModelVersion]:
        return (
            select(ModelVersion)
            .join(Workspace)
            .where(
                Workspace.name == workspace,
                ModelVersion.project == project,
                ModelVersion.version == version,
            )
        )

    def find_model_version(
        self, workspace: str, project: str, version: int
    ) -> ModelVersionRecord | None:
        with self.database.session() as session:
            row = session.scalar(self._model_version_query(workspace, project, version))
            return model_record(row, workspace) if row else None

    def find_model_version_in(
        self, workspaces: tuple[str, ...], project: str, version: int
    ) -> ModelVersionRecord | None:
        """``project/version`` of the first of ``workspaces`` that has it (remembered)."""

        def load() -> ModelVersionRecord | None:
            for workspace in workspaces:
                found = self.find_model_version(workspace, project, version)
                if found is not None:
                    return found
            return None

        return self._lookups.get((workspaces, project, version), load)

    def list_model_versions(self, workspace: str | None = None) -> list[ModelVersionRecord]:
        with self.database.session() as session:
            query = (
                select(ModelVersion, Workspace.name)
                .join(Workspace)
                .order_by(Workspace.name, ModelVersion.project, ModelVersion.version)
            )
            if workspace is not None:
                query = query.where(Workspace.name == workspace)
            return [model_record(row, ws) for row, ws in session.execute(query)]

    def delete_model_version(self, workspace: str, project: str, version: int) -> bool:
        with self.database.session() as session:
            row = session.scalar(self._model_version_query(workspace, project, version))
            if row is None:
                return False
            session.delete(row)
            announce(session, Change("model", workspace, f"{project}/{version}"))
        self._lookups.clear()
        return True

    # -- stored workflows -------------------------------------------------------------------
    def add_workflow_version(
        self, workspace: str, name: str, definition: dict[str, Any]
    ) -> StoredWorkflowRecord:
        """Store ``definition`` as the next version of workflow ``name`` (1 for a new name)."""
        if not _WORKFLOW_NAME.fullmatch(name):
            raise InvalidInputError(
                f"invalid workflow id {name!r}: use 1-128 letters, digits, '-' or '_'"
            )
        ws = self.get_workspace(workspace)
        for _attempt in range(3):  # a concurrent writer may take the same version number
            try:
                with self.database.session() as session:
                    latest = session.scalar(
                        select(func.max(StoredWorkflow.version)).where(
                            StoredWorkflow.workspace_id == ws.id, StoredWorkflow.name == name
                        )
                    )
                    row = StoredWorkflow(
                        workspace_id=ws.id,
                        name=name,
                        version=(latest or 0) + 1,
                        definition=definition,
                        created_at=utcnow(),
                    )
                    session.add(row)
                    session.flush()
                    # Other processes drop their cached copy when this commits.
                    announce(session, Change("workflow", ws.name, name))
                    return StoredWorkflowRecord(
                        ws.name, row.name, row.version, row.definition, row.created_at
                    )
            except IntegrityError:
                continue
        raise ConflictError(f"workflow {name!r} is being updated concurrently; try again")

    def find_workflow(
        self, workspace: str, name: str, version: int | None = None
    ) -> StoredWorkflowRecord | None:
        """Version ``version`` of workflow ``name``, or its latest version when ``None``."""
        with self.database.session() as session:
            query = (
                select(StoredWorkflow)
                .join(Workspace)
                .where(Workspace.name == workspace, StoredWorkflow.name == name)
            )
            if version is not None:
                query = query.where(StoredWorkflow.version == version)
            row = session.scalar(query.order_by(StoredWorkflow.version.desc()).limit(1))
            if row is None:
                return None
            return StoredWorkflowRecord(
                workspace, row.name, row.version, dict(row.definition), row.created_at
            )

    def list_workflows(self, workspace: str | None = None) -> list[StoredWorkflowSummary]:
        """Every stored workflow (of ``workspace``), by workspace and name."""
        with self.database.session() as session:
            query = (
                select(
                    Workspace.name,
                    StoredWorkflow.name,
                    func.max(StoredWorkflow.version),
                    func.min(StoredWorkflow.created_at),
                    func.max(StoredWorkflow.created_at),
                )
                .join(Workspace)
                .group_by(Workspace.name, StoredWorkflow.name)
                .order_by(Workspace.name, StoredWorkflow.name)
            )
            if workspace is not None:
                query = query.where(Workspace.name == workspace)
            return [StoredWorkflowSummary(*row) for row in session.execute(query)]
