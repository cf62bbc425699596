"""``inner_workflow``: inline and stored children inlined into their parent, parameter bindings,
batches and dimensionality, the depth limit, recursion, and the errors that name the step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.workflows.blocks.helpers import REGISTRY, ScriptedModels, boxes, canvas, step
from tests.workflows.fakes import FakeModels, definition
from visionflow.config import Settings
from visionflow.errors import PayloadTooLargeError
from visionflow.workflows import (
    Executor,
    RunContext,
    WorkflowError,
    WorkflowLimits,
    WorkflowNotFoundError,
    compile_workflow,
)
from visionflow.workflows.blocks.inner_workflow import InnerWorkflowManifestV1, InnerWorkflowV1
from visionflow.workflows.errors import (
    InnerWorkflowCompositionCycleError,
    InnerWorkflowNestingDepthError,
    InnerWorkflowParameterBindingsError,
    InnerWorkflowParameterBindingsMissingRequiredError,
    InnerWorkflowParameterBindingsUnknownInputError,
    InvalidReferenceTargetError,
    WorkflowSyntaxError,
)
from visionflow.workflows.inner import ChildResolver
from visionflow.workflows.limits import MAX_INNER_DEPTH_SETTING, MAX_STEPS_SETTING

IMAGE = {"type": "WorkflowImage", "name": "image"}
DETECT = "roboflow_core/roboflow_object_detection_model@v2"


def child(conf_default: float | None = 0.5) -> dict[str, Any]:
    """Detects on ``img`` with confidence ``conf``; outputs the predictions and ``threshold``
    (its ``conf`` input: only a selector when the binding is one)."""
    conf: dict[str, Any] = {"type": "WorkflowParameter", "name": "conf"}
    if conf_default is not None:
        conf["default_value"] = conf_default
    return definition(
        [
            {
                "type": DETECT,
                "name": "det",
                "images": "$inputs.img",
                "model_id": "m/1",
                "confidence": "$inputs.conf",
            }
        ],
        {"preds": "$steps.det.predictions", "threshold": "$inputs.conf"},
        inputs=[
            {"type": "WorkflowImage", "name": "img"},
            conf,
            {"type": "WorkflowParameter", "name": "label", "default_value": "none"},
        ],
    )


def inner(name: str = "inner", bindings: Any = None, **source: Any) -> Any:
    if not source:
        source = {"workflow_definition": child()}
    return step(
        "inner_workflow@v1",
        name,
        parameter_bindings=dict(bindings if bindings is not None else {"img": "$inputs.image"}),
        **source,
    )


def parent(*steps: dict[str, Any], outputs: Mapping[str, str] | None = None, **kw: Any) -> Any:
    return definition(list(steps), dict(outputs or {"preds": "$steps.inner.preds"}), **kw)


class Store:
    """A ``ChildResolver`` over a dict: ``(workspace, id, version)`` → definition."""

    def __init__(self, **workflows: dict[str, Any]) -> None:
        self.workflows: dict[tuple[str, str, str | None], dict[str, Any]] = {
            ("acme", name, None): wf for name, wf in workflows.items()
        }
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(self, workspace: str, workflow_id: str, version: str | None) -> Any:
        self.calls.append((workspace, workflow_id, version))
        found = self.workflows.get((workspace, workflow_id, version))
        if found is None:
            raise WorkflowNotFoundError(
                f"Workflow {workflow_id!r} not found in workspace {workspace!r}"
            )
        return found


def run(
    workflow: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    *,
    resolve: ChildResolver | None = None,
    models: Any = None,
    limits: WorkflowLimits | None = None,
) -> list[dict[str, Any]]:
    plan = compile_workflow(workflow, REGISTRY, limits, resolve)
    return Executor().run(
        plan,
        inputs if inputs is not None else {"image": "a"},
        context=RunContext(models=models or FakeModels()),
        decode_image=lambda value: canvas(),
        serialize=True,
    )


def failure(workflow: dict[str, Any], **kw: Any) -> WorkflowError:
    with pytest.raises(WorkflowError) as caught:
        compile_workflow(workflow, REGISTRY, kw.get("limits"), kw.get("resolve"))
    return caught.value


# -- manifest --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        pytest.param({}, "requires a non-empty", id="empty"),
        pytest.param({"workflow_definition": {}}, "requires a non-empty", id="empty-definition"),
        pytest.param({"workflow_id": "x"}, "requires a non-empty", id="id-without-workspace"),
        pytest.param(
            {
                "workflow_definition": {"steps": []},
                "workflow_workspace_id": "a",
                "workflow_id": "b",
            },
            "not both",
            id="both",
        ),
        pytest.param(
            {"workflow_id": "b", "workflow_workspace_id": "a", "remote_target": " "},
            "remote_target",
            id="blank-target",
        ),
    ],
)
def test_manifest_needs_one_source(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        InnerWorkflowManifestV1.model_validate(
            {"type": InnerWorkflowV1.type, "name": "s", "parameter_bindings": {}, **fields}
        )


# -- inline and stored children --------------------------------------------------------------------


def test_inline_child_runs_on_every_image_of_the_batch() -> None:
    models = FakeModels()
    workflow = parent(inner())
    plan = compile_workflow(workflow, REGISTRY)
    assert list(plan.steps) == ["inner__det"]
    results = run(workflow, {"image": ["a", "b", "c"]}, models=models)
    assert len(results) == 3
    assert all(r["preds"]["image"] == {"width": 200, "height": 100} for r in results)
    # One batch of three images: the child's step is a parent step like any other.
    assert models.calls == [("m/1", "object-detection", 3)]
    parents = {r["preds"]["predictions"][0]["parent_id"] for r in results}
    assert parents == {"image.[0]", "image.[1]", "image.[2]"}


def test_parameter_bindings_and_defaults() -> None:
    models = FakeModels()
    declared = [IMAGE, {"type": "WorkflowParameter", "name": "threshold"}]
    selected = inner(bindings={"img": "$inputs.image", "conf": "$inputs.threshold"})
    outputs = {"threshold": "$steps.inner.threshold", "preds": "$steps.inner.preds"}
    [result] = run(
        parent(selected, outputs=outputs, inputs=declared),
        {"image": "a", "threshold": 0.7},
        models=models,
    )
    # A child output that selects a child input reads what its binding selects.
    assert result["threshold"] == 0.7
    run(parent(inner(bindings={"img": "$inputs.image", "conf": 0.6})), models=models)  # literal
    run(parent(inner()), models=models)  # the child's default_value
    assert [p.confidence for p in models.params] == [0.7, 0.6, 0.5]  # type: ignore[attr-defined]
    literal = failure(parent(inner(), outputs={"threshold": "$steps.inner.threshold"}))
    assert "child output 'threshold' selects '$inputs.conf', which its binding makes 0.5" in (
        literal.message
    )


def test_stored_child_is_resolved_in_the_callers_store() -> None:
    store = Store(detect=child())
    source = {"workflow_workspace_id": "acme", "workflow_id": "detect"}
    [result] = run(parent(inner(**source)), resolve=store)
    assert result["preds"]["predictions"][0]["class"] == "square"
    assert store.calls == [("acme", "detect", None)]
    pinned = {**source, "workflow_version_id": "3"}
    store.workflows[("acme", "detect", "3")] = child()
    run(parent(inner(**pinned)), resolve=store)
    assert store.calls[-1] == ("acme", "detect", "3")


def test_child_outputs_keep_their_dimensionality() -> None:
    """A child that crops: the parent's detector runs once per crop, as on its own crops."""
    crops = definition(
        [
            {"type": DETECT, "name": "det", "images": "$inputs.img", "model_id": "m/1"},
            step(
                "dynamic_crop@v1",
                "crop",
                images="$inputs.img",
                predictions="$steps.det.predictions",
            ),
        ],
        {"crops": "$steps.crop.crops"},
        inputs=[{"type": "WorkflowImage", "name": "img"}],
    )
    models = ScriptedModels(
        {"m/1": lambda im: boxes([[0, 0, 20, 10], [20, 0, 60, 30]]), "m/2": lambda im: boxes([])}
    )
    workflow = parent(
        inner(workflow_definition=crops),
        {"type": DETECT, "name": "again", "images": "$steps.inner.crops", "model_id": "m/2"},
        outputs={"per_crop": "$steps.again.predictions"},
    )
    [result] = run(workflow, models=models)
    assert len(result["per_crop"]) == 2
    assert models.calls[1:] == [("m/2", (10, 20, 3)), ("m/2", (30, 40, 3))]


def test_nested_children_and_name_collisions() -> None:
    middle = definition(
        [inner("deep", {"img": "$inputs.img"})],
        {"preds": "$steps.deep.preds"},
        inputs=[{"type": "WorkflowImage", "name": "img"}],
    )
    # The parent already has a step named like the inlined one: the child's gets a suffix.
    taken = {
        "type": DETECT,
        "name": "inner__deep__det",
        "images": "$inputs.image",
        "model_id": "m/1",
    }
    workflow = parent(
        inner(workflow_definition=middle),
        taken,
        outputs={"preds": "$steps.inner.preds", "other": "$steps.inner__deep__det.predictions"},
    )
    plan = compile_workflow(workflow, REGISTRY)
    assert sorted(plan.steps) == ["inner__deep__det", "inner__deep__det__2"]
    [result] = run(workflow)
    assert set(result) == {"preds", "other"}


def test_a_flow_control_target_of_the_step_is_its_first_inlined_step() -> None:
    """``next_steps: ["$steps.inner"]`` gates the child's steps; its outputs are then empty."""
    statement = {
        "type": "BinaryStatement",
        "left_operand": {"type": "DynamicOperand", "operand_name": "value"},
        "comparator": {"type": "(Number) >"},
        "right_operand": {"type": "StaticOperand", "value": 1},
    }
    gate = step(
        "continue_if@v1",
        "gate",
        condition_statement={"type": "StatementGroup", "statements": [statement]},
        evaluation_parameters={"value": "$inputs.value"},
        next_steps=["$steps.inner"],
    )
    declared = [IMAGE, {"type": "WorkflowParameter", "name": "value"}]
    workflow = parent(gate, inner(), inputs=declared)
    plan = compile_workflow(workflow, REGISTRY)
    assert plan.steps["gate"].targets == ("inner__det",)
    [passed] = run(workflow, {"image": "a", "value": 2})
    [stopped] = run(workflow, {"image": "a", "value": 0})
    assert (passed["preds"] is not None, stopped["preds"]) == (True, None)


# -- limits and errors -----------------------------------------------------------------------------


def nested(levels: int) -> dict[str, Any]:
    """``levels`` inner workflows, each holding the next; the innermost detects."""
    workflow = child()
    for _ in range(levels):
        workflow = definition(
            [inner("inner", {"img": "$inputs.img"}, workflow_definition=workflow)],
            {"preds": "$steps.inner.preds"},
            inputs=[{"type": "WorkflowImage", "name": "img"}],
        )
    return workflow


def test_depth_limit() -> None:
    limits = WorkflowLimits(max_inner_depth=3)
    workflow = {**nested(3), "inputs": [IMAGE]}
    workflow["steps"][0]["parameter_bindings"] = {"img": "$inputs.image"}
    assert list(compile_workflow(workflow, REGISTRY, limits).steps) == ["inner__inner__inner__det"]
    deeper = {**nested(4), "inputs": [IMAGE]}
    deeper["steps"][0]["parameter_bindings"] = {"img": "$inputs.image"}
    error = failure(deeper, limits=limits)
    assert isinstance(error, InnerWorkflowNestingDepthError)
    assert (error.http_status, error.code) == (400, "InnerWorkflowNestingDepthError")
    assert MAX_INNER_DEPTH_SETTING in error.message
    assert "4 levels deep" in error.message
    assert "Step 'inner'" in error.message
    refused = failure(parent(inner()), limits=WorkflowLimits(max_inner_depth=0))
    assert MAX_INNER_DEPTH_SETTING in refused.message


def test_depth_limit_comes_from_the_setting() -> None:
    settings = Settings.from_env({MAX_INNER_DEPTH_SETTING: "1"})
    limits = WorkflowLimits.from_settings(settings)
    assert limits.max_inner_depth == 1
    compile_workflow(parent(inner()), REGISTRY, limits)
    two = {**nested(2), "inputs": [IMAGE]}
    two["steps"][0]["parameter_bindings"] = {"img": "$inputs.image"}
    error = failure(two, limits=limits)
    assert f"more than the 1 they may nest ({MAX_INNER_DEPTH_SETTING})" in error.message


@pytest.mark.parametrize(
    ("workflows", "path"),
    [
        pytest.param({"a": ["a"]}, "acme/a -> acme/a", id="self"),
        pytest.param({"a": ["b"], "b": ["a"]}, "acme/a -> acme/b -> acme/a", id="a-b-a"),
    ],
)
def test_recursion_is_refused(workflows: dict[str, list[str]], path: str) -> None:
    def calling(names: list[str]) -> dict[str, Any]:
        steps = [
            inner(f"call_{n}", {"img": "$inputs.img"}, workflow_workspace_id="acme", workflow_id=n)
            for n in names
        ]
        return definition(
            steps,
            {"preds": f"$steps.call_{names[0]}.preds"},
            inputs=[{"type": "WorkflowImage", "name": "img"}],
        )

    store = Store(**{name: calling(calls) for name, calls in workflows.items()})
    root = parent(inner(workflow_workspace_id="acme", workflow_id="a"))
    error = failure(root, resolve=store, limits=WorkflowLimits(max_inner_depth=10))
    assert isinstance(error, InnerWorkflowCompositionCycleError)
    assert error.http_status == 400
    assert "includes itself" in error.message
    assert path in error.message
    assert MAX_INNER_DEPTH_SETTING in error.message


def test_missing_child_names_it() -> None:
    root = parent(inner(workflow_workspace_id="acme", workflow_id="nope"))
    error = failure(root, resolve=Store())
    assert error.http_status == 400
    assert error.message == (
        "Step 'inner' (roboflow_core/inner_workflow@v1): "
        "Workflow 'nope' not found in workspace 'acme'"
    )
    assert error.blocks_errors[0].property_name == "workflow_id"
    # Without a caller's store (no workspace to look in), a stored child cannot be used.
    assert "cannot be looked up here" in failure(root).message


def test_child_compile_error_names_the_step() -> None:
    broken = child()
    broken["steps"][0]["type"] = "roboflow_core/no_such_block@v1"
    error = failure(parent(inner(workflow_definition=broken)))
    assert isinstance(error, WorkflowSyntaxError)
    assert error.message.startswith(
        "Step 'inner' (roboflow_core/inner_workflow@v1), child workflow (inline): Step 'det'"
    )
    assert [e.block_id for e in error.blocks_errors] == ["inner", "det"]


@pytest.mark.parametrize(
    ("bindings", "problem", "error_type"),
    [
        pytest.param(
            {},
            "no binding for the child workflow inputs ['img']",
            InnerWorkflowParameterBindingsMissingRequiredError,
            id="empty",
        ),
        pytest.param(
            {"img": "$inputs.image", "size": 3},
            "unknown child workflow inputs ['size']",
            InnerWorkflowParameterBindingsUnknownInputError,
            id="unknown",
        ),
    ],
)
def test_bindings_must_fit_the_child(
    bindings: dict[str, Any], problem: str, error_type: type[InnerWorkflowParameterBindingsError]
) -> None:
    error = failure(parent(inner(bindings=bindings)))
    assert isinstance(error, error_type)
    assert error.context == "workflow_compilation | inner_workflow | parameter_bindings"
    assert problem in error.message
    required = failure(parent(inner(workflow_definition=child(conf_default=None))))
    assert "inputs ['conf']" in required.message


@pytest.mark.parametrize("output", ["nothing", "*"])
def test_unknown_child_output(output: str) -> None:
    error = failure(parent(inner(), outputs={"x": f"$steps.inner.{output}"}))
    assert isinstance(error, InvalidReferenceTargetError)
    assert f"has no output {output!r} (its outputs: preds, threshold" in error.message


def test_inlined_steps_count_toward_the_step_limit() -> None:
    limits = WorkflowLimits(max_steps=2)
    two = definition(
        [{"type": DETECT, "name": n, "images": "$inputs.img", "model_id": "m/1"} for n in "ab"],
        {"preds": "$steps.a.predictions"},
        inputs=[{"type": "WorkflowImage", "name": "img"}],
    )
    compile_workflow(parent(inner(workflow_definition=two)), REGISTRY, limits)
    error = failure(
        parent(inner(workflow_definition=two), inner("other", workflow_definition=two)),
        limits=limits,
    )
    assert error.http_status == 413
    assert MAX_STEPS_SETTING in error.message


def test_stored_children_add_up_to_the_byte_limit() -> None:
    store = Store(detect=child())
    many = [inner(f"s{i}", workflow_workspace_id="acme", workflow_id="detect") for i in range(40)]
    with pytest.raises(PayloadTooLargeError, match="VISIONFLOW_WORKFLOWS_MAX_DEFINITION_BYTES"):
        compile_workflow(
            parent(*many, outputs={"preds": "$steps.s0.preds"}),
            REGISTRY,
            WorkflowLimits(max_definition_bytes=10_000),
            store,
        )
    assert store.calls == [("acme", "detect", None)]  # fetched once, counted per use


def test_remote_dispatch_is_refused() -> None:
    error = failure(parent(inner(execution_mode="remote_dispatch"), outputs={}))
    assert "remote_dispatch" in error.message
    assert error.http_status == 400


def test_a_stored_childs_errors_point_at_its_id() -> None:
    broken = child()
    broken["steps"][0]["confidence"] = "high"
    error = failure(
        parent(inner(workflow_workspace_id="acme", workflow_id="broken")),
        resolve=Store(broken=broken),
    )
    assert error.message.startswith(
        "Step 'inner' (roboflow_core/inner_workflow@v1), child workflow acme/broken: Step 'det'"
    )
    assert error.blocks_errors[0].property_name == "workflow_id"


def test_duplicate_and_missing_step_names_beside_an_inner_step() -> None:
    detect = {"type": DETECT, "name": "inner", "images": "$inputs.image", "model_id": "m/1"}
    duplicated = failure(parent(inner(), detect))
    assert duplicated.code == "DuplicatedNameError"
    unnamed = {k: v for k, v in detect.items() if k != "name"}
    missing = failure(parent(inner(), unnamed, dict(unnamed)))
    assert isinstance(missing, WorkflowSyntaxError)
    assert "name" in missing.message
