"""Introspection: block descriptions, the definition schema, dynamic outputs and a compiled
workflow's interface, all derived from the registry (fakes registered through the real one)."""

from __future__ import annotations

import json
import types
from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import Field

import visionflow.workflows.describe as describe
from tests.workflows.fakes import definition, detector
from visionflow.workflows import (
    Block,
    BlockRegistry,
    OutputDefinition,
    RunContext,
    StepInputs,
    StepResult,
    compile_workflow,
)
from visionflow.workflows.describe import BlocksDescriber, describe_interface
from visionflow.workflows.describe._query import query_language_description
from visionflow.workflows.describe._schema import block_category, friendly_name, type_hint
from visionflow.workflows.errors import WorkflowSyntaxError
from visionflow.workflows.manifest import (
    AnySelector,
    FloatSelector,
    ImageSelector,
    StepManifest,
    StepSelector,
)
from visionflow.workflows.query import SUPPORTED_OPERATIONS
from visionflow.workflows.query.operations import BINARY_COMPARATORS, UNARY_OPERATORS


class EchoManifest(StepManifest):
    image: ImageSelector
    scale: float | FloatSelector = 1.0
    extras: dict[str, AnySelector] = Field(default_factory=dict)


class EchoBlock(Block):
    """Echoes its image."""

    type = "tests/echo@v1"
    aliases = ("Echo",)
    manifest = EchoManifest
    outputs = (OutputDefinition("image", ("image",)), OutputDefinition("scale", ("float",)))
    human_friendly_name: ClassVar[str] = "Echo Image"

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return {"image": inputs["image"], "scale": inputs["scale"]}


@pytest.fixture(scope="module")
def registry() -> BlockRegistry:
    return BlockRegistry()


@pytest.fixture(scope="module")
def described(registry: BlockRegistry) -> dict[str, Any]:
    return BlocksDescriber(registry).describe()


def _by_type(described: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["manifest_type_identifier"]: block for block in described["blocks"]}


def _isort_key(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2), name


def test_all_is_sorted_and_complete() -> None:
    assert describe.__all__ == sorted(describe.__all__, key=_isort_key)
    public = {
        name
        for name, value in vars(describe).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(describe.__all__)


# -- /workflows/blocks/describe -------------------------------------------------------------------


def test_every_registered_block_is_described(
    registry: BlockRegistry, described: dict[str, Any]
) -> None:
    blocks = _by_type(described)
    assert list(blocks) == registry.types()
    for type_id, entry in blocks.items():
        block = registry.find(type_id)
        assert block is not None
        assert entry["manifest_type_identifier_aliases"] == list(block.aliases)
        assert entry["block_schema"]["properties"]["type"]["enum"] == [type_id, *block.aliases]
        assert [o["name"] for o in entry["outputs_manifest"]] == [o.name for o in block.outputs]
        assert [[k["name"] for k in o["kind"]] for o in entry["outputs_manifest"]] == [
            list(o.kinds) for o in block.outputs
        ]
        assert entry["output_dimensionality_offset"] == block.output_dimensionality_offset
        assert entry["fully_qualified_block_class_name"].endswith(type(block).__qualname__)
        assert set(entry["block_schema"]["required"]) == {
            name for name, info in block.manifest.model_fields.items() if info.is_required()
        }
    assert set(described) >= {
        "blocks",
        "declared_kinds",
        "kinds_connections",
        "primitives_connections",
        "universal_query_language_description",
        "dynamic_block_definition_schema",
    }
    json.dumps(described)  # plain JSON all the way down


@pytest.mark.parametrize(
    ("type_id", "field", "path", "expected"),
    [
        pytest.param(
            "roboflow_core/dynamic_crop@v1",
            "images",
            [],
            {"reference": True, "selected_element": "any_data", "kind": ["image"]},
            id="whole-value-selector",
        ),
        pytest.param(
            "roboflow_core/roboflow_object_detection_model@v2",
            "confidence",
            ["anyOf", "*"],
            {"reference": True, "selected_element": "any_data", "kind": ["float_zero_to_one"]},
            id="literal-or-selector",
        ),
        pytest.param(
            "roboflow_core/continue_if@v1",
            "next_steps",
            ["items"],
            {"reference": True, "selected_element": "step"},
            id="step-selector-list",
        ),
        pytest.param(
            "roboflow_core/continue_if@v1",
            "evaluation_parameters",
            ["additionalProperties"],
            {"reference": True, "selected_element": "any_data", "kind": ["*"]},
            id="dict-of-selectors",
        ),
    ],
)
def test_selectors_are_marked_in_block_schemas(
    described: dict[str, Any], type_id: str, field: str, path: list[str], expected: dict[str, Any]
) -> None:
    node: Any = _by_type(described)[type_id]["block_schema"]["properties"][field]
    for key in path:
        node = (
            next(option for option in node if option.get("reference")) if key == "*" else node[key]
        )
    assert {key: node.get(key) for key in expected} == expected


def test_literal_fields_are_not_marked(described: dict[str, Any]) -> None:
    schema = _by_type(described)["roboflow_core/roboflow_object_detection_model@v2"]["block_schema"]
    literal = next(
        option
        for option in schema["properties"]["confidence"]["anyOf"]
        if not option.get("reference")
    )
    assert literal["type"] == "number"


@pytest.mark.parametrize(
    ("kind", "type_id", "field", "container"),
    [
        pytest.param("image", "roboflow_core/dynamic_crop@v1", "images", "value", id="image"),
        pytest.param(
            "object_detection_prediction",
            "roboflow_core/dynamic_crop@v1",
            "predictions",
            "value",
            id="detections",
        ),
        pytest.param("*", "roboflow_core/dynamic_crop@v1", "images", "value", id="wildcard"),
        pytest.param(
            "*", "roboflow_core/continue_if@v1", "evaluation_parameters", "dict", id="dict-field"
        ),
    ],
)
def test_kinds_connections(
    described: dict[str, Any], kind: str, type_id: str, field: str, container: str
) -> None:
    [entry] = [
        e
        for e in described["kinds_connections"][kind]
        if (e["manifest_type_identifier"], e["property_name"]) == (type_id, field)
    ]
    assert (entry["is_list_element"], entry["is_dict_element"]) == (
        container == "list",
        container == "dict",
    )
    assert entry["compatible_element"] == "any_data"


def test_step_selectors_have_no_kind_connection(described: dict[str, Any]) -> None:
    fields = {
        (e["manifest_type_identifier"], e["property_name"])
        for entries in described["kinds_connections"].values()
        for e in entries
    }
    assert ("roboflow_core/continue_if@v1", "next_steps") not in fields


@pytest.mark.parametrize(
    ("type_id", "field", "hint"),
    [
        pytest.param("roboflow_core/dynamic_crop@v1", "mask_opacity", "float", id="float"),
        pytest.param(
            "roboflow_core/roboflow_object_detection_model@v2",
            "class_filter",
            "Optional[List[str]]",
            id="optional-list",
        ),
        pytest.param("roboflow_core/dynamic_crop@v1", "images", None, id="selector-only"),
        pytest.param("roboflow_core/dynamic_crop@v1", "type", None, id="type-not-listed"),
    ],
)
def test_primitives_connections(
    described: dict[str, Any], type_id: str, field: str, hint: str | None
) -> None:
    found = {
        (e["manifest_type_identifier"], e["property_name"]): e["type_annotation"]
        for e in described["primitives_connections"]
    }
    assert found.get((type_id, field)) == hint


def test_declared_kinds_cover_every_kind_blocks_use(described: dict[str, Any]) -> None:
    declared = {entry["name"]: entry for entry in described["declared_kinds"]}
    used = {
        k["name"] for b in described["blocks"] for o in b["outputs_manifest"] for k in o["kind"]
    }
    used |= set(described["kinds_connections"])
    assert used <= set(declared)
    assert declared["image"]["serialised_data_type"] == "dict"
    assert set(declared["float"]) == {
        "name",
        "description",
        "docs",
        "serialised_data_type",
        "internal_data_type",
    }


def test_query_language_description_covers_what_the_server_evaluates() -> None:
    description = query_language_description()
    operations = {o["operation_type"]: o for o in description["operations_description"]}
    assert list(operations) == list(SUPPORTED_OPERATIONS)
    assert operations["DetectionsFilter"]["compound"] is True
    assert operations["SequenceLength"]["output_kind"] == ["integer"]
    assert "class_name" in operations["DetectionsPropertyExtract"]["property_name_options"]
    operators = {o["operator_type"]: o for o in description["operators_descriptions"]}
    assert list(operators) == [*BINARY_COMPARATORS, *UNARY_OPERATORS]
    assert operators["(Number) >"]["operands_number"] == 2
    assert operators["Exists"]["operands_number"] == 1


def test_a_block_registered_later_appears_and_the_cache_follows_the_registry() -> None:
    registry = BlockRegistry()
    describer = BlocksDescriber(registry)
    before, schema_before = describer.describe(), describer.definition_schema()
    assert describer.describe() is before  # cached while the registry is unchanged
    assert "tests/echo@v1" not in _by_type(before)
    registry.register(EchoBlock)
    after = describer.describe()
    echo = _by_type(after)["tests/echo@v1"]
    assert echo["human_friendly_block_name"] == "Echo Image"
    assert echo["block_schema"]["short_description"] == "Echoes its image."
    assert echo["block_source"] == "tests"
    assert (
        "Echo"
        in describer.definition_schema()["properties"]["steps"]["items"]["discriminator"]["mapping"]
    )
    assert "Echo" not in json.dumps(schema_before["properties"]["steps"])


@pytest.mark.parametrize(
    ("type_id", "name", "category"),
    [
        pytest.param("roboflow_core/dynamic_crop@v1", "Dynamic Crop", "transformation", id="crop"),
        pytest.param(
            "roboflow_core/roboflow_object_detection_model@v2",
            "Object Detection Model",
            "model",
            id="model",
        ),
        pytest.param("roboflow_core/continue_if@v1", "Continue If", "flow_control", id="flow"),
        pytest.param(
            "roboflow_core/label_visualization@v1",
            "Label Visualization",
            "visualization",
            id="visualization",
        ),
    ],
)
def test_friendly_name_and_category(
    registry: BlockRegistry, type_id: str, name: str, category: str
) -> None:
    block = registry.find(type_id)
    assert block is not None
    assert (friendly_name(type(block)), block_category(type(block))) == (name, category)


# -- the definition schema ------------------------------------------------------------------------


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def test_definition_schema_steps_are_the_union_of_every_block(registry: BlockRegistry) -> None:
    schema = BlocksDescriber(registry).definition_schema()
    assert set(schema["required"]) == {"version", "inputs", "steps", "outputs"}
    items = schema["properties"]["steps"]["items"]
    mapping = items["discriminator"]["mapping"]
    names = {name for type_id in registry.types() for name in _names(registry, type_id)}
    assert set(mapping) == names
    assert len(items["oneOf"]) == len(registry.types())
    for name, ref in mapping.items():
        step = schema["$defs"][ref.rpartition("/")[2]]
        assert name in step["properties"]["type"]["enum"]
    dangling = {ref for ref in _refs(schema) if ref.rpartition("/")[2] not in schema["$defs"]}
    assert dangling == set()


def _names(registry: BlockRegistry, type_id: str) -> list[str]:
    block = registry.find(type_id)
    assert block is not None
    return [block.type, *block.aliases]


# -- dynamic outputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "outputs", "error_field"),
    [
        pytest.param(
            {
                "type": "Crop",
                "name": "c",
                "images": "$inputs.image",
                "predictions": "$steps.d.predictions",
            },
            ["crops", "predictions"],
            None,
            id="alias",
        ),
        pytest.param(detector(), ["inference_id", "predictions", "model_id"], None, id="model"),
        pytest.param(
            {"type": "roboflow_core/dynamic_crop@v1", "name": "c"}, [], "images", id="missing"
        ),
        pytest.param({"type": "dynamic_cropp@v1", "name": "c"}, [], "type", id="unknown-type"),
        pytest.param({}, [], "type", id="empty"),
    ],
)
def test_dynamic_outputs(
    registry: BlockRegistry, step: dict[str, Any], outputs: list[str], error_field: str | None
) -> None:
    describer = BlocksDescriber(registry)
    if error_field is None:
        found = describer.dynamic_outputs(step)
        assert [o["name"] for o in found] == outputs
        assert all(isinstance(k["name"], str) for o in found for k in o["kind"])
        return
    with pytest.raises(WorkflowSyntaxError) as caught:
        describer.dynamic_outputs(step)
    assert caught.value.blocks_errors[0].property_name == error_field


def test_unknown_block_suggests_a_close_one(registry: BlockRegistry) -> None:
    with pytest.raises(WorkflowSyntaxError, match="roboflow_core/dynamic_crop@v1"):
        BlocksDescriber(registry).dynamic_outputs({"type": "roboflow_core/dynamic_crap@v1"})


# -- describe_interface ---------------------------------------------------------------------------

PARAM = {"type": "WorkflowParameter", "name": "conf"}
IMAGE = {"type": "WorkflowImage", "name": "image"}
CROP = {
    "type": "roboflow_core/dynamic_crop@v1",
    "name": "crop",
    "images": "$inputs.image",
    "predictions": "$steps.det.predictions",
}


@pytest.mark.parametrize(
    ("workflow", "inputs", "outputs"),
    [
        pytest.param(definition([], {}, inputs=[]), {}, {}, id="empty"),
        pytest.param(definition([], {}), {"image": ["image"]}, {}, id="unused-image"),
        pytest.param(
            definition([], {"echo": "$inputs.conf"}, inputs=[PARAM]),
            {"conf": ["*"]},
            {"echo": ["*"]},
            id="input-as-output",
        ),
        pytest.param(
            definition(
                [
                    {
                        "type": "roboflow_core/property_definition@v1",
                        "name": "prop",
                        "data": "$inputs.conf",
                        "operations": [{"type": "ToString"}],
                    }
                ],
                {"text": "$steps.prop.output"},
                inputs=[{**PARAM, "kind": ["float"]}],
            ),
            {"conf": ["float"]},
            {"text": ["*"]},
            id="wildcard-field-keeps-declared-kind",
        ),
        pytest.param(
            definition(
                [detector(confidence="$inputs.conf")],
                {"predictions": "$steps.det.predictions"},
                inputs=[IMAGE, PARAM],
            ),
            {"image": ["image"], "conf": ["float_zero_to_one"]},
            {"predictions": ["object_detection_prediction"]},
            id="parameter-takes-the-field-kind",
        ),
        pytest.param(
            definition([detector(), CROP], {"all": "$steps.crop.*"}),
            {"image": ["image"]},
            {
                "all": {
                    "crops": ["image"],
                    "predictions": [
                        "object_detection_prediction",
                        "instance_segmentation_prediction",
                        "keypoint_detection_prediction",
                    ],
                }
            },
            id="wildcard-output",
        ),
    ],
)
def test_describe_interface(
    registry: BlockRegistry,
    workflow: dict[str, Any],
    inputs: dict[str, list[str]],
    outputs: dict[str, Any],
) -> None:
    described = describe_interface(compile_workflow(workflow, registry))
    assert (described["inputs"], described["outputs"]) == (inputs, outputs)
    used = {k for kinds in inputs.values() for k in kinds}
    for kinds in outputs.values():
        used.update(*kinds.values()) if isinstance(kinds, dict) else used.update(kinds)
    assert set(described["typing_hints"]) == used
    assert set(described["kinds_schemas"]) <= used


def test_interface_kind_schemas_describe_structured_kinds(registry: BlockRegistry) -> None:
    workflow = definition([detector()], {"p": "$steps.det.predictions"})
    described = describe_interface(compile_workflow(workflow, registry))
    assert described["typing_hints"] == {"image": "dict", "object_detection_prediction": "dict"}
    prediction = described["kinds_schemas"]["object_detection_prediction"]
    assert prediction["properties"]["predictions"]["type"] == "array"
    assert described["kinds_schemas"]["image"]["required"] == ["type", "value"]


# -- type hints of literal values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "hint"),
    [
        pytest.param(float, "float", id="plain"),
        pytest.param(float | FloatSelector, "float", id="selector-dropped"),
        pytest.param(FloatSelector, None, id="selector-only"),
        pytest.param(list[str] | None, "Optional[List[str]]", id="optional-list"),
        pytest.param(int | str, "Union[int, str]", id="union"),
        pytest.param(Literal["a", "b"], "Literal['a', 'b']", id="literal"),
        pytest.param(dict[str, AnySelector], None, id="dict-of-selectors"),
        pytest.param(tuple[int, int], "Tuple[int, int]", id="tuple"),
        pytest.param(Annotated[int, "doc"], "int", id="annotated"),
        pytest.param(list[StepSelector], None, id="step-selectors"),
        pytest.param(Any, "Any", id="any"),
    ],
)
def test_type_hint(annotation: Any, hint: str | None) -> None:
    assert type_hint(annotation) == hint
