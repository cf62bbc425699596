"""``mask_edge_snap``: a mask drawn short of a bright object's outline is moved onto it;
no masks: the segmentation passes unchanged, the edges are still reported."""

from __future__ import annotations

import numpy as np
import supervision as sv

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, run, step
from visionflow.workflows.blocks.mask_snap import thin_once


def _scene() -> np.ndarray:
    image = canvas(200, 120, 30)
    image[20:90, 40:150] = 220
    return image


TRUTH = np.zeros((120, 200), dtype=bool)
TRUTH[20:90, 40:150] = True


def _iou(mask: np.ndarray) -> float:
    return float((mask & TRUTH).sum() / (mask | TRUTH).sum())


def _run(detections: sv.Detections) -> dict[str, object]:
    steps = [
        step(
            "roboflow_instance_segmentation_model@v2", "seg", images="$inputs.image", model_id="m/1"
        ),
        step(
            "mask_edge_snap@v1",
            "snap",
            image="$inputs.image",
            segmentation="$steps.seg.predictions",
            pixel_tolerance=10,
        ),
    ]
    models = ScriptedModels({"m/1": lambda image: detections})
    outputs = {"refined": "$steps.snap.refined_segmentation", "edges": "$steps.snap.edges"}
    return run(steps, outputs, {"image": _scene()}, models=models, serialize=False)[0]


def test_the_mask_outline_moves_onto_the_object_edge() -> None:
    detections = boxes([[46, 26, 144, 84]])
    mask = np.zeros((1, 120, 200), dtype=bool)
    mask[0, 26:84, 46:144] = True
    detections.mask = mask
    result = _run(detections)
    refined = result["refined"]
    assert isinstance(refined, sv.Detections)
    assert refined.mask is not None
    assert _iou(refined.mask[0]) > _iou(mask[0]) + 0.05
    assert _iou(refined.mask[0]) > 0.9
    edges = result["edges"]
    assert isinstance(edges, sv.Detections)
    assert edges.data["class_name"].tolist() == ["edges"]


def test_without_masks_the_segmentation_passes_unchanged() -> None:
    empty = boxes([])
    empty.mask = np.zeros((0, 120, 200), dtype=bool)
    result = _run(empty)
    assert isinstance(result["refined"], sv.Detections)
    assert len(result["refined"]) == 0
    assert isinstance(result["edges"], sv.Detections)
    assert len(result["edges"]) == 1  # the object's edges, found over the whole image


def test_one_thinning_iteration_peels_a_layer_but_keeps_a_line() -> None:
    block = np.zeros((9, 9), np.uint8)
    block[2:7, 2:7] = 255
    thinned = thin_once(block)
    assert 0 < np.count_nonzero(thinned) < 25
    line = np.zeros((5, 9), np.uint8)
    line[2, 1:8] = 255
    assert np.count_nonzero(thin_once(line)) >= 5
