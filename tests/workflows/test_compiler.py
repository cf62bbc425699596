"""The compiler: every definition error names the step and field; valid definitions are ordered,
layered and cached by hash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.workflows.fakes import IMAGE_INPUT, definition, detector
from visionflow.workflows import BlockRegistry, Compiler, WorkflowLimits, compile_workflow
from visionflow.workflows.errors import (
    ControlFlowDefinitionError,
    DuplicatedNameError,
    ExecutionGraphStructureError,
    InvalidReferenceTargetError,
    NotSupportedExecutionEngineError,
    ReferenceTypeError,
    StepInputDimensionalityError,
    WorkflowDefinitionError,
    WorkflowError,
    WorkflowSyntaxError,
)
from visionflow.workflows.plan import INPUT_LINEAGE


@pytest.fixture(scope="module")
def registry() -> BlockRegistry:
    return BlockRegistry()


def _count(name: str, data: str) -> dict[str, Any]:
    return {
        "type": "roboflow_core/property_definition@v1",
        "name": name,
        "data": data,
        "operations": [{"type": "SequenceLength"}],
    }


def _crop(name: str = "crop", predictions: str = "$steps.det.predictions") -> dict[str, Any]:
    return {
        "type": "roboflow_core/dynamic_crop@v1",
        "name": name,
        "images": "$inputs.image",
        "predictions": predictions,
    }


def _continue_if(name: str, value: str, next_steps: list[str]) -> dict[str, Any]:
    return {
        "type": "roboflow_core/continue_if@v1",
        "name": name,
        "condition_statement": {
            "type": "StatementGroup",
            "statements": [
                {
                    "type": "BinaryStatement",
                    "left_operand": {"type": "DynamicOperand", "operand_name": "v"},
                    "comparator": {"type": "(Number) >"},
                    "right_operand": {"type": "StaticOperand", "value": 0},
                }
            ],
        },
        "evaluation_parameters": {"v": value},
        "next_steps": next_steps,
    }


ERRORS = [
    pytest.param(
        definition(
            [{**detector(), "type": "roboflow_core/roboflow_object_detection_modle@v2"}], {}
        ),
        WorkflowSyntaxError,
        "Step 'det': unknown block type 'roboflow_core/roboflow_object_detection_modle@v2'. "
        "Did you mean 'roboflow_core/roboflow_object_detection_model@v2'",
        ("det", "type"),
        id="unknown-block-with-hint",
    ),
    pytest.param(
        definition([{"name": "det", "images": "$inputs.image"}], {}),
        WorkflowSyntaxError,
        "Step 'det': every step needs a 'type' naming its block",
        ("det", "type"),
        id="missing-type",
    ),
    pytest.param(
        definition([detector(confidence=1.5)], {}),
        WorkflowSyntaxError,
        "Step 'det' (roboflow_core/roboflow_object_detection_model@v2): field 'confidence': "
        "Input should be less than or equal to 1",
        ("det", "confidence"),
        id="field-out-of-range",
    ),
    pytest.param(
        definition([{k: v for k, v in detector().items() if k != "model_id"}], {}),
        WorkflowSyntaxError,
        "field 'model_id': Field required",
        ("det", "model_id"),
        id="missing-required-field",
    ),
    pytest.param(
        definition([detector(images="$inputs.img")], {}),
        InvalidReferenceTargetError,
        "Step 'det' (roboflow_core/roboflow_object_detection_model@v2): field 'images': "
        "$inputs.img names no input (declared inputs: image)",
        ("det", "images"),
        id="selector-to-missing-input",
    ),
    pytest.param(
        definition([detector(), _count("count", "$steps.dett.predictions")], {}),
        InvalidReferenceTargetError,
        "field 'data': $steps.dett.predictions names no step",
        ("count", "data"),
        id="selector-to-missing-step",
    ),
    pytest.param(
        definition([detector(), _count("count", "$steps.det.boxes")], {}),
        InvalidReferenceTargetError,
        "step 'det' has no output 'boxes' (its outputs: inference_id, predictions, model_id)",
        ("count", "data"),
        id="selector-to-missing-output",
    ),
    pytest.param(
        definition([detector(model_id="$inputs.model_id.x")], {}),
        InvalidReferenceTargetError,
        "field 'model_id': '$inputs.model_id.x' is not a valid selector",
        ("det", "model_id"),
        id="malformed-selector",
    ),
    pytest.param(
        definition([detector(), _count("count", "$steps.det")], {}),
        WorkflowSyntaxError,
        "Step 'count' (roboflow_core/property_definition@v1): field 'data'",
        ("count", "data"),
        id="step-selector-in-data-field",
    ),
    pytest.param(
        definition(
            [
                {
                    "type": "roboflow_core/roboflow_classification_model@v2",
                    "name": "cls",
                    "images": "$inputs.image",
                    "model_id": "fake/1",
                },
                {
                    "type": "roboflow_core/bounding_box_visualization@v1",
                    "name": "viz",
                    "image": "$inputs.image",
                    "predictions": "$steps.cls.predictions",
                },
            ],
            {},
        ),
        ReferenceTypeError,
        "Step 'viz' (roboflow_core/bounding_box_visualization@v1): field 'predictions': "
        "$steps.cls.predictions is of kind ['classification_prediction'], but the field accepts "
        "['object_detection_prediction', 'instance_segmentation_prediction', "
        "'keypoint_detection_prediction', 'rle_instance_segmentation_prediction']",
        ("viz", "predictions"),
        id="kind-mismatch",
    ),
    pytest.param(
        definition(
            [detector()],
            {},
            inputs=[
                IMAGE_INPUT,
                {"type": "WorkflowParameter", "name": "conf", "kind": ["string"]},
            ],
        )
        | {"steps": [detector(confidence="$inputs.conf")]},
        ReferenceTypeError,
        "$inputs.conf is of kind ['string'], but the field accepts ['float_zero_to_one']",
        ("det", "confidence"),
        id="parameter-kind-mismatch",
    ),
    pytest.param(
        definition(
            [
                {**detector("a"), "images": "$steps.b.crops"},
                _crop("b", predictions="$steps.a.predictions"),
            ],
            {},
        ),
        ExecutionGraphStructureError,
        "Workflow steps form a cycle (a → b → a)",
        ("a", None),
        id="cycle",
    ),
    pytest.param(
        definition(
            [
                detector("free"),
                _count("after", "$steps.c.predictions"),
                {**detector("a"), "images": "$steps.c.crops"},
                _crop("b", predictions="$steps.a.predictions"),
                {**_crop("c", predictions="$steps.b.predictions"), "images": "$steps.b.crops"},
            ],
            {},
        ),
        ExecutionGraphStructureError,
        # Walked from the first stuck step ('after', downstream of the cycle).
        "Workflow steps form a cycle (c → b → a → c)",
        ("c", None),
        id="cycle-with-steps-around-it",
    ),
    pytest.param(
        definition([_continue_if("gate", "$inputs.image", ["$steps.gate"])], {}),
        ExecutionGraphStructureError,
        "Workflow steps form a cycle (gate → gate)",
        ("gate", None),
        id="flow-control-self-cycle",
    ),
    pytest.param(
        definition([detector(), detector()], {}),
        DuplicatedNameError,
        "two steps named 'det'",
        ("det", "name"),
        id="duplicate-step",
    ),
    pytest.param(
        definition(
            [
                detector(),
                _crop(),
                detector("det2", images="$steps.crop.crops"),
                {
                    "type": "roboflow_core/bounding_box_visualization@v1",
                    "name": "viz",
                    "image": "$inputs.image",
                    "predictions": "$steps.det2.predictions",
                },
            ],
            {},
        ),
        StepInputDimensionalityError,
        "Step 'viz' (roboflow_core/bounding_box_visualization@v1): field 'image' "
        "($inputs.image) has dimensionality 1 but field 'predictions' ($steps.det2.predictions) "
        "has 2",
        ("viz", "predictions"),
        id="dimensionality-mismatch",
    ),
    pytest.param(
        definition(
            [
                detector(),
                {
                    "type": "roboflow_core/dimension_collapse@v1",
                    "name": "collapse",
                    "data": "$steps.det.predictions",
                },
            ],
            {},
        ),
        StepInputDimensionalityError,
        "Step 'collapse' (roboflow_core/dimension_collapse@v1) removes a dimension",
        ("collapse", None),
        id="collapse-of-flat-batch",
    ),
    pytest.param(
        definition(
            [
                detector(),
                _crop(),
                detector("det2", images="$steps.crop.crops"),
                _count("count", "$steps.det2.predictions"),
                _continue_if("gate", "$steps.count.output", ["$steps.det"]),
            ],
            {},
        ),
        ExecutionGraphStructureError,
        "cycle",
        ("det", None),
        id="gate-on-own-ancestor",
    ),
    pytest.param(
        definition(
            [
                detector(),
                _crop(),
                detector("det2", images="$steps.crop.crops"),
                _count("count", "$steps.det2.predictions"),
                _continue_if("gate", "$steps.count.output", ["$steps.viz"]),
                {
                    "type": "roboflow_core/bounding_box_visualization@v1",
                    "name": "viz",
                    "image": "$inputs.image",
                    "predictions": "$steps.det.predictions",
                },
            ],
            {},
        ),
        ControlFlowDefinitionError,
        "Step 'viz' (roboflow_core/bounding_box_visualization@v1): gated by step 'gate'",
        ("viz", None),
        id="gate-on-deeper-batch",
    ),
    pytest.param(
        definition([], {"x": "$steps.nowhere.out"}),
        InvalidReferenceTargetError,
        "Output 'x': $steps.nowhere.out names no step",
        (None, "outputs.x"),
        id="output-to-missing-step",
    ),
    pytest.param(
        definition([], {}, version="2.0"),
        NotSupportedExecutionEngineError,
        "requested Execution Engine version >=2.0,<3",
        None,
        id="unsupported-version",
    ),
    pytest.param(
        definition([], {}, version="one"),
        WorkflowDefinitionError,
        "cannot be parsed as a version",
        None,
        id="unparsable-version",
    ),
    pytest.param(
        {"inputs": [], "steps": [], "outputs": []},
        WorkflowSyntaxError,
        "Invalid workflow definition: version: Field required",
        (None, "version"),
        id="missing-version",
    ),
    pytest.param(
        definition(
            [
                detector(),
                {
                    "type": "roboflow_core/byte_tracker@v1",
                    "name": "track",
                    "metadata": "$inputs.image",
                    "detections": "$steps.det.predictions",
                },
            ],
            {},
            inputs=[IMAGE_INPUT, {"type": "WorkflowVideoMetadata", "name": "video"}],
        ),
        ReferenceTypeError,
        "$inputs.image is of kind ['image'], but the field accepts ['video_metadata']",
        ("track", "metadata"),
        id="image-as-video-metadata",
    ),
    pytest.param(
        definition(
            [
                detector(),
                {
                    "type": "roboflow_core/byte_tracker@v2",
                    "name": "track",
                    "image": "$inputs.video",
                    "detections": "$steps.det.predictions",
                },
            ],
            {},
            inputs=[IMAGE_INPUT, {"type": "WorkflowVideoMetadata", "name": "video"}],
        ),
        ReferenceTypeError,
        "$inputs.video is of kind ['video_metadata'], but the field accepts ['image']",
        ("track", "image"),
        id="video-metadata-as-image",
    ),
]


@pytest.mark.parametrize(("workflow", "error", "message", "where"), ERRORS)
def test_definition_errors_name_step_and_field(
    registry: BlockRegistry,
    workflow: dict[str, Any],
    error: type[WorkflowError],
    message: str,
    where: tuple[str | None, str | None] | None,
) -> None:
    with pytest.raises(error) as raised:
        compile_workflow(workflow, registry)
    assert message in raised.value.message
    assert raised.value.status_code == 400
    body = raised.value.to_body()
    assert body["error_type"] == error.code
    assert set(body) >= {"message", "context", "inner_error_type", "blocks_errors"}
    if where is not None:
        first = body["blocks_errors"][0]
        assert (first["block_id"], first["property_name"]) == where


@pytest.mark.parametrize(
    "block_type",
    [
        pytest.param("roboflow_core/roboflow_object_detection_model@v1", id="versioned-id"),
        pytest.param("RoboflowObjectDetectionModel", id="alias"),
        pytest.param("ObjectDetectionModel", id="legacy-alias"),
    ],
)
def test_types_and_aliases_resolve_to_one_block(registry: BlockRegistry, block_type: str) -> None:
    plan = compile_workflow(
        definition([{**detector(), "type": block_type}], {"p": "$steps.det.predictions"}),
        registry,
    )
    assert plan.steps["det"].block_type == "roboflow_core/roboflow_object_detection_model@v1"


def test_empty_workflow_compiles(registry: BlockRegistry) -> None:
    plan = compile_workflow(definition([], {}, inputs=[]), registry)
    assert (plan.steps, plan.layers, plan.outputs) == ({}, (), ())


def test_steps_are_ordered_and_layered_by_dependency(registry: BlockRegistry) -> None:
    # Written out of order: the count depends on the detector, the two detectors are independent.
    plan = compile_workflow(
        definition(
            [_count("count", "$steps.det.predictions"), detector("other"), detector()],
            {"count": "$steps.count.output"},
        ),
        registry,
    )
    assert plan.layers == (("other", "det"), ("count",))
    assert plan.steps["count"].depends_on == {"det"}


def test_a_long_chain_is_one_step_per_layer(registry: BlockRegistry) -> None:
    # Defined last step first: ordering must not depend on the definition order.
    count = 3000
    steps = [
        {
            "type": "roboflow_core/property_definition@v1",
            "name": f"s{i}",
            "data": f"$steps.s{i - 1}.output" if i else "$inputs.image",
            "operations": [],
        }
        for i in reversed(range(count))
    ]
    workflow = definition(steps, {"last": f"$steps.s{count - 1}.output"})
    plan = compile_workflow(workflow, registry, WorkflowLimits(max_steps=count))
    assert plan.layers == tuple((f"s{i}",) for i in range(count))
    assert list(plan.steps) == [f"s{i}" for i in range(count)]


def test_dimensionality_is_tracked_through_crops(registry: BlockRegistry) -> None:
    plan = compile_workflow(
        definition(
            [
                detector(),
                _crop(),
                detector("det2", images="$steps.crop.crops"),
                {
                    "type": "roboflow_core/dimension_collapse@v1",
                    "name": "collapse",
                    "data": "$steps.det2.predictions",
                },
            ],
            {},
        ),
        registry,
    )
    nested = (*INPUT_LINEAGE, "crop")
    assert plan.steps["crop"].output_lineage == nested
    assert plan.steps["det2"].lineage == nested
    assert plan.steps["collapse"].run_lineage == INPUT_LINEAGE


def test_compiler_caches_by_definition_hash(registry: BlockRegistry) -> None:
    compiler = Compiler(registry)
    workflow = definition([detector()], {"p": "$steps.det.predictions"})
    first, first_cached = compiler.compile(workflow)
    # The same content in another key order is the same definition.
    again, again_cached = compiler.compile(dict(reversed(list(workflow.items()))))
    assert (first_cached, again_cached) == (False, True)
    assert again is first
    other, other_cached = compiler.compile(definition([detector(confidence=0.5)], {}))
    assert other is not first
    assert not other_cached
