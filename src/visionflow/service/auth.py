"""API keys → principals: a key resolves to its workspace; the demo workspace is public."""

from __future__ import annotations

from dataclasses import dataclass

from visionflow.config import Settings
from visionflow.errors import ApiKeyRequiredError, InvalidApiKeyError
from visionflow.store import Registry

__all__ = ["Authorizer", "Principal", "normalize_api_key"]

# What clients send when they have no key: the official SDK sends ``api_key: null`` in bodies
# and literally ``?api_key=None`` in query strings.
_NO_KEY = {"", "none", "null", "undefined"}


def normalize_api_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    return None if key.lower() in _NO_KEY else key


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's workspace (``None`` when anonymous) and the workspaces it sees,
    searched in order when a model id is resolved."""

    workspace: str | None
    visible_workspaces: tuple[str, ...]


class Authorizer:
    def __init__(self, registry: Registry, settings: Settings) -> None:
        self._registry = registry
        self._settings = settings

    def authorize(self, api_key: str | None) -> Principal:
        key = normalize_api_key(api_key)
        demo = self._settings.demo_workspace
        if key is None:
            if self._settings.api_key_required:
                raise ApiKeyRequiredError(
                    "An API key is required: pass it as the api_key query parameter, the "
                    "api_key body field, or an 'Authorization: Bearer <key>' header."
                )
            return Principal(workspace=None, visible_workspaces=(demo,))
        workspace = self._registry.workspace_for_key(key)
        if workspace is None:
            raise InvalidApiKeyError(
                "The API key is not valid (unknown or revoked). Create one with "
                "'visionflow keys create <workspace>'."
            )
        visible = (workspace.name,) if workspace.name == demo else (workspace.name, demo)
        return Principal(workspace=workspace.name, visible_workspaces=visible)
