"""Every built-in block's manifest matches the reference's (``shared/spec/workflow-blocks.json``:
the ``POST /workflows/blocks/describe`` answer of inference 1.8.3): type id, aliases, field names,
required fields, defaults, accepted kinds, outputs with kinds, and dimensionality offset.

The JSON is read here, by the test, never by the server (it is not shipped).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import PydanticUndefined

from visionflow.workflows import Block
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.manifest import field_references

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "workflow-blocks.json"


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is not available")
    return {block["type"]: block for block in json.loads(SPEC.read_text())["blocks"]}


def _reference_selectors(schema: Any) -> tuple[set[str], bool]:
    """Kinds accepted through data selectors anywhere in a property schema, and whether it takes
    step selectors."""
    kinds: set[str] = set()
    steps = False
    if isinstance(schema, dict):
        if schema.get("reference"):
            if schema.get("selected_element") == "step":
                steps = True
            else:
                kinds.update(schema.get("kind", []))
        for key in ("anyOf", "oneOf"):
            for option in schema.get(key, []):
                found, step = _reference_selectors(option)
                kinds |= found
                steps |= step
        for key in ("items", "additionalProperties"):
            found, step = _reference_selectors(schema.get(key))
            kinds |= found
            steps |= step
    return kinds, steps


def _default(block: type[Block], field: str) -> Any:
    info = block.manifest.model_fields[field]
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _normalize(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("block", [pytest.param(b, id=b.type) for b in CORE_BLOCKS])
def test_manifest_matches_reference(
    reference: dict[str, dict[str, Any]], block: type[Block]
) -> None:
    spec = reference.get(block.type)
    assert spec is not None, f"{block.type} is not a reference block"
    assert set(block.aliases) == set(spec["aliases"])
    # Same fields in the same order (the order the reference documents them in).
    ours = [name for name in block.manifest.model_fields if name not in ("type", "name")]
    theirs = [name for name in spec["properties"] if name not in ("type", "name")]
    assert ours == theirs
    required = {n for n, info in block.manifest.model_fields.items() if info.is_required()}
    assert required == set(spec["required"])
    refs = field_references(block.manifest)
    for name in theirs:
        schema = spec["properties"][name]
        if "default" in schema:
            assert _normalize(_default(block, name)) == schema["default"], name
        kinds, steps = _reference_selectors(schema)
        ref = refs.get(name)
        assert (set(ref.kinds or ()) if ref else set()) == kinds, name
        assert (ref.steps if ref else False) == steps, name
    assert [(o.name, list(o.kinds)) for o in block.outputs] == [
        (o["name"], o["kinds"]) for o in spec["outputs"]
    ]
    assert block.output_dimensionality_offset == spec["output_dimensionality_offset"]
