"""Model architectures are plugins: entry points in the group ``visionflow.architectures``.

An entry point's name is the manifest's ``architecture``; its object is a loader
``(ModelPackage, SessionFactory) -> Model``. The built-in architectures register through the same
group in visionflow's own ``pyproject.toml``, so they prove the plugin path.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from visionflow.errors import InvalidModelPackageError
from visionflow.models.base import Model, SessionFactory
from visionflow.models.package import ModelPackage

__all__ = ["ENTRY_POINT_GROUP", "ArchitectureRegistry", "ModelLoader"]

ENTRY_POINT_GROUP = "visionflow.architectures"

ModelLoader = Callable[[ModelPackage, SessionFactory], Model]


class ArchitectureRegistry:
    """Name → loader, filled from entry points on first use; tests may ``register`` fakes."""

    def __init__(self) -> None:
        self._loaders: dict[str, ModelLoader] = {}
        self._discovered = False
        self._lock = threading.Lock()

    def _discover(self) -> None:
        with self._lock:
            if self._discovered:
                return
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                self._loaders.setdefault(entry.name, entry.load())
            self._discovered = True

    def register(self, name: str, loader: ModelLoader) -> None:
        self._discover()
        self._loaders[name] = loader

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._loaders)

    def loader(self, name: str) -> ModelLoader:
        self._discover()
        try:
            return self._loaders[name]
        except KeyError:
            close = difflib.get_close_matches(name, self._loaders, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise InvalidModelPackageError(
                f"unknown model architecture {name!r}; known: {', '.join(self.names())}.{hint}"
            ) from None

    def load(self, package: ModelPackage, sessions: SessionFactory) -> Model:
        return self.loader(package.manifest.architecture)(package, sessions)
