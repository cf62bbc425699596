"""Inlining ``inner_workflow`` steps: how selectors are rewritten, that the input definition is
left alone, and how the caching ``Compiler`` treats inline and stored children."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.workflows.fakes import definition
from visionflow.workflows import BlockRegistry, Compiler, WorkflowLimits, compile_workflow
from visionflow.workflows.inner import (
    expand_inner_workflows,
    has_inner_workflows,
    has_stored_children,
)

REGISTRY = BlockRegistry()
INNER = "roboflow_core/inner_workflow@v1"
IMG = [{"type": "WorkflowImage", "name": "img"}]


def crop_child(predictions: str = "$inputs.preds") -> dict[str, Any]:
    return definition(
        [
            {
                "type": "roboflow_core/dynamic_crop@v1",
                "name": "det",
                "images": "$inputs.img",
                "predictions": predictions,
            }
        ],
        {"crops": "$steps.det.crops"},
        inputs=[*IMG, {"type": "WorkflowBatchInput", "name": "preds"}],
    )


def detector(name: str) -> dict[str, Any]:
    return {
        "type": "roboflow_core/roboflow_object_detection_model@v2",
        "name": name,
        "images": "$inputs.image",
        "model_id": "m/1",
    }


def inner(name: str, bindings: dict[str, Any], **source: Any) -> dict[str, Any]:
    return {"type": INNER, "name": name, "parameter_bindings": bindings, **source}


def expand(workflow: dict[str, Any], resolve: Any = None) -> Any:
    return expand_inner_workflows(
        workflow,
        limits=WorkflowLimits(),
        compile_flat=lambda flat: compile_workflow(flat, REGISTRY),
        resolve=resolve,
    )


def test_selectors_are_rewritten() -> None:
    """The binding ``$steps.det.predictions`` names the parent's ``det``, not the child's."""
    bindings = {"img": "$inputs.image", "preds": "$steps.det.predictions"}
    workflow = definition(
        [detector("det"), inner("inner", bindings, workflow_definition=crop_child())],
        {"crops": "$steps.inner.crops"},
    )
    before = copy.deepcopy(workflow)
    expanded = expand(workflow)
    assert workflow == before
    assert expanded["steps"][1] == {
        "type": "roboflow_core/dynamic_crop@v1",
        "name": "inner__det",
        "images": "$inputs.image",
        "predictions": "$steps.det.predictions",
    }
    assert expanded["outputs"][0]["selector"] == "$steps.inner__det.crops"


def test_inputs_inside_longer_strings_are_replaced_by_their_text() -> None:
    template = {
        "type": "roboflow_core/property_definition@v1",
        "name": "text",
        "data": "$inputs.img",
        "operations": [{"type": "StringToUpperCase"}],
        "note": "model $inputs.model_id and $inputs.model_id_2",
    }
    child = definition(
        [template],
        {"out": "$steps.text.output"},
        inputs=[
            {"type": "WorkflowParameter", "name": "img"},
            {"type": "WorkflowParameter", "name": "model_id"},
        ],
    )
    bindings = {"img": "$inputs.image", "model_id": 7}
    workflow = definition([inner("inner", bindings, workflow_definition=child)], {})
    [step] = expand(workflow)["steps"]
    assert step["data"] == "$inputs.image"
    assert step["note"] == "model 7 and $inputs.model_id_2"


@pytest.mark.parametrize(
    ("workflow", "inner_steps", "stored"),
    [
        pytest.param(definition([], {}), False, False, id="empty"),
        pytest.param(definition([detector("det")], {}), False, False, id="no-inner"),
        pytest.param(
            definition([inner("i", {}, workflow_definition=crop_child())], {}),
            True,
            False,
            id="inline",
        ),
        pytest.param(
            definition([inner("i", {}, workflow_workspace_id="w", workflow_id="x")], {}),
            True,
            True,
            id="stored",
        ),
        pytest.param(
            definition(
                [
                    inner(
                        "i",
                        {},
                        workflow_definition=definition(
                            [inner("j", {}, workflow_workspace_id="w", workflow_id="x")], {}
                        ),
                    )
                ],
                {},
            ),
            True,
            True,
            id="stored-in-inline",
        ),
    ],
)
def test_has_inner_workflows(workflow: dict[str, Any], inner_steps: bool, stored: bool) -> None:
    assert (has_inner_workflows(workflow), has_stored_children(workflow)) == (inner_steps, stored)


def test_compiler_caches_inline_children_by_the_definition() -> None:
    compiler = Compiler(REGISTRY)
    bindings = {"img": "$inputs.image", "preds": "$steps.det.predictions"}
    workflow = definition(
        [detector("det"), inner("inner", bindings, workflow_definition=crop_child())],
        {"crops": "$steps.inner.crops"},
    )
    plan, hit = compiler.compile(workflow)
    assert (sorted(plan.steps), hit) == (["det", "inner__det"], False)
    assert compiler.compile(workflow)[1] is True


def test_compiler_recompiles_when_a_stored_child_changes() -> None:
    """The parent's definition is the same; what it expands to is not."""
    store = {"crop": crop_child()}
    compiler = Compiler(REGISTRY)
    bindings = {"img": "$inputs.image", "preds": "$steps.det.predictions"}
    workflow = definition(
        [detector("det"), inner("inner", bindings, workflow_workspace_id="w", workflow_id="crop")],
        {"crops": "$steps.inner.crops"},
    )

    def resolve(workspace: str, workflow_id: str, version: str | None) -> Any:
        return store[workflow_id]

    first, hit = compiler.compile(workflow, resolve)
    assert hit is False
    assert compiler.compile(workflow, resolve) == (first, True)
    changed = crop_child()
    changed["steps"].append({**changed["steps"][0], "name": "again"})
    store["crop"] = changed
    second, hit = compiler.compile(workflow, resolve)
    assert (hit, sorted(second.steps)) == (False, ["det", "inner__again", "inner__det"])
