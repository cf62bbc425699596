"""What ``/workflows/blocks/describe``, ``/workflows/definition/schema`` and
``/workflows/blocks/dynamic_outputs`` answer, derived from the block registry when asked.

Results are cached until the set of registered blocks changes, so a block registered later (a
plugin, a test fake) shows up on the next call. Cached dicts are shared: callers must not
modify them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from pydantic import ValidationError

from visionflow.workflows.block import Block
from visionflow.workflows.describe._kinds import catalogued_kinds, kind
from visionflow.workflows.describe._schema import (
    definition_schema,
    field_type_hint,
    friendly_name,
    manifest_schema,
)
from visionflow.workflows.errors import BlockError, WorkflowSyntaxError
from visionflow.workflows.kinds import WILDCARD
from visionflow.workflows.manifest import field_references
from visionflow.workflows.registry import ENTRY_POINT_GROUP, BlockRegistry
from visionflow.workflows.unsupported import unknown_block_details

__all__ = ["DEFAULT_ENGINE_COMPATIBILITY", "BlocksDescriber"]

DEFAULT_ENGINE_COMPATIBILITY = ">=1.3.0,<2.0.0"
# This server runs no dynamic (custom Python) blocks; the schema says so.
_DYNAMIC_BLOCKS_SCHEMA = {
    "title": "DynamicBlockDefinition",
    "description": "Dynamic (custom Python) blocks are not supported by this server.",
    "type": "object",
}


def _kinds_of(names: Iterable[str]) -> list[dict[str, str | None]]:
    return [kind(name).to_dict() for name in names]


def _entry_point_sources() -> dict[type[Block], str]:
    """Block class → the name of the entry point that provides it."""
    sources: dict[type[Block], str] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            provided = entry.load()
        except Exception:  # the registry reports broken plugins; here they just have no source
            continue
        items = [provided] if isinstance(provided, type) else provided
        if isinstance(items, Iterable):
            for item in items:
                if isinstance(item, type) and issubclass(item, Block):
                    sources.setdefault(item, entry.name)
    return sources


def _block_description(block: type[Block], sources: Mapping[type[Block], str]) -> dict[str, Any]:
    return {
        "block_schema": manifest_schema(block),
        "outputs_manifest": [
            {"name": output.name, "kind": _kinds_of(output.kinds)} for output in block.outputs
        ],
        "block_source": sources.get(block, block.__module__.partition(".")[0]),
        "fully_qualified_block_class_name": f"{block.__module__}.{block.__qualname__}",
        "human_friendly_block_name": friendly_name(block),
        "manifest_type_identifier": block.type,
        "manifest_type_identifier_aliases": list(block.aliases),
        "execution_engine_compatibility": getattr(
            block, "execution_engine_compatibility", DEFAULT_ENGINE_COMPATIBILITY
        ),
        "input_dimensionality_offsets": dict(getattr(block, "input_dimensionality_offsets", {})),
        "dimensionality_reference_property": getattr(
            block, "dimensionality_reference_property", None
        ),
        "output_dimensionality_offset": block.output_dimensionality_offset,
    }


def _description(info_description: str | None) -> str:
    return info_description or "not available"


def _kinds_connections(blocks: list[type[Block]]) -> dict[str, list[dict[str, Any]]]:
    """Kind → every block field that accepts data of that kind (``*``: every data field)."""
    connections: dict[str, list[dict[str, Any]]] = {}
    for block in blocks:
        fields = block.manifest.model_fields
        for name, refs in field_references(block.manifest).items():
            if refs.kinds is None:
                continue
            entry = {
                "manifest_type_identifier": block.type,
                "property_name": name,
                "property_description": _description(fields[name].description),
                "compatible_element": "any_data",
                "is_list_element": refs.container == "list",
                "is_dict_element": refs.container == "dict",
            }
            for kind_name in dict.fromkeys((*refs.kinds, WILDCARD)):
                connections.setdefault(kind_name, []).append(entry)
    return dict(sorted(connections.items()))


def _primitives_connections(blocks: list[type[Block]]) -> list[dict[str, str]]:
    """Every block field that takes a literal value, with its Python type hint."""
    found = []
    for block in blocks:
        for name, info in block.manifest.model_fields.items():
            hint = field_type_hint(info)
            if name in ("type", "name") or hint is None:
                continue
            found.append(
                {
                    "manifest_type_identifier": block.type,
                    "property_name": name,
                    "property_description": _description(info.description),
                    "type_annotation": hint,
                }
            )
    return found


def _used_kinds(blocks: list[type[Block]]) -> set[str]:
    used: set[str] = set()
    for block in blocks:
        for output in block.outputs:
            used.update(output.kinds)
        for refs in field_references(block.manifest).values():
            used.update(refs.kinds or ())
    return used


def describe_blocks(blocks: list[type[Block]]) -> dict[str, Any]:
    # Imported here: the query language's models load with the blocks, not at server start.
    from visionflow.workflows.describe._query import (
        query_language_defs,
        query_language_description,
    )

    sources = _entry_point_sources()
    return {
        "blocks": [_block_description(block, sources) for block in blocks],
        "declared_kinds": _kinds_of(sorted(set(catalogued_kinds()) | _used_kinds(blocks))),
        "kinds_connections": _kinds_connections(blocks),
        "primitives_connections": _primitives_connections(blocks),
        "universal_query_language_description": query_language_description(),
        "dynamic_block_definition_schema": _DYNAMIC_BLOCKS_SCHEMA,
        "uql_defs": query_language_defs(),
    }


class BlocksDescriber:
    """Descriptions of a registry's blocks, cached per registry state."""

    def __init__(self, registry: BlockRegistry) -> None:
        self.registry = registry
        self._lock = threading.Lock()
        self._state: tuple[type[Block], ...] = ()
        self._cache: dict[str, Any] = {}

    def blocks(self) -> list[type[Block]]:
        """The registered block classes, by type id."""
        found = []
        for type_id in self.registry.types():
            block = self.registry.find(type_id)
            assert block is not None
            found.append(type(block))
        return found

    def _cached(self, name: str, build: Any) -> Any:
        blocks = self.blocks()
        state = tuple(blocks)
        with self._lock:
            if state != self._state:
                self._state, self._cache = state, {}
            if name not in self._cache:
                self._cache[name] = build(blocks)
            return self._cache[name]

    def describe(self) -> dict[str, Any]:
        """The ``WorkflowsBlocksDescription`` body."""
        result: dict[str, Any] = self._cached("describe", describe_blocks)
        return result

    def definition_schema(self) -> dict[str, Any]:
        """The JSON schema of a workflow definition made of the registered blocks."""
        result: dict[str, Any] = self._cached("schema", definition_schema)
        return result

    def dynamic_outputs(self, step: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The outputs (names and kinds) of one step manifest, once it validates."""
        name = str(step.get("name", "step"))
        block_type = step.get("type")
        block = self.registry.find(block_type) if isinstance(block_type, str) else None
        if block is None:
            details = unknown_block_details(block_type, self.registry)
            raise WorkflowSyntaxError(
                f"Step {name!r}: {details}",
                context="describing_block_outputs",
                blocks_errors=[BlockError(name, None, "type", details)],
            )
        try:
            manifest = block.manifest.model_validate(step)
        except ValidationError as exc:
            errors = [
                BlockError(name, block.type, str(e["loc"][0]) if e["loc"] else None, e["msg"])
                for e in exc.errors()
            ]
            raise WorkflowSyntaxError(
                f"Step {name!r} ({block.type}): field {errors[0].property_name!r}: "
                f"{errors[0].property_details}",
                context="describing_block_outputs",
                blocks_errors=errors,
            ) from None
        return [
            {"name": output.name, "kind": _kinds_of(output.kinds)}
            for output in block.outputs_for(manifest)
        ]
