"""The executor with a fake ModelRunner: batches, flow control, crops, outputs, errors, profiling.

Images are named by size (``"640x480"``); the fake detector finds a "square" in the centre half
of every image and, on images wider than 100 px, a low-confidence "circle" in the top-left
quarter (see ``tests.workflows.fakes``).
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

import pytest
import supervision as sv

from tests.workflows.fakes import FakeModels, context, decode_image, definition, detector
from visionflow.errors import ModelNotFoundError, RunTimeoutError
from visionflow.workflows import (
    Block,
    BlockRegistry,
    Executor,
    OutputDefinition,
    Profiler,
    RunBudget,
    RunContext,
    StepInputs,
    StepManifest,
    StepResult,
    WorkflowLimits,
    compile_workflow,
)
from visionflow.workflows.errors import (
    ClientCausedStepExecutionError,
    RuntimeInputError,
    StepExecutionError,
)
from visionflow.workflows.manifest import AnySelector

BIG, SMALL = "640x480", "80x60"


@pytest.fixture(scope="module")
def registry() -> BlockRegistry:
    return BlockRegistry()


def run(
    registry: BlockRegistry,
    workflow: dict[str, Any],
    inputs: dict[str, Any],
    *,
    models: FakeModels | None = None,
    serialize: bool = False,
    **options: Any,
) -> list[dict[str, Any]]:
    plan = compile_workflow(workflow, registry)
    return Executor().run(
        plan,
        inputs,
        context=context(models),
        decode_image=decode_image,
        serialize=serialize,
        **options,
    )


def _count(name: str, data: str) -> dict[str, Any]:
    return {
        "type": "roboflow_core/property_definition@v1",
        "name": name,
        "data": data,
        "operations": [{"type": "SequenceLength"}],
    }


def _crop(predictions: str = "$steps.det.predictions") -> dict[str, Any]:
    return {
        "type": "roboflow_core/dynamic_crop@v1",
        "name": "crop",
        "images": "$inputs.image",
        "predictions": predictions,
    }


def _gate(value: str, next_steps: list[str], threshold: int = 1) -> dict[str, Any]:
    return {
        "type": "roboflow_core/continue_if@v1",
        "name": "gate",
        "condition_statement": {
            "type": "StatementGroup",
            "statements": [
                {
                    "type": "BinaryStatement",
                    "left_operand": {"type": "DynamicOperand", "operand_name": "count"},
                    "comparator": {"type": "(Number) >"},
                    "right_operand": {"type": "StaticOperand", "value": threshold},
                }
            ],
        },
        "evaluation_parameters": {"count": value},
        "next_steps": next_steps,
    }


def _classes(detections: sv.Detections) -> list[str]:
    return [str(name) for name in detections.data["class_name"]]


# -- batches and inputs ---------------------------------------------------------------------------


def test_one_result_per_input_image_and_one_model_call(registry: BlockRegistry) -> None:
    models = FakeModels()
    outputs = run(
        registry,
        definition([detector()], {"predictions": "$steps.det.predictions"}),
        {"image": [BIG, SMALL]},
        models=models,
    )
    assert [_classes(o["predictions"]) for o in outputs] == [["square", "circle"], ["square"]]
    assert models.calls == [("fake/1", "object-detection", 2)]


@pytest.mark.parametrize(
    ("images", "tags", "expected"),
    [
        pytest.param(BIG, ["a", "b"], [("image", "a"), ("image", "b")], id="single-broadcast"),
        pytest.param([BIG], ["a", "b"], [("image.[0]", "a"), ("image.[0]", "b")], id="len1-list"),
        pytest.param([BIG, SMALL], "x", [("image.[0]", "x"), ("image.[1]", "x")], id="two"),
        pytest.param([BIG], ["a"], [("image.[0]", "a")], id="one"),
    ],
)
def test_batch_inputs_broadcast(
    registry: BlockRegistry, images: Any, tags: Any, expected: list[tuple[str, str]]
) -> None:
    workflow = definition(
        [],
        {"image": "$inputs.image", "tag": "$inputs.tag"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowBatchInput", "name": "tag"},
        ],
    )
    outputs = run(registry, workflow, {"image": images, "tag": tags})
    assert [(o["image"].lineage.image_id, o["tag"]) for o in outputs] == expected


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        pytest.param({}, "Workflow input 'image' (WorkflowImage", id="missing"),
        pytest.param({"image": [BIG, BIG, BIG], "tag": ["a", "b"]}, "'tag' has 2", id="mismatch"),
        pytest.param({"image": [], "tag": "a"}, "'image' has 0 elements", id="empty-list"),
    ],
)
def test_runtime_input_errors(
    registry: BlockRegistry, inputs: dict[str, Any], message: str
) -> None:
    workflow = definition(
        [],
        {"tag": "$inputs.tag"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowBatchInput", "name": "tag"},
        ],
    )
    with pytest.raises(RuntimeInputError) as raised:
        run(registry, workflow, {"tag": "a", **inputs})
    assert message in raised.value.message
    assert raised.value.status_code == 400


def test_parameters_take_defaults_and_only_non_batch_outputs_give_one_result(
    registry: BlockRegistry,
) -> None:
    workflow = definition(
        [{**_count("n", "$inputs.words")}],
        {"n": "$steps.n.output", "words": "$inputs.words"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "words", "default_value": ["a", "b", "c"]},
        ],
    )
    assert run(registry, workflow, {"image": [BIG, SMALL]}) == [{"n": 3, "words": ["a", "b", "c"]}]
    assert run(registry, workflow, {"image": BIG, "words": ["x"]}) == [{"n": 1, "words": ["x"]}]


# -- flow control ---------------------------------------------------------------------------------


def _gated_workflow() -> dict[str, Any]:
    return definition(
        [
            detector(),
            _count("count", "$steps.det.predictions"),
            _gate("$steps.count.output", ["$steps.second"]),
            detector("second"),
            _count("after", "$steps.second.predictions"),
            {
                "type": "roboflow_core/first_non_empty_or_default@v1",
                "name": "pick",
                "data": ["$steps.after.output"],
                "default": -1,
            },
        ],
        {
            "count": "$steps.count.output",
            "second": "$steps.second.predictions",
            "after": "$steps.after.output",
            "pick": "$steps.pick.output",
        },
    )


def test_continue_if_runs_next_steps_only_where_the_condition_holds(
    registry: BlockRegistry,
) -> None:
    # Two detections on the big image (count > 1: taken), one on the small (not taken).
    models = FakeModels()
    big, small = run(registry, _gated_workflow(), {"image": [BIG, SMALL]}, models=models)
    assert (big["count"], big["after"], big["pick"]) == (2, 2, 2)
    assert isinstance(big["second"], sv.Detections)
    assert (small["count"], small["second"], small["after"], small["pick"]) == (1, None, None, -1)
    # The gated detector ran on the big image only.
    assert models.calls == [("fake/1", "object-detection", 2), ("fake/1", "object-detection", 1)]


def test_continue_if_not_taken_anywhere(registry: BlockRegistry) -> None:
    [small] = run(registry, _gated_workflow(), {"image": SMALL})
    assert (small["second"], small["after"], small["pick"]) == (None, None, -1)


def test_continue_if_on_a_parameter_gates_every_element(registry: BlockRegistry) -> None:
    workflow = definition(
        [_gate("$inputs.flag", ["$steps.det"], threshold=0), detector()],
        {"p": "$steps.det.predictions"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "flag", "default_value": 0},
        ],
    )
    assert run(registry, workflow, {"image": [BIG, BIG]}) == [{"p": None}, {"p": None}]
    taken = run(registry, workflow, {"image": [BIG, BIG], "flag": 1})
    assert [len(o["p"]) for o in taken] == [2, 2]


# -- dimensionality -------------------------------------------------------------------------------


def _crop_workflow(**output_options: Any) -> dict[str, Any]:
    return definition(
        [
            detector(),
            _crop(),
            detector("det2", images="$steps.crop.crops"),
            _count("count", "$steps.det2.predictions"),
            {
                "type": "roboflow_core/dimension_collapse@v1",
                "name": "collapse",
                "data": "$steps.count.output",
            },
        ],
        [
            {"type": "JsonField", "name": "crops", "selector": "$steps.crop.crops"},
            {"type": "JsonField", "name": "counts", "selector": "$steps.count.output"},
            {"type": "JsonField", "name": "collapsed", "selector": "$steps.collapse.output"},
            {
                "type": "JsonField",
                "name": "parent",
                "selector": "$steps.det2.predictions",
                "coordinates_system": "parent",
            },
            {
                "type": "JsonField",
                "name": "own",
                "selector": "$steps.det2.predictions",
                "coordinates_system": "own",
            },
        ],
    )


def test_crops_nest_results_and_collapse_gathers_them(registry: BlockRegistry) -> None:
    big, small = run(registry, _crop_workflow(), {"image": [BIG, SMALL]})
    # Big image: crops of the square (320x240, so the crop model sees 2 objects) and of the
    # circle (160x120: 2 objects); small image: one crop of the square (40x30: 1 object).
    assert [c.lineage.size_wh for c in big["crops"]] == [(320, 240), (160, 120)]
    assert [c.lineage.size_wh for c in small["crops"]] == [(40, 30)]
    assert (big["counts"], small["counts"]) == ([2, 2], [1])
    assert (big["collapsed"], small["collapsed"]) == ([2, 2], [1])


def test_results_on_crops_map_back_to_the_input_image(registry: BlockRegistry) -> None:
    [big] = run(registry, _crop_workflow(), {"image": BIG})
    square_crop = big["crops"][0]
    assert square_crop.lineage.root_offset_xy == (160, 120)
    own, parent = big["own"][0], big["parent"][0]
    # The crop model's square: the centre half of the 320x240 crop.
    assert own.xyxy[0].tolist() == [80, 60, 240, 180]
    assert parent.xyxy[0].tolist() == [240, 180, 400, 300]
    assert own.data["parent_id"][0] == square_crop.lineage.image_id
    assert parent.data["parent_id"][0] == "image"


@pytest.mark.parametrize("system", ["parent", "own"])
def test_crop_step_predictions_are_written_in_crop_coordinates(
    registry: BlockRegistry, system: str
) -> None:
    """As inference 1.8.3 (benchmarks/PEER.md, workflows): ``dynamic_crop``'s ``predictions``
    output is each detection moved into its crop, written as it is: it keeps the provenance of
    the detection it comes from (``parent_id``, the input image's size) in either system."""
    output = {"type": "JsonField", "name": "local", "selector": "$steps.crop.predictions"}
    workflow = definition([detector(), _crop()], [{**output, "coordinates_system": system}])
    [big] = run(registry, workflow, {"image": BIG}, serialize=True)
    local = big["local"][0]  # the centre-half square, cut at (160, 120)
    [box] = local["predictions"]
    assert (box["x"], box["y"], box["width"], box["height"]) == (160.0, 120.0, 320.0, 240.0)
    assert (local["image"], box["parent_id"]) == ({"width": 640, "height": 480}, "image")
    assert "parent_origin" not in box


def test_serialized_crop_outputs_carry_their_origin(registry: BlockRegistry) -> None:
    [big] = run(registry, _crop_workflow(), {"image": BIG}, serialize=True)
    crop = big["crops"][0]
    assert crop["type"] == "base64"
    assert crop["video_metadata"]["video_identifier"] == crop["parent_id"]  # still-image defaults
    origin = {"offset_x": 160, "offset_y": 120, "width": 640, "height": 480}
    assert (crop["parent_origin"], crop["root_parent_id"], crop["root_parent_origin"]) == (
        origin,
        "image",
        origin,
    )
    own = big["own"][0]
    assert own["image"] == {"width": 320, "height": 240}
    assert own["predictions"][0]["root_parent_origin"] == origin
    parent = big["parent"][0]
    assert parent["image"] == {"width": 640, "height": 480}
    assert "parent_origin" not in parent["predictions"][0]
    assert (parent["predictions"][0]["x"], parent["predictions"][0]["y"]) == (320.0, 240.0)


def test_skipped_crop_step_yields_empty_nested_lists(registry: BlockRegistry) -> None:
    workflow = _crop_workflow()
    workflow["steps"].insert(1, _gate("$steps.count0.output", ["$steps.crop"]))
    workflow["steps"].insert(1, _count("count0", "$steps.det.predictions"))
    big, small = run(registry, workflow, {"image": [BIG, SMALL]})
    assert (len(big["crops"]), big["counts"]) == (2, [2, 2])
    # The collapse still runs for the small image: over no crops.
    assert (small["crops"], small["counts"], small["own"], small["collapsed"]) == ([], [], [], [])


# -- outputs --------------------------------------------------------------------------------------


def test_excluded_fields_and_wildcard_outputs(registry: BlockRegistry) -> None:
    workflow = definition(
        [detector(), _count("count", "$steps.det.predictions")],
        {"all": "$steps.count.*", "det": "$steps.det.*", "count": "$steps.count.output"},
    )
    [result] = run(registry, workflow, {"image": BIG}, excluded_fields=["det", "unknown"])
    assert result == {"all": {"output": 2}, "count": 2}


# -- errors and profiling -------------------------------------------------------------------------


class _ExplodingManifest(StepManifest):
    data: AnySelector


class _Exploding(Block):
    type = "tests/exploding@v1"
    manifest = _ExplodingManifest
    outputs = (OutputDefinition("output", ("*",)),)
    error: ClassVar[Exception] = RuntimeError("boom")

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        raise self.error


class _MissingModel(_Exploding):
    type = "tests/missing_model@v1"
    error = ModelNotFoundError("Model 'x/1' not found")


@pytest.fixture
def failing_registry() -> BlockRegistry:
    registry = BlockRegistry()
    registry.register(_Exploding)
    registry.register(_MissingModel)
    return registry


def test_step_failure_names_the_step(failing_registry: BlockRegistry) -> None:
    workflow = definition(
        [
            detector(),
            {"type": "tests/exploding@v1", "name": "bad", "data": "$steps.det.inference_id"},
        ],
        {"x": "$steps.bad.output"},
    )
    with pytest.raises(StepExecutionError) as raised:
        run(failing_registry, workflow, {"image": BIG})
    assert raised.value.status_code == 500
    assert raised.value.message == "Error during execution of step: $steps.bad. Details: boom"
    body = raised.value.to_body()
    assert body["blocks_errors"] == [
        {
            "block_id": "bad",
            "block_type": "tests/exploding@v1",
            "property_name": None,
            "property_details": "boom",
        }
    ]
    assert (body["inner_error_type"], body["inner_error_message"]) == ("RuntimeError", "boom")


def test_client_errors_in_a_step_keep_their_status(failing_registry: BlockRegistry) -> None:
    workflow = definition(
        [{"type": "tests/missing_model@v1", "name": "m", "data": "$inputs.image"}],
        {"x": "$steps.m.output"},
    )
    with pytest.raises(ClientCausedStepExecutionError) as raised:
        run(failing_registry, workflow, {"image": BIG})
    assert raised.value.message == "Step 'm' (tests/missing_model@v1): Model 'x/1' not found"
    assert (raised.value.http_status, type(raised.value.inner)) == (404, ModelNotFoundError)
    body = raised.value.to_body()
    assert body["blocks_errors"][0]["block_id"] == "m"
    assert (body["context"], body["inner_error_type"], body["inner_error_message"]) == (
        "workflow_execution | step_execution",
        "ModelNotFoundError",
        "Model 'x/1' not found",
    )


def test_wrong_runtime_type_is_a_400_naming_the_field(registry: BlockRegistry) -> None:
    workflow = definition(
        [detector(confidence="$inputs.confidence")],
        {"p": "$steps.det.predictions"},
        inputs=[
            {"type": "WorkflowImage", "name": "image"},
            {"type": "WorkflowParameter", "name": "confidence"},
        ],
    )
    with pytest.raises(Exception, match="field 'confidence': expected a number within") as raised:
        run(registry, workflow, {"image": BIG, "confidence": 7})
    assert getattr(raised.value, "status_code", None) == 400


@pytest.mark.parametrize("enabled", [pytest.param(True, id="on"), pytest.param(False, id="off")])
def test_profiler_records_each_step(registry: BlockRegistry, enabled: bool) -> None:
    profiler = Profiler(enabled=enabled)
    workflow = definition([detector(), _count("count", "$steps.det.predictions")], {})
    run(registry, workflow, {"image": BIG}, profiler=profiler)
    events = profiler.events()
    if not enabled:
        assert events == []
        return
    steps = [e["args"]["step_selector"] for e in events if e["name"] == "step_execution"]
    assert steps == ["$steps.det", "$steps.count"]
    for event in events:
        assert {"name", "ph", "ts", "dur", "pid", "tid"} <= set(event)
        assert event["ph"] == "X"
        assert event["dur"] >= 0


class _Rendezvous(_Exploding):
    """Waits until its twin runs too: passes only if the two run concurrently."""

    type = "tests/rendezvous@v1"
    concurrent = True
    barrier: ClassVar[threading.Barrier] = threading.Barrier(2, timeout=10)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        self.barrier.wait()
        return {"output": inputs["data"]}


def test_independent_steps_run_concurrently(failing_registry: BlockRegistry) -> None:
    failing_registry.register(_Rendezvous)
    steps = [
        {"type": "tests/rendezvous@v1", "name": name, "data": "$inputs.image"}
        for name in ("left", "right")
    ]
    [result] = run(
        failing_registry, definition(steps, {"left": "$steps.left.output"}), {"image": BIG}
    )
    assert result["left"].lineage.size_wh == (640, 480)


class _Gate(_Exploding):
    """Blocks until ``opened`` is set (a slow step holding its thread); ``entered`` counts the
    steps waiting."""

    type = "tests/gate@v1"
    concurrent = True
    opened: ClassVar[threading.Event] = threading.Event()
    entered: ClassVar[threading.Semaphore] = threading.Semaphore(0)

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        self.entered.release()
        assert self.opened.wait(timeout=10)
        return {"output": inputs["data"]}


class _Echo(_Exploding):
    """Answers the name of the thread it ran on."""

    type = "tests/echo@v1"
    concurrent = True

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        return {"output": threading.current_thread().name}


def _parallel(block: str, names: tuple[str, ...]) -> dict[str, Any]:
    steps = [{"type": block, "name": name, "data": "$inputs.image"} for name in names]
    return definition(steps, {name: f"$steps.{name}.output" for name in names})


def test_a_run_takes_back_steps_no_helper_is_free_for(failing_registry: BlockRegistry) -> None:
    """Helper threads are shared by the executor's runs: while slow steps of one run hold every
    helper, another run's parallel steps run on its own thread instead of waiting."""
    failing_registry.register(_Gate)
    failing_registry.register(_Echo)
    _Gate.opened.clear()
    executor = Executor(max_concurrent_steps=3)  # the caller + 2 helpers
    slow = compile_workflow(_parallel("tests/gate@v1", ("a", "b", "c")), failing_registry)
    fast = compile_workflow(_parallel("tests/echo@v1", ("x", "y", "z")), failing_registry)
    options: dict[str, Any] = {"context": context(None), "decode_image": decode_image}
    blocked = threading.Thread(target=executor.run, args=(slow, {"image": BIG}), kwargs=options)
    blocked.start()
    try:
        for _ in range(3):  # the caller's step and both helpers' are waiting
            assert _Gate.entered.acquire(timeout=10)
        started = time.monotonic()
        [result] = executor.run(fast, {"image": BIG}, **options)
        assert time.monotonic() - started < 5  # not behind the gate
        assert set(result.values()) == {threading.current_thread().name}
    finally:
        _Gate.opened.set()
        blocked.join(timeout=10)


class _Busy(_Echo):
    """Python work: not worth a helper thread."""

    type = "tests/busy@v1"
    concurrent = False


def test_only_steps_of_concurrent_blocks_go_to_helper_threads(
    failing_registry: BlockRegistry,
) -> None:
    failing_registry.register(_Busy)
    failing_registry.register(_Rendezvous)
    executor = Executor()
    options: dict[str, Any] = {"context": context(None), "decode_image": decode_image}
    cheap = compile_workflow(_parallel("tests/busy@v1", ("x", "y", "z")), failing_registry)
    [result] = executor.run(cheap, {"image": BIG}, **options)
    assert set(result.values()) == {threading.current_thread().name}
    # One concurrent step beside Python work: on a helper, the Python work meanwhile here.
    steps = [
        {"type": "tests/rendezvous@v1", "name": "model", "data": "$inputs.image"},
        {"type": "tests/rendezvous@v1", "name": "sink", "data": "$inputs.image"},
        {"type": "tests/busy@v1", "name": "draw", "data": "$inputs.image"},
    ]
    mixed = compile_workflow(definition(steps, {"draw": "$steps.draw.output"}), failing_registry)
    [result] = executor.run(mixed, {"image": BIG}, **options)  # the two meet: both on helpers
    assert result == {"draw": threading.current_thread().name}


def test_runs_start_no_threads_of_their_own(failing_registry: BlockRegistry) -> None:
    failing_registry.register(_Rendezvous)
    executor = Executor()
    pair = compile_workflow(_parallel("tests/rendezvous@v1", ("left", "right")), failing_registry)
    executor.run(pair, {"image": BIG}, context=context(None), decode_image=decode_image)
    threads = threading.active_count()
    for _ in range(20):
        executor.run(pair, {"image": BIG}, context=context(None), decode_image=decode_image)
    assert threading.active_count() == threads


# -- the run's budget -----------------------------------------------------------------------------


class _Sleepy(_Exploding):
    """Sleeps ``NAP_S`` per element and records the elements it ran."""

    type = "tests/sleepy@v1"
    NAP_S: ClassVar[float] = 0.15
    ran: ClassVar[list[str]] = []

    def run(self, inputs: StepInputs, context: RunContext) -> StepResult:
        self.ran.append(inputs.step)
        time.sleep(self.NAP_S)
        return {"output": inputs["data"]}


@pytest.fixture
def sleepy_registry() -> BlockRegistry:
    registry = BlockRegistry()
    registry.register(_Sleepy)
    _Sleepy.ran.clear()
    return registry


def _sleepy_chain(count: int) -> dict[str, Any]:
    steps = [
        {
            "type": "tests/sleepy@v1",
            "name": f"s{i}",
            "data": f"$steps.s{i - 1}.output" if i else "$inputs.image",
        }
        for i in range(count)
    ]
    return definition(steps, {"last": f"$steps.s{count - 1}.output"})


def _run_within(
    registry: BlockRegistry, workflow: dict[str, Any], inputs: dict[str, Any], max_run_s: float
) -> list[dict[str, Any]]:
    plan = compile_workflow(workflow, registry)
    executor = Executor(limits=WorkflowLimits(max_run_s=max_run_s))
    return executor.run(plan, inputs, context=context(), decode_image=decode_image)


def test_a_run_past_its_deadline_stops_before_the_next_step(
    sleepy_registry: BlockRegistry,
) -> None:
    started = time.monotonic()
    with pytest.raises(RunTimeoutError) as raised:
        _run_within(sleepy_registry, _sleepy_chain(6), {"image": BIG}, max_run_s=0.2)
    assert time.monotonic() - started < 0.2 + 2 * _Sleepy.NAP_S + 1.0
    assert raised.value.status_code == 408
    assert raised.value.message.startswith(
        "The workflow run took longer than 0.2 s, the most one run may take "
        "(VISIONFLOW_WORKFLOWS_MAX_RUN_S); it was stopped before "
    )
    # s0 (0.15 s) is within the 0.2 s, s1 starts within them too (unless the machine is slow).
    assert _Sleepy.ran in (["s0"], ["s0", "s1"])
    assert raised.value.message.endswith(f"it was stopped before step 's{len(_Sleepy.ran)}'.")


def test_a_run_past_its_deadline_stops_between_batch_elements(
    sleepy_registry: BlockRegistry,
) -> None:
    with pytest.raises(RunTimeoutError) as raised:
        _run_within(sleepy_registry, _sleepy_chain(1), {"image": [BIG] * 6}, max_run_s=0.2)
    assert _Sleepy.ran in (["s0"], ["s0", "s0"])
    stopped = f"it was stopped before element {len(_Sleepy.ran)} of step 's0'."
    assert raised.value.message.endswith(stopped)


def test_every_run_gets_its_own_budget(sleepy_registry: BlockRegistry) -> None:
    plan = compile_workflow(_sleepy_chain(2), sleepy_registry)
    executor = Executor(limits=WorkflowLimits(max_run_s=1.0))
    for _ in range(4):  # 1.2 s together, each run 0.3 s
        executor.run(plan, {"image": BIG}, context=context(), decode_image=decode_image)
    assert len(_Sleepy.ran) == 8


def test_a_deadline_the_caller_set_is_kept(sleepy_registry: BlockRegistry) -> None:
    plan = compile_workflow(_sleepy_chain(1), sleepy_registry)
    spent = RunBudget(WorkflowLimits(max_run_s=9.0), deadline=time.monotonic() - 1)
    with pytest.raises(RunTimeoutError, match="before step 's0'"):
        Executor().run(
            plan,
            {"image": BIG},
            context=RunContext(models=FakeModels(), budget=spent),
            decode_image=decode_image,
        )
    assert _Sleepy.ran == []
