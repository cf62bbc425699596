"""``label_visualization@v1..v2``: what each ``text`` choice writes, and v2's ``Automatic`` text
size (the label grows with the image)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.workflows.blocks.visualizations import detection_labels
from visionflow.workflows.errors import InvalidInputTypeError


def _two() -> sv.Detections:
    detections = boxes([[10, 20, 50, 40], [60, 10, 100, 90]], [0.91, 0.5], [0, 1])
    detections.tracker_id = np.array([7, 8])
    detections.data["time_in_zone"] = np.array([1.234, 0.0])
    detections.data["area_px"] = np.array([12.5, None], dtype=object)
    return detections


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Class", ["a", "b"], id="class"),
        pytest.param("Confidence", ["0.91", "0.50"], id="confidence"),
        pytest.param("Class and Confidence", ["a 0.91", "b 0.50"], id="both"),
        pytest.param("Index", ["0", "1"], id="index"),
        pytest.param("Dimensions", ["30, 30 40x20", "80, 50 40x80"], id="dimensions"),
        pytest.param("Area", ["800", "3200"], id="area"),
        pytest.param("Area (mask)", ["Area (mask): 12.50", "Area (mask): N/A"], id="mask-area"),
        pytest.param(
            "Area (converted)", ["Area (conv): N/A", "Area (conv): N/A"], id="converted-absent"
        ),
        pytest.param("Tracker Id", ["7", "8"], id="tracker"),
        pytest.param("Time In Zone", ["In zone: 1.23s", "In zone: N/A"], id="time-in-zone"),
        pytest.param("class_name", ["a", "b"], id="data-key"),
        pytest.param("area_px", ["12.5", ""], id="data-key-missing-value"),
        pytest.param("nonsense", None, id="unknown"),
    ],
)
def test_label_texts(text: str, expected: list[str] | None) -> None:
    assert detection_labels(_two(), text) == expected


def test_labels_of_no_detections_are_empty() -> None:
    assert detection_labels(boxes([]), "Class and Confidence") == []


def _label_height(
    version: str, size_wh: tuple[int, int], parameters: dict[str, Any] | None = None, **fields: Any
) -> int:
    """Rows the label of one detection in the image's middle covers (white text on a palette
    background over a black image)."""
    parameters = parameters or {}
    width, height = size_wh
    box = [width // 2 - 10, height // 2 - 10, width // 2 + 10, height // 2 + 10]
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                f"label_visualization@{version}",
                "viz",
                image="$inputs.image",
                predictions="$steps.det.predictions",
                text_position="CENTER",
                **fields,
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas(width, height)},
        {"image": "image", **parameters},
        declared=[
            {"type": "WorkflowImage", "name": "image"},
            *({"type": "WorkflowParameter", "name": name} for name in parameters),
        ],
        models=ScriptedModels({"m/1": lambda image: boxes([box])}),
    )
    rows = np.nonzero(result["image"].pixels_bgr.any(axis=(1, 2)))[0]
    return int(rows.max() - rows.min() + 1)


def test_v2_manual_size_is_v1s() -> None:
    v1 = _label_height("v1", (400, 300))
    assert v1 > 0
    assert _label_height("v2", (400, 300)) == v1
    assert _label_height("v2", (2400, 1800), text_size_mode="Manual") == v1


def test_v2_automatic_size_follows_the_image() -> None:
    small = _label_height("v2", (400, 300), text_size_mode="Automatic")  # scale clamped to 0.3
    large = _label_height("v2", (3200, 2160), text_size_mode="Automatic")  # scale 2.0
    manual = _label_height("v2", (3200, 2160))
    assert small < manual < large


def test_unknown_text_and_size_mode_are_400s() -> None:
    with pytest.raises(InvalidInputTypeError, match="field 'text'"):
        _label_height("v1", (200, 100), {"text": "Colour"}, text="$inputs.text")
    with pytest.raises(InvalidInputTypeError, match="expected Manual or Automatic"):
        _label_height("v2", (200, 100), {"mode": "Auto"}, text_size_mode="$inputs.mode")


def test_a_class_name_with_an_unpaired_surrogate_is_drawn_not_a_crash() -> None:
    # OpenCV's putText takes the whole process down on one (a provider's reply or a model file
    # can carry it; the HTTP layer screens only request bodies).
    broken = "car\ud800"
    assert detection_labels(boxes([[10, 10, 60, 40]], names=(broken,)), "Class") == ["car\ufffd"]
    [result] = run(
        [
            model_step("det", "m/1"),
            step(
                "label_visualization@v1",
                "viz",
                image="$inputs.image",
                predictions="$steps.det.predictions",
            ),
        ],
        {"image": "$steps.viz.image"},
        {"image": canvas(200, 100)},
        {"image": "image"},
        declared=[{"type": "WorkflowImage", "name": "image"}],
        models=ScriptedModels({"m/1": lambda image: boxes([[10, 10, 60, 40]], names=(broken,))}),
    )
    assert result["image"].pixels_bgr.any()
