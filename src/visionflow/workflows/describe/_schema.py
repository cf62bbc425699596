"""JSON schemas from block manifests: one block's (``block_schema``) and the whole definition's,
whose ``steps`` items are the union of every registered block's manifest.

pydantic writes the base schema; selector alternatives are then marked the way the reference
marks them (``reference``, ``selected_element``, ``kind``), and ``type`` lists the block's id and
aliases, so editors and clients can tell which steps may connect.
"""

from __future__ import annotations

import copy
import re
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from visionflow.workflows.block import Block
from visionflow.workflows.definition import WorkflowDefinition
from visionflow.workflows.manifest import Reference, StepReference, field_references
from visionflow.workflows.selectors import DATA_SELECTOR_PATTERN, STEP_SELECTOR_PATTERN

__all__ = [
    "block_category",
    "definition_schema",
    "field_type_hint",
    "friendly_name",
    "manifest_schema",
    "type_hint",
]

# Module of a built-in block → the reference's block category.
_CATEGORIES = {
    "models": "model",
    "flow": "flow_control",
    "formatters": "formatter",
    "transformations": "transformation",
    "static_crops": "transformation",
    "detections_ops": "transformation",
    "perspective": "transformation",
    "visualizations": "visualization",
    "annotators": "visualization",
    "visual_effects": "visualization",
    "codes": "model",
    "expressions": "formatter",
    "consensus": "fusion",
    "fusion": "fusion",
    "analytics": "analytics",
    "sinks": "sink",
    "classical_cv": "classical_computer_vision",
}


def _bare(type_id: str) -> str:
    return type_id.rpartition("/")[2].partition("@")[0]


def friendly_name(block: type[Block]) -> str:
    """``human_friendly_name`` when the block declares one, else from its type id
    (``roboflow_core/dynamic_crop@v1`` → ``Dynamic Crop``)."""
    declared = getattr(block, "human_friendly_name", None)
    if isinstance(declared, str):
        return declared
    return _bare(block.type).removeprefix("roboflow_").replace("_", " ").title()


def block_category(block: type[Block]) -> str:
    """``block_type`` when declared, else from the type id (``*_visualization``) or the module
    (``...blocks.models`` → ``model``)."""
    declared = getattr(block, "block_type", None)
    if isinstance(declared, str):
        return declared
    if _bare(block.type).endswith("_visualization"):
        return "visualization"
    module = block.__module__.rpartition(".")[2]
    return _CATEGORIES.get(module, module)


def _mark(schema: Any, kinds: list[str]) -> None:
    """Mark every selector alternative inside one property's schema."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "string" and schema.get("pattern") == DATA_SELECTOR_PATTERN:
        schema.update(
            reference=True,
            selected_element="any_data",
            kind=kinds,
            selector_points_to_batch="dynamic",
        )
    elif schema.get("type") == "string" and schema.get("pattern") == STEP_SELECTOR_PATTERN:
        schema.update(reference=True, selected_element="step")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for option in schema.get(key, []):
            _mark(option, kinds)
    for key in ("items", "additionalProperties"):
        _mark(schema.get(key), kinds)


def _annotate(schema: dict[str, Any], block: type[Block]) -> dict[str, Any]:
    properties = schema.setdefault("properties", {})
    properties["type"] = {"type": "string", "enum": [block.type, *block.aliases]}
    fields = block.manifest.model_fields
    for name, refs in field_references(block.manifest).items():
        key = fields[name].alias or name
        _mark(properties.get(key), list(refs.kinds or ()))
    version = block.type.rpartition("@")[2] if "@" in block.type else None
    schema.update(
        name=friendly_name(block),
        version=version,
        block_type=block_category(block),
        short_description=(block.__doc__ or "").strip().split("\n")[0] or None,
    )
    return schema


def manifest_schema(block: type[Block]) -> dict[str, Any]:
    """The JSON schema of one step of ``block`` (self-contained: its own ``$defs``)."""
    return _annotate(block.manifest.model_json_schema(), block)


def _def_name(block: type[Block], taken: dict[str, Any]) -> str:
    base = "Step_" + re.sub(r"[^A-Za-z0-9_]", "_", block.type)
    name, counter = base, 1
    while name in taken:
        counter += 1
        name = f"{base}_{counter}"
    return name


def definition_schema(blocks: Sequence[type[Block]]) -> dict[str, Any]:
    """The JSON schema of a workflow definition; ``steps`` items are one of the blocks' steps,
    told apart by ``type`` (an id or an alias)."""
    manifests = list(dict.fromkeys(block.manifest for block in blocks))
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(WorkflowDefinition, "validation")]
    models.extend((manifest, "validation") for manifest in manifests)
    refs, document = models_json_schema(models, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = document.get("$defs", {})

    def ref_name(model: Any) -> str:
        return str(refs[(model, "validation")]["$ref"]).rpartition("/")[2]

    manifest_defs = {manifest: ref_name(manifest) for manifest in manifests}
    step_refs: list[dict[str, str]] = []
    mapping: dict[str, str] = {}
    step_defs: dict[str, Any] = {}
    for block in blocks:
        name = _def_name(block, {**defs, **step_defs})
        step_defs[name] = _annotate(copy.deepcopy(defs[manifest_defs[block.manifest]]), block)
        ref = f"#/$defs/{name}"
        step_refs.append({"$ref": ref})
        mapping.update(dict.fromkeys((block.type, *block.aliases), ref))
    for manifest_def in set(manifest_defs.values()):
        defs.pop(manifest_def, None)
    defs.update(step_defs)
    schema = defs.pop(ref_name(WorkflowDefinition))
    schema["properties"]["steps"] = {
        "type": "array",
        "title": "Steps",
        "items": {
            "oneOf": step_refs,
            "discriminator": {"propertyName": "type", "mapping": mapping},
        },
    }
    schema["$defs"] = defs
    return dict(schema)


# -- type hints of literal (non-selector) field values --------------------------------------------


def _has_selector(metadata: Sequence[Any]) -> bool:
    return any(isinstance(marker, Reference | StepReference) for marker in metadata)


def type_hint(annotation: Any) -> str | None:
    """``annotation`` without its selector alternatives, spelled as ``typing`` does
    (``float | FloatSelector`` → ``float``); ``None`` when it only takes selectors."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return None if _has_selector(args[1:]) else type_hint(args[0])
    if origin in (Union, types.UnionType):
        hints = [type_hint(arg) for arg in args if arg is not type(None)]
        kept = list(dict.fromkeys(hint for hint in hints if hint is not None))
        if not kept:
            return None
        inner = kept[0] if len(kept) == 1 else f"Union[{', '.join(kept)}]"
        return f"Optional[{inner}]" if type(None) in args else inner
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]"
    if origin in (list, set, frozenset, tuple, dict):
        items = [type_hint(arg) if arg is not Ellipsis else "..." for arg in args]
        if any(item is None for item in items):
            return None
        name = {list: "List", set: "Set", frozenset: "FrozenSet", tuple: "Tuple", dict: "Dict"}
        return f"{name[origin]}[{', '.join(str(item) for item in items)}]" if items else None
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    return getattr(annotation, "__name__", None) or str(annotation)


def field_type_hint(info: FieldInfo) -> str | None:
    """``type_hint`` of a manifest field (pydantic keeps a field's own markers in ``metadata``)."""
    return None if _has_selector(info.metadata) else type_hint(info.annotation)
