"""Workflow blocks are plugins: entry points in the group ``visionflow.workflow_blocks``.

An entry point's object is a ``Block`` subclass or a sequence of them. The built-in
``roboflow_core`` blocks register through the same group in visionflow's own ``pyproject.toml``,
so they prove the plugin path; tests may ``register`` fakes.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable
from importlib.metadata import entry_points

from visionflow.workflows.block import Block
from visionflow.workflows.errors import PluginLoadingError

__all__ = ["ENTRY_POINT_GROUP", "BlockRegistry"]

ENTRY_POINT_GROUP = "visionflow.workflow_blocks"


def _block_classes(obj: object, origin: str) -> list[type[Block]]:
    items: Iterable[object] = (
        [obj] if isinstance(obj, type) else obj if isinstance(obj, Iterable) else [obj]
    )
    classes: list[type[Block]] = []
    for item in items:
        if not (isinstance(item, type) and issubclass(item, Block)):
            raise PluginLoadingError(
                f"entry point {origin!r} must provide Block subclasses, got {item!r}"
            )
        classes.append(item)
    return classes


def _bare(name: str) -> str:
    """``roboflow_core/dynamic_crop@v1`` → ``dynamic_crop``."""
    return name.rpartition("/")[2].partition("@")[0]


class BlockRegistry:
    """Block type ids and aliases → block instances, filled from entry points on first use."""

    def __init__(self, *, discover: bool = True) -> None:
        self._blocks: dict[str, Block] = {}
        self._by_name: dict[str, Block] = {}
        self._discovered = not discover
        self._lock = threading.RLock()

    def _discover(self) -> None:
        with self._lock:
            if self._discovered:
                return
            self._discovered = True
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                for cls in _block_classes(entry.load(), entry.value):
                    self._add(cls)

    def _add(self, cls: type[Block]) -> None:
        names = (cls.type, *cls.aliases)
        for name in names:
            existing = self._by_name.get(name)
            if existing is not None and type(existing) is not cls:
                raise PluginLoadingError(
                    f"block {cls.__qualname__} claims {name!r}, already registered by "
                    f"{type(existing).__qualname__}"
                )
        block = cls()
        self._blocks[cls.type] = block
        for name in names:
            self._by_name[name] = block

    def register(self, cls: type[Block]) -> None:
        self._discover()
        with self._lock:
            self._add(cls)

    def load(self) -> int:
        """Discover the blocks now (else the first compile or describe does); how many."""
        self._discover()
        with self._lock:
            return len(self._blocks)

    def types(self) -> list[str]:
        """Every registered block type id (aliases not included), sorted."""
        self._discover()
        return sorted(self._blocks)

    def find(self, name: str) -> Block | None:
        """The block whose type id or alias is ``name``."""
        self._discover()
        return self._by_name.get(name)

    def suggestions(self, name: str) -> list[str]:
        """Registered names close to ``name``: compared without namespace and version, and
        preferring the version asked for."""
        self._discover()
        by_bare: dict[str, list[str]] = {}
        for known in sorted(self._by_name):
            by_bare.setdefault(_bare(known), []).append(known)
        version = name.rpartition("@")[2] if "@" in name else None
        found = []
        for bare in difflib.get_close_matches(_bare(name), list(by_bare), n=3, cutoff=0.75):
            candidates = by_bare[bare]
            found.append(next((c for c in candidates if c.endswith(f"@{version}")), candidates[0]))
        return found
