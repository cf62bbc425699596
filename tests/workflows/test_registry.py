"""Blocks are plugins: built-ins arrive through the ``visionflow.workflow_blocks`` entry point,
and test blocks register through the same registry."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

import pytest

from visionflow.workflows import ENTRY_POINT_GROUP, Block, BlockRegistry, StepManifest
from visionflow.workflows import registry as registry_module
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.errors import PluginLoadingError


class _Manifest(StepManifest):
    pass


class _Echo(Block):
    type = "tests/echo@v1"
    aliases = ("Echo",)
    manifest = _Manifest


class _Impostor(Block):
    type = "tests/impostor@v1"
    aliases = ("Echo",)
    manifest = _Manifest


def test_builtins_are_registered_through_the_entry_point() -> None:
    names = {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}
    assert "roboflow_core" in names
    assert BlockRegistry().types() == sorted(block.type for block in CORE_BLOCKS)


def test_registered_blocks_resolve_by_type_and_alias() -> None:
    registry = BlockRegistry()
    registry.register(_Echo)
    found = registry.find("tests/echo@v1")
    assert isinstance(found, _Echo)
    assert registry.find("Echo") is found
    assert registry.find("tests/echo@v2") is None


def test_a_name_cannot_be_claimed_twice() -> None:
    registry = BlockRegistry(discover=False)
    registry.register(_Echo)
    with pytest.raises(PluginLoadingError, match="claims 'Echo', already registered by _Echo"):
        registry.register(_Impostor)


@dataclass(frozen=True)
class _EntryPoint:
    value: str
    provides: object
    name: str = "broken"

    def load(self) -> object:
        return self.provides


def test_an_entry_point_must_provide_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        registry_module, "entry_points", lambda group: [_EntryPoint("plugin:BLOCKS", [42])]
    )
    with pytest.raises(PluginLoadingError, match="entry point 'plugin:BLOCKS' must provide"):
        BlockRegistry().types()
