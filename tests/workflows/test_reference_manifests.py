"""Every built-in block's manifest matches the reference's (``shared/spec/workflow-blocks.json``:
the ``POST /workflows/blocks/describe`` answer of inference 1.8.3): type id, aliases, field names,
required fields, defaults, accepted kinds, outputs with kinds, and dimensionality offset.

The JSON is read here, by the test, never by the server (it is not shipped). Without it the tests
fail (never skip): CI always has ``../shared``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticUndefined

from visionflow.workflows import Block
from visionflow.workflows.blocks import CORE_BLOCKS
from visionflow.workflows.describe._schema import manifest_schema
from visionflow.workflows.manifest import field_references

SPEC = Path(__file__).resolve().parents[2].parent / "shared" / "spec" / "workflow-blocks.json"
# Blocks of the reference's enterprise set, which its describe answer (the spec) does not list;
# their own tests check their manifests against the reference's source.
OUTSIDE_SPEC = frozenset(
    {
        "roboflow_core/postgresql_sink@v1",
        "roboflow_enterprise/mqtt_writer_sink@v1",
        "roboflow_enterprise/mqtt_writer_sink@v2",
    }
)
SPEC_BLOCKS = [b for b in CORE_BLOCKS if b.type not in OUTSIDE_SPEC]


@pytest.fixture(scope="module")
def reference() -> dict[str, dict[str, Any]]:
    if not SPEC.is_file():
        pytest.fail(f"{SPEC} is not available: the manifest conformance tests need ../shared/spec")
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


@pytest.mark.parametrize("block", [pytest.param(b, id=b.type) for b in SPEC_BLOCKS])
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


def _described_defaults(block: type[Block]) -> dict[str, Any]:
    properties = manifest_schema(block)["properties"]
    return {name: schema["default"] for name, schema in properties.items() if "default" in schema}


@pytest.mark.parametrize("block", [pytest.param(b, id=b.type) for b in SPEC_BLOCKS])
def test_described_schema_matches_reference(
    reference: dict[str, dict[str, Any]], block: type[Block]
) -> None:
    """What ``blocks/describe`` says: the same properties have a ``default`` (a field with a
    ``default_factory`` shows none, as in the reference), with the same values, and the same
    dimensionality declarations."""
    spec = reference[block.type]
    theirs = {n: s["default"] for n, s in spec["properties"].items() if "default" in s}
    assert _described_defaults(block) == theirs
    assert dict(block.input_dimensionality_offsets) == spec["input_dimensionality_offsets"]
    assert block.dimensionality_reference_property == spec["dimensionality_reference_property"]


IMAGES_BLOCKS = [b for b in CORE_BLOCKS if "images" in b.manifest.model_fields]


def _missing(block: type[Block], step: dict[str, Any]) -> set[str]:
    try:
        block.manifest.model_validate(step)
    except ValidationError as exc:
        return {str(e["loc"][0]) for e in exc.errors() if e["type"] == "missing"}
    return set()


@pytest.mark.parametrize("block", [pytest.param(b, id=b.type) for b in IMAGES_BLOCKS])
def test_images_is_also_accepted_as_image(block: type[Block]) -> None:
    """The reference's image inputs take ``image`` too (``AliasChoices("images", "image")``)."""
    base = {"type": block.type, "name": "s"}
    assert "images" in _missing(block, base)
    assert "images" not in _missing(block, {**base, "image": "$inputs.image"})


def test_images_wins_over_its_alias() -> None:
    [detector] = [b for b in CORE_BLOCKS if b.type.endswith("object_detection_model@v2")]
    step = {"type": detector.type, "name": "s", "model_id": "m/1"}
    both = detector.manifest.model_validate({**step, "images": "$inputs.a", "image": "$inputs.b"})
    alias = detector.manifest.model_validate({**step, "image": "$inputs.b"})
    assert (both.model_dump()["images"], alias.model_dump()["images"]) == ("$inputs.a", "$inputs.b")
    assert "image" not in manifest_schema(detector)["properties"]
