"""Dev-only: do visionflow's ``vlm_as_detector`` / ``vlm_as_classifier``, serialized detections
inputs and ``geotag_detection`` answer what the reference's own code (roboflow-workflows 0.2.14)
answers, as JSON, on the same inputs?

Not a test and never run in CI: it imports the reference's blocks and deserializers from an
unpacked ``roboflow-workflows`` wheel (``--reference-src``, the folder holding
``roboflow_workflows/``) with torch, torchvision, inference_models and pybase64 stubbed (these
code paths never call them), generates random and malformed model answers and detections
payloads, and counts the outputs whose serialized JSON is identical (new uuids aside). See
``benchmarks/PEER.md`` ("VLM formatters, serialized inputs, geotag").

    .venv/bin/python benchmarks/compare_reference_vlm.py --reference-src /tmp/ref/src
"""

from __future__ import annotations

import argparse
import base64
import importlib.abc
import importlib.machinery
import json
import random
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import numpy as np
import supervision as sv

from visionflow.workflows.block import RunContext, StepInputs
from visionflow.workflows.blocks.geotag import GeoTagDetectionV1
from visionflow.workflows.blocks.vlm_formatters import (
    VlmAsClassifierV2,
    VlmAsDetectorV1,
    VlmAsDetectorV2,
)
from visionflow.workflows.deserialize_detections import detections_from_wire
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.serialize import serialize_value

RNG = random.Random(7)
CONTEXT = RunContext(models=None)  # type: ignore[arg-type]
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_STUBBED = ("torch", "torchvision", "inference_models", "pybase64")


class _Stub(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (Exception,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname.split(".")[0] in _STUBBED:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        module = _Stub(spec.name)
        module.__path__ = []
        if spec.name == "pybase64":
            module.b64decode = base64.b64decode  # type: ignore[attr-defined]
            module.b64encode = base64.b64encode  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _import_reference(src: str) -> types.SimpleNamespace:
    sys.meta_path.insert(0, _StubFinder())
    sys.path.insert(0, src)
    from roboflow_workflows.core_steps.common.deserializers import deserialize_detections_kind
    from roboflow_workflows.core_steps.common.serializers import serialise_sv_detections
    from roboflow_workflows.core_steps.formatters.vlm_as_classifier.v2 import (
        VLMAsClassifierBlockV2,
    )
    from roboflow_workflows.core_steps.formatters.vlm_as_detector.v1 import VLMAsDetectorBlockV1
    from roboflow_workflows.core_steps.formatters.vlm_as_detector.v2 import VLMAsDetectorBlockV2
    from roboflow_workflows.core_steps.transformations.geotag_detection.v1 import (
        GeoTagDetectionBlockV1,
    )
    from roboflow_workflows.execution_engine.entities.base import (
        ImageParentMetadata,
        WorkflowImageData,
    )

    if not hasattr(sv.Detections, "from_lmm"):
        # The reference pins supervision < 0.31, where from_lmm still aliased from_vlm.
        def from_lmm(lmm: Any, result: Any, resolution_wh: Any) -> sv.Detections:
            return sv.Detections.from_vlm(sv.VLM.FLORENCE_2, result, resolution_wh=resolution_wh)

        sv.Detections.from_lmm = staticmethod(from_lmm)  # type: ignore[attr-defined]

    def image(pixels: np.ndarray) -> Any:
        return WorkflowImageData(
            parent_metadata=ImageParentMetadata(parent_id="image"), numpy_image=pixels
        )

    return types.SimpleNamespace(
        image=image,
        detector_v1=VLMAsDetectorBlockV1(),
        detector_v2=VLMAsDetectorBlockV2(),
        classifier=VLMAsClassifierBlockV2(),
        geotag=GeoTagDetectionBlockV1(),
        deserialize=deserialize_detections_kind,
        serialise=serialise_sv_detections,
    )


def _plain(value: Any) -> Any:
    """JSON-comparable form: uuids blanked, floats rounded to 6 decimals."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "inference_id"}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str) and UUID.match(value):
        return "<uuid>"
    if isinstance(value, float):
        return round(value, 6)
    return value


def _answer_json(result: dict[str, Any], serialise: Callable[[Any], Any]) -> Any:
    predictions = result["predictions"]
    if isinstance(predictions, sv.Detections):
        predictions = serialise(predictions)
    return _plain({"error_status": result["error_status"], "predictions": predictions})


def _as_reference_writes_inverted_boxes(answer: Any) -> Any:
    """Our JSON of boxes whose max is below their min, rewritten the way the reference's
    serializer writes them: ``width = |x2 - x1|`` and ``x = x1 + width / 2`` (a centre outside
    the box), where ours writes the signed width and the true centre."""
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, dict):
        return answer
    rewritten = []
    for item in predictions["predictions"]:
        item = dict(item)
        for centre, size in (("x", "width"), ("y", "height")):
            if item[size] < 0:
                item[centre] = round(item[centre] - item[size], 6)
                item[size] = -item[size]
        rewritten.append(item)
    return {**answer, "predictions": {**predictions, "predictions": rewritten}}


def _number(scale: float) -> Any:
    roll = RNG.random()
    if roll < 0.04:
        return "12"
    if roll < 0.07:
        return True
    if roll < 0.09:
        return None
    return round(RNG.uniform(-0.1 * scale, 1.1 * scale), 2)


def _entry(style: str) -> Any:
    if RNG.random() < 0.05:
        return "junk"
    entry: dict[str, Any] = {}
    if style in ("box_2d", "bbox_2d"):
        entry[style] = [_number(1000) for _ in range(RNG.choice([4, 4, 4, 3]))]
    else:
        scale = 1 if style == "normalized" else 1000
        entry.update({k: _number(scale) for k in ("x_min", "y_min", "x_max", "y_max")})
    label_key = RNG.choice(["label", "class_name", "class", "description", None])
    if label_key:
        entry[label_key] = RNG.choice(["cat", "dog", "fox", "", 3])
    if RNG.random() < 0.6:
        entry["confidence"] = RNG.choice([0.5, 1.5, -1, 0.25, "0.7"])
    return entry


def _answer() -> str:
    style = RNG.choice(["box_2d", "bbox_2d", "normalized", "named"])
    entries = [_entry(style) for _ in range(RNG.randint(0, 3))]
    shape = RNG.choice(["list", "wrapped", "single", "bracketless"])
    if shape == "list":
        text = json.dumps(entries)
    elif shape == "wrapped":
        text = json.dumps({"detections": entries})
    elif shape == "single":
        text = json.dumps(entries[0] if entries else {})
    else:
        text = ", ".join(json.dumps(e) for e in entries)
    return RNG.choice(["", "```json\n", "Sure: "]) + text + RNG.choice(["", "\n```", " :)"])


FLORENCE = [
    ('{"bboxes": [[1, 2, 30, 40.6]], "labels": ["car"]}', "object-detection"),
    ('{"bboxes": [[1, 2, 30, 40.6]], "labels": ["car"]}', "phrase-grounded-object-detection"),
    ('{"bboxes": [[1, 2, 30, 40.6]], "labels": ["car"]}', "object-detection-and-caption"),
    ('{"bboxes": [[1, 2, 3, 4]], "bboxes_labels": ["dog"]}', "open-vocabulary-object-detection"),
    ('{"bboxes": [[1, 2, 3, 4]], "labels": [""]}', "region-proposal"),
    (
        '{"quad_boxes": [[1, 2, 30, 2, 30, 40, 1, 40]], "labels": ["EXIT"]}',
        "ocr-with-text-detection",
    ),
    ('{"bboxes": [], "labels": []}', "object-detection"),
]
MODEL_TYPES = ["openai", "google-gemini", "anthropic-claude", "spacexai", "qwen", "muse", "zai"]


def compare_detector(ref: types.SimpleNamespace, count: int) -> tuple[int, int, int]:
    """``(identical, identical but for inverted boxes' JSON, total)``."""
    same = inverted = total = 0
    cases: list[tuple[str, str, str, list[str] | None, str]] = []
    for _ in range(count):
        model = RNG.choice(MODEL_TYPES)
        version = (
            "v1" if model in ("google-gemini", "anthropic-claude") and RNG.random() < 0.3 else "v2"
        )
        cases.append((_answer(), model, "object-detection", ["cat", "dog"], version))
    for text, task in FLORENCE:
        for classes in (["cat", "dog"], None):
            cases += [
                (text, "florence-2", task, classes, "v1"),
                (text, "florence-2", task, classes, "v2"),
            ]
    for text, model, task, classes, version in cases:
        width, height = RNG.choice([(200, 100), (640, 480), (4096, 2048), (3000, 3000)])
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        values = {"vlm_output": text, "classes": classes, "model_type": model, "task_type": task}
        block = ref.detector_v1 if version == "v1" else ref.detector_v2
        theirs = block.run(image=ref.image(pixels), **values)
        ours_block = VlmAsDetectorV1() if version == "v1" else VlmAsDetectorV2()
        image = WorkflowImage.from_input(pixels, "image")
        ours = ours_block.run(StepInputs("s", ours_block.type, {**values, "image": image}), CONTEXT)
        total += 1
        expected, found = _answer_json(theirs, ref.serialise), _answer_json(ours, serialize_value)
        same += expected == found
        inverted += expected != found and expected == _as_reference_writes_inverted_boxes(found)
    return same, inverted, total


def compare_classifier(ref: types.SimpleNamespace, count: int) -> tuple[int, int]:
    same = 0
    pixels = np.zeros((100, 200, 3), dtype=np.uint8)
    image = WorkflowImage.from_input(pixels, "image")
    for _ in range(count):
        value = lambda: RNG.choice([0.3, 1.7, -2, "0.5", "high", None, True, [1]])  # noqa: E731
        shape = RNG.choice(["single", "multi", "bare", "other"])
        doc: Any
        if shape == "single":
            doc = {"class_name": RNG.choice(["cat", "dog", "bird", 5, None]), "confidence": value()}
        elif shape in ("multi", "bare"):
            entries = [
                {
                    RNG.choice(["class", "class_name", "label"]): RNG.choice(["cat", "fox", 3]),
                    "confidence": value(),
                }
                for _ in range(RNG.randint(0, 3))
            ]
            doc = {"predicted_classes": entries} if shape == "multi" else entries
        else:
            doc = {"answer": "dog"}
        text = RNG.choice(["", "```json\n", "Answer: "]) + json.dumps(doc)
        classes = RNG.choice([["cat", "dog"], [], ["dog", "dog"]])
        theirs = ref.classifier.run(image=ref.image(pixels), vlm_output=text, classes=list(classes))
        inputs = StepInputs(
            "s",
            VlmAsClassifierV2.type,
            {"image": image, "vlm_output": text, "classes": list(classes)},
        )
        ours = VlmAsClassifierV2().run(inputs, CONTEXT)
        same += _answer_json(theirs, ref.serialise) == _answer_json(ours, serialize_value)
    return same, count


def _prediction(index: int, with_points: bool) -> dict[str, Any]:
    prediction: dict[str, Any] = {
        "x": RNG.uniform(0, 100),
        "y": RNG.uniform(0, 80),
        "width": RNG.uniform(1, 40),
        "height": RNG.uniform(1, 30),
        "confidence": round(RNG.random(), 3),
        "class": RNG.choice(["a", "b"]),
        "class_id": RNG.choice([0, 1]),
    }
    if RNG.random() < 0.03:
        prediction["x"] = "7"
    if RNG.random() < 0.7:
        prediction["detection_id"] = f"d{index}"
    if with_points:
        cx, cy = RNG.uniform(10, 90), RNG.uniform(10, 70)
        corners = RNG.choice([4, 5, 2])
        prediction["points"] = [
            {"x": round(cx + 8 * np.cos(t), 1), "y": round(cy + 8 * np.sin(t), 1)}
            for t in np.linspace(0, 6.28, corners, endpoint=False)
        ]
    return prediction


def compare_deserialization(ref: types.SimpleNamespace, count: int) -> tuple[int, int]:
    same = 0
    for _ in range(count):
        with_points = RNG.random() < 0.4
        predictions = [_prediction(i, with_points) for i in range(RNG.randint(0, 4))]
        if predictions and RNG.random() < 0.2:
            for prediction in predictions:
                prediction["time_in_zone"] = RNG.random()
        wire = {"image": {"width": 100, "height": 80}, "predictions": predictions}
        try:
            theirs = _plain(ref.serialise(ref.deserialize("dets", json.loads(json.dumps(wire)))))
        except Exception:
            theirs = "error"
        try:
            ours = _plain(
                serialize_value(detections_from_wire("dets", json.loads(json.dumps(wire))))
            )
        except ValueError:
            ours = "error"
        same += theirs == ours
    return same, count


def compare_geotag(ref: types.SimpleNamespace, count: int) -> tuple[int, int]:
    same = 0
    for _ in range(count):
        width, height = RNG.choice([(640, 480), (1920, 1080), (100, 300)])
        rows = RNG.randint(0, 4)
        xyxy = np.sort(
            np.array([[RNG.uniform(0, width) for _ in range(4)] for _ in range(rows)]).reshape(
                -1, 2, 2
            ),
            axis=1,
        )
        detections = sv.Detections(
            xyxy=xyxy.reshape(-1, 4)[:, [0, 2, 1, 3]].astype(np.float64),
            confidence=np.array([RNG.random() for _ in range(rows)]),
            class_id=np.zeros(rows, dtype=int),
            data={"class_name": np.array(["car"] * rows)},
        )
        settings = {
            "latitude": RNG.uniform(-80, 80),
            "longitude": RNG.uniform(-180, 180),
            "altitude": RNG.choice([0.0, 30.0, 120.5]),
            "horizontal_fov": RNG.choice([73.7, 84.0]),
            "heading": RNG.uniform(0, 360),
        }
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        theirs = ref.geotag.run(image=ref.image(pixels), predictions=detections, **settings)
        image = WorkflowImage.from_input(pixels, "image")
        values = {"image": image, "predictions": detections, **settings}
        ours = GeoTagDetectionV1().run(StepInputs("s", GeoTagDetectionV1.type, values), CONTEXT)
        same += theirs == ours
    return same, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-src", required=True)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    ref = _import_reference(args.reference_src)
    same, inverted, total = compare_detector(ref, args.count)
    print(
        f"vlm_as_detector@v1/v2: {same} / {total} identical, {inverted} more identical but for "
        "the JSON of inverted boxes (x_max < x_min)"
    )
    for name, compare in (
        ("vlm_as_classifier@v2", compare_classifier),
        ("detections inputs (deserialize, then serialize)", compare_deserialization),
        ("geotag_detection@v1", compare_geotag),
    ):
        same, total = compare(ref, args.count)
        print(f"{name}: {same} / {total} identical")


if __name__ == "__main__":
    main()
