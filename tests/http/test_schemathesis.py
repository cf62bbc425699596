"""Schemathesis over every operation of the app's OpenAPI schema, in process: no answer is a 5xx.

CI runs a few derandomized examples per operation (``VISIONFLOW_FUZZ_EXAMPLES``, default
:data:`CI_EXAMPLES`); ``make fuzz`` sets it much higher and prints a table of answers per
operation. Part of the generated requests are steered toward what exists on the server (the demo
models, the tiny CLIP and YOLO-World, decodable images, valid workflows and one-field mutations of
them, a stored workflow, the demo workspace), so the fuzzed parameters reach decoding, inference
and the workflow engine instead of stopping at "model not found". Every request carries the demo
key as a Bearer header; URL images are off, so no request leaves the process. Answers are checked
for server errors and, where the schema documents the status code (200, 422), against its schema.
"""

from __future__ import annotations

import base64
import copy
import os
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode, HookContext
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Result
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.clip_tiny import CLIP_TINY
from tests.support.ocr_images import render
from visionflow.config import Settings
from visionflow.http.app import create_app
from visionflow.service.demo import DEMO_MODELS, ensure_demo
from visionflow.service.services import Services

CI_EXAMPLES = 25
EXAMPLES = int(os.environ.get("VISIONFLOW_FUZZ_EXAMPLES", str(CI_EXAMPLES)))
# The table of answers is printed when the example count was chosen (``make fuzz``).
REPORT = "VISIONFLOW_FUZZ_EXAMPLES" in os.environ
# Examples are the same on every run unless a seed is given (``make fuzz FUZZ_SEED=7``).
FUZZ_SEED = os.environ.get("VISIONFLOW_FUZZ_SEED") or None

WORKSPACE = "demo"
STORED_WORKFLOW = "fuzz"
# What the default ``clip_version_id`` and ``yolo_world_version_id`` map to.
CLIP_MODEL = "clip/1"
YOLO_WORLD_MODEL = "yolo-world/1"
MODEL_IDS = (*DEMO_MODELS, CLIP_MODEL, YOLO_WORLD_MODEL)


def _encoded(pixels: np.ndarray, extension: str) -> str:
    ok, buffer = cv2.imencode(extension, pixels)
    assert ok
    return base64.b64encode(buffer.tobytes()).decode()


_RNG = np.random.default_rng(9)
# Base64 text of a noise JPEG, a one-pixel PNG, a grey PNG, an RGBA PNG and a line of text.
ENCODED_IMAGES = (
    _encoded(_RNG.integers(0, 255, (48, 64, 3), dtype=np.uint8), ".jpg"),
    _encoded(np.full((1, 1, 3), 200, dtype=np.uint8), ".png"),
    _encoded(np.full((32, 32), 90, dtype=np.uint8), ".png"),
    _encoded(_RNG.integers(0, 255, (16, 24, 4), dtype=np.uint8), ".png"),
    _encoded(render(("fuzz 42",), 24), ".png"),
)
IMAGES = tuple({"type": "base64", "value": value} for value in ENCODED_IMAGES)
# The demo model each task route serves; other routes get any known model.
TASK_MODELS = {
    "/infer/object_detection": "shapes/1",
    "/infer/instance_segmentation": "shapes-seg/1",
    "/infer/classification": "shapes-cls/1",
    "/infer/keypoints_detection": "keypoints/1",
    "/infer/semantic_segmentation": "semantic/1",
}
LEGACY_PATH = "/{project}/{version}"
# Query parameters the legacy route reads (the document declares them too, in routes/legacy.py);
# the test's copy of the document declares these instead, steered to useful values.
LEGACY_QUERY: dict[str, dict[str, Any]] = {
    "confidence": {"type": "number", "minimum": 0, "maximum": 100},
    "overlap": {"type": "number", "minimum": 0, "maximum": 100},
    "max_detections": {"type": "integer", "minimum": 0, "maximum": 10_000},
    "class_agnostic_nms": {"type": "boolean"},
    "mask_decode_mode": {"enum": ["accurate", "fast", "tradeoff"]},
    "response_mask_format": {"enum": ["polygon", "rle"]},
    "tradeoff_factor": {"type": "number", "minimum": 0, "maximum": 1},
    "keypoint_confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "format": {"enum": ["json", "image", "image_and_json"]},
    "labels": {"type": "boolean"},
    "stroke": {"type": "integer", "minimum": 0, "maximum": 50},
    "image_type": {"enum": ["base64"]},
}


def _step(block: str, name: str, **fields: Any) -> dict[str, Any]:
    return {"type": f"roboflow_core/{block}", "name": name, **fields}


def _workflow(
    steps: list[dict[str, Any]], outputs: dict[str, str], *parameters: str
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "inputs": [
            {"type": "WorkflowImage", "name": "image"},
            *({"type": "WorkflowParameter", "name": name} for name in parameters),
        ],
        "steps": steps,
        "outputs": [
            {"type": "JsonField", "name": name, "selector": selector}
            for name, selector in outputs.items()
        ],
    }


DETECT = _step(
    "roboflow_object_detection_model@v2",
    "det",
    images="$inputs.image",
    model_id="shapes/1",
    confidence="$inputs.confidence",
)
CROP = _step(
    "dynamic_crop@v1", "crop", images="$inputs.image", predictions="$steps.det.predictions"
)
COUNT = {"type": "SequenceLength"}
WORKFLOW = {
    **_workflow(
        [DETECT, CROP],
        {"predictions": "$steps.det.predictions", "crops": "$steps.crop.crops"},
    ),
    "inputs": [
        {"type": "WorkflowImage", "name": "image"},
        {"type": "WorkflowParameter", "name": "confidence", "default_value": 0.3},
    ],
}
# Valid definitions over the demo models; fuzzed bodies get these or a one-field mutation.
WORKFLOWS = (
    WORKFLOW,
    # Detect, classify the crops, draw the boxes and count them.
    _workflow(
        [
            {**DETECT, "confidence": 0.2},
            CROP,
            _step(
                "roboflow_classification_model@v2",
                "cls",
                images="$steps.crop.crops",
                model_id="shapes-cls/1",
            ),
            _step(
                "bounding_box_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.det.predictions",
            ),
            _step(
                "property_definition@v1",
                "count",
                data="$steps.det.predictions",
                operations=[COUNT],
            ),
        ],
        {
            "classes": "$steps.cls.predictions",
            "viz": "$steps.viz.image",
            "n": "$steps.count.output",
        },
    ),
    # Segment, keep some classes by a parameter, name them; keypoints and semantic beside.
    _workflow(
        [
            _step(
                "roboflow_instance_segmentation_model@v2",
                "seg",
                images="$inputs.image",
                model_id="shapes-seg/1",
            ),
            _step(
                "detections_filter@v1",
                "only",
                predictions="$steps.seg.predictions",
                operations=[
                    {
                        "type": "DetectionsFilter",
                        "filter_operation": {
                            "type": "StatementGroup",
                            "operator": "and",
                            "statements": [
                                {
                                    "type": "BinaryStatement",
                                    "left_operand": {
                                        "type": "DynamicOperand",
                                        "operand_name": "_",
                                        "operations": [
                                            {
                                                "type": "ExtractDetectionProperty",
                                                "property_name": "class_name",
                                            }
                                        ],
                                    },
                                    "comparator": {"type": "in (Sequence)"},
                                    "right_operand": {
                                        "type": "DynamicOperand",
                                        "operand_name": "wanted",
                                    },
                                }
                            ],
                        },
                    }
                ],
                operations_parameters={"wanted": "$inputs.wanted"},
            ),
            _step(
                "property_definition@v1",
                "names",
                data="$steps.only.predictions",
                operations=[{"type": "DetectionsPropertyExtract", "property_name": "class_name"}],
            ),
            _step(
                "roboflow_keypoint_detection_model@v2",
                "pose",
                images="$inputs.image",
                model_id="keypoints/1",
            ),
            _step(
                "roboflow_semantic_segmentation_model@v1",
                "sem",
                images="$inputs.image",
                model_id="semantic/1",
            ),
        ],
        {
            "names": "$steps.names.output",
            "pose": "$steps.pose.predictions",
            "sem": "$steps.sem.predictions",
        },
        "wanted",
    ),
    # A gate on the number of detections before a classification, with a fallback.
    _workflow(
        [
            {**DETECT, "confidence": 0.2},
            _step(
                "continue_if@v1",
                "gate",
                condition_statement={
                    "type": "StatementGroup",
                    "statements": [
                        {
                            "type": "BinaryStatement",
                            "left_operand": {
                                "type": "DynamicOperand",
                                "operand_name": "found",
                                "operations": [COUNT],
                            },
                            "comparator": {"type": "(Number) >="},
                            "right_operand": {"type": "StaticOperand", "value": 1},
                        }
                    ],
                },
                evaluation_parameters={"found": "$steps.det.predictions"},
                next_steps=["$steps.cls"],
            ),
            _step(
                "roboflow_classification_model@v2",
                "cls",
                images="$inputs.image",
                model_id="shapes-cls/1",
            ),
            _step(
                "first_non_empty_or_default@v1",
                "label",
                data=["$steps.cls.predictions"],
                default="none",
            ),
        ],
        {"label": "$steps.label.output"},
    ),
)
STEPS = tuple(step for workflow in WORKFLOWS for step in workflow["steps"])
# Free-form bodies, by path: what a valid one is.
FREE_FORM_BODIES: dict[str, tuple[dict[str, Any], ...]] = {
    "/workflows/validate": WORKFLOWS,
    "/{workspace_name}/workflows/{workflow_id}/versions": WORKFLOWS,
    "/workflows/blocks/dynamic_outputs": STEPS,
}

# Optional fields a steered body gets even when the generated one left them out.
ADDED_FIELDS = {
    "/clip/embed_text": ("text",),
    "/clip/compare": ("subject", "subject_type", "prompt", "prompt_type"),
}

# A mutation's new value: JSON of a few leaves, selectors (valid or not), or the key removed.
_DELETE = object()
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=5,
)
SELECTORS = (
    "$inputs.image",
    "$inputs.confidence",
    "$inputs.missing",
    "$steps.det.predictions",
    "$steps.crop.crops",
    "$steps.missing.output",
    "$steps.det",
    "$steps.",
    "$",
)
NEW_VALUES = st.one_of(JSON_VALUES, st.sampled_from(SELECTORS), st.just(_DELETE))
TEXTS = st.one_of(st.text(max_size=80), st.lists(st.text(max_size=24), min_size=1, max_size=4))
CLASS_NAMES = st.lists(
    st.one_of(st.sampled_from(("circle", "square", "triangle", "a dog")), st.text(max_size=16)),
    min_size=1,
    max_size=5,
)

# operation label → answers by status code, over the whole module
ANSWERS: defaultdict[str, Counter[int]] = defaultdict(Counter)


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The key path of every value inside ``value`` (dict values and list items), outside in."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        yield (*prefix, key)
        if isinstance(item, dict | list) and item:
            yield from _places(item, (*prefix, key))


def _with(document: Any, place: tuple[Any, ...], new: Any) -> Any:
    """A copy of ``document`` with the value at ``place`` replaced by ``new`` (or removed)."""
    changed = copy.deepcopy(document)
    parent = changed
    for key in place[:-1]:
        parent = parent[key]
    if new is _DELETE:
        del parent[place[-1]]
    else:
        parent[place[-1]] = new
    return changed


def _valid_or_mutated(documents: tuple[dict[str, Any], ...]) -> st.SearchStrategy[dict[str, Any]]:
    """One of ``documents``, as it is or with one value anywhere inside it changed or removed."""

    def mutations(document: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        places = st.sampled_from(list(_places(document)))
        return st.one_of(st.just(document), st.builds(_with, st.just(document), places, NEW_VALUES))

    return st.sampled_from(documents).flatmap(mutations)


def _known_fields(path: str, body: dict[str, Any]) -> dict[str, st.SearchStrategy[Any]]:
    """Strategies of values the server knows, for the fields of ``body`` that take them."""
    image = st.sampled_from(IMAGES)
    images = st.one_of(image, st.lists(image, min_size=1, max_size=3))
    model_id = TASK_MODELS.get(path)
    known: dict[str, st.SearchStrategy[Any]] = {
        "model_id": st.sampled_from(MODEL_IDS if model_id is None else (model_id,)),
        "image": images,
        "specification": _valid_or_mutated(WORKFLOWS),
        "workflow_id": st.just(STORED_WORKFLOW),
        "text": CLASS_NAMES if path.startswith("/yolo_world") else TEXTS,
        "subject": st.one_of(images, TEXTS),
        "prompt": st.one_of(images, TEXTS),
        "subject_type": st.sampled_from(("image", "text")),
        "prompt_type": st.sampled_from(("image", "text")),
        "clip_version_id": st.just("ViT-B-16"),
        "yolo_world_version_id": st.just("l"),
    }
    if isinstance(body.get("inputs"), dict):
        inputs = body["inputs"]
        # The image and, sometimes, the parameters the known workflows declare.
        known["inputs"] = st.fixed_dictionaries(
            {"image": images},
            optional={"confidence": st.floats(0.0, 1.0), "wanted": CLASS_NAMES},
        ).map(lambda picked: {**inputs, **picked})
    wanted = {*body, *ADDED_FIELDS.get(path, ())}
    return {name: strategy for name, strategy in known.items() if name in wanted}


def _steered(path: str, body: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """``body`` with some of its fields replaced by values the server knows."""
    if path in FREE_FORM_BODIES:
        return _valid_or_mutated(FREE_FORM_BODIES[path])
    fields = _known_fields(path, body)
    if not fields:
        return st.just(body)
    return st.fixed_dictionaries(fields).map(lambda changes: {**body, **changes})


def _with_legacy_parameters(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the legacy route's query parameters, and its base64 body on POST."""
    parameters = [
        {"name": name, "in": "query", "required": False, "schema": parameter_schema}
        for name, parameter_schema in LEGACY_QUERY.items()
    ]
    for method, operation in document["paths"][LEGACY_PATH].items():
        # The test's copy replaces the documented query parameters (same names, tighter ranges).
        path_parameters = [p for p in operation.get("parameters", []) if p["in"] != "query"]
        operation["parameters"] = [*path_parameters, *parameters]
        if method == "post":
            operation["requestBody"] = {
                "required": True,
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
    return document


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document. Test items are made per operation at collection, before any
    fixture runs, so the document comes from a throwaway app; requests go to the fixture's app."""
    with tempfile.TemporaryDirectory() as folder:
        services = Services.build(Settings(home=Path(folder), register_demo_models=False))
        try:
            return _with_legacy_parameters(create_app(services).openapi())
        finally:
            services.close()


def _labels(
    operations: Iterable[Result[APIOperation[Any, Any, Any, Any], InvalidSchema]],
) -> list[str]:
    """The label of every operation; one that schemathesis cannot read fails the collection."""
    labels = []
    for operation in operations:
        if isinstance(operation, Err):
            raise operation.err()
        labels.append(operation.ok().label)
    return sorted(labels)


schema = schemathesis.openapi.from_dict(_openapi_document())
OPERATIONS = _labels(schema.get_all_operations())
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=FUZZ_SEED is None,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=(Phase.explicit, Phase.generate, Phase.shrink),
)


@schema.hook("flatmap_body")
def steer_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Half of the bodies keep what was generated; the others get known values."""
    assert context.operation is not None
    path = context.operation.path
    if isinstance(body, dict):
        return st.one_of(st.just(body), _steered(path, body))
    if isinstance(body, str) and path == LEGACY_PATH:
        return st.one_of(st.just(body), st.sampled_from(ENCODED_IMAGES))
    return st.just(body)


@schema.hook("flatmap_path_parameters")
def steer_path_parameters(_context: HookContext, parameters: Any) -> st.SearchStrategy[Any]:
    """Half of the path parameters name the demo workspace, its stored workflow or a model."""
    if not isinstance(parameters, dict):
        return st.just(parameters)
    known: dict[str, st.SearchStrategy[str]] = {}
    if "workspace_name" in parameters:
        known["workspace_name"] = st.just(WORKSPACE)
    if "workflow_id" in parameters:
        known["workflow_id"] = st.just(STORED_WORKFLOW)
    if "project" in parameters:
        project_version = st.sampled_from(MODEL_IDS).map(lambda model_id: model_id.split("/"))
        return st.one_of(
            st.just(parameters),
            project_version.map(
                lambda pair: {**parameters, "project": pair[0], "version": pair[1]}
            ),
        )
    if not known:
        return st.just(parameters)
    changed = st.fixed_dictionaries(known).map(lambda changes: {**parameters, **changes})
    return st.one_of(st.just(parameters), changed)


@dataclass(frozen=True)
class Target:
    app: FastAPI
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, yolo_world_package: Path) -> Iterator[Target]:
    """The real app on a fresh home with the demo models, the tiny CLIP and YOLO-World and a stored
    workflow, and the demo workspace's key as a Bearer header. Hypothesis keeps its caches in a
    temporary folder too."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    settings = Settings(
        home=tmp_path_factory.mktemp("schemathesis") / "home",
        register_demo_models=True,
        allow_url_input=False,
    )
    services = Services.build(settings)
    try:
        demo = ensure_demo(settings, services.registry, services.models)
        services.models.add_from_path(WORKSPACE, CLIP_MODEL, CLIP_TINY)
        services.models.add_from_path(WORKSPACE, YOLO_WORLD_MODEL, yolo_world_package)
        services.registry.add_workflow_version(WORKSPACE, STORED_WORKFLOW, WORKFLOW)
        yield Target(create_app(services), {"Authorization": f"Bearer {demo.api_key}"})
    finally:
        services.close()
        set_hypothesis_home_dir(None)


@pytest.fixture(scope="module", autouse=True)
def answers_table(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.perf_counter()
    yield
    if not REPORT:
        return
    elapsed_s = time.perf_counter() - started
    total: Counter[int] = Counter()
    lines = ["", f"{'operation':<66} {'requests':>8}  answers by status"]
    for label in sorted(ANSWERS):
        counts = ANSWERS[label]
        total.update(counts)
        by_status = " ".join(f"{code}:{n}" for code, n in sorted(counts.items()))
        lines.append(f"{label:<66} {sum(counts.values()):>8}  {by_status}")
    server_errors = sum(n for code, n in total.items() if code >= 500)
    lines.append(
        f"{len(ANSWERS)} operations, {sum(total.values())} requests "
        f"(up to {EXAMPLES} generated examples per operation, seed {FUZZ_SEED or 'fixed'}), "
        f"{server_errors} answers >= 500, {elapsed_s:.0f} s"
    )
    # Teardown output is captured; the table is for the terminal.
    plugins = request.config.pluginmanager
    with plugins.getplugin("capturemanager").global_and_fixture_disabled():
        for line in lines:
            plugins.getplugin("terminalreporter").write_line(line)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_error(label: str, target: Target) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None

    @SETTINGS
    @given(st.one_of([operation.as_strategy(mode) for mode in GenerationMode]))
    def no_server_error(case: schemathesis.Case[Any]) -> None:
        response = case.call(headers=target.headers, app=target.app)
        ANSWERS[label][response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    if FUZZ_SEED is not None:
        no_server_error = seed(int(FUZZ_SEED))(no_server_error)
    no_server_error()
