"""Fixture models of every task with known outputs, for end-to-end workflow tests.

On a 640x480 image (letterboxed to 320x320: scale 0.5, padding (0, 40)):
- ``seg/1``: "square" box (256, 176, 384, 304), 0.9, mask filling it; "circle" box
  (120, 120, 200, 200), 0.8, mask keeping x < 160;
- ``pose/1``: "person" box (256, 176, 384, 304) with keypoints nose 0.9, left_eye 0.0,
  right_eye 0.5;
- ``cls/1``: cat 0.1, dog 0.7, bird 0.2 (single label); ``tags/1``: cat 0.9, dog 0.2, bird 0.6
  (multi-label);
- ``sem/1``: "person" where x < 320 (rows y >= 40 of the image), "sky" in the top rows.
The shared ``known/1`` detector (tests/conftest.py) sees one "square" (320, 240, 128 x 128).
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.onnx_graphs import (
    classifier_scores,
    region_planes,
    write_roboflow_task_folder,
    write_ultralytics_outputs,
    write_visionflow_package,
    yolov8_pose_rows,
    yolov8_seg_outputs,
)

SHAPES = ("circle", "square")
ANIMALS = ("cat", "dog", "bird")


def write_task_models(folder: Path) -> dict[str, Path]:
    protos = region_planes(
        4,
        (80, 80),
        [(0, (0, 0, 80, 80), 10.0), (1, (0, 0, 20, 80), 10.0), (1, (20, 0, 80, 80), -10.0)],
    )
    seg = yolov8_seg_outputs(
        [[160, 160, 64, 64], [80, 120, 40, 40]],
        [[0.1, 0.9], [0.8, 0.1]],
        [[1, 0, 0, 0], [0, 1, 0, 0]],
        protos,
        anchors=2100,
    )
    pose = yolov8_pose_rows(
        [[160, 160, 64, 64]],
        [[0.9]],
        [[[140, 150, 0.9], [10, 20, 0.0], [330, 300, 0.5]]],
        anchors=2100,
    )
    logits = region_planes(3, (80, 80), [(1, (0, 0, 40, 80), 5.0), (2, (0, 0, 80, 10), 9.0)])
    return {
        "seg/1": write_ultralytics_outputs(folder / "seg.onnx", seg, SHAPES, task="segment"),
        "pose/1": write_roboflow_task_folder(
            folder / "pose",
            {"output0": pose},
            ("person",),
            task="keypoint-detection",
            model_type="yolov8n-pose",
            resize_format="Fit (black edges) in",
            keypoint_names={0: ["nose", "left_eye", "right_eye"]},
        ),
        "cls/1": write_ultralytics_outputs(
            folder / "cls.onnx",
            {"output0": classifier_scores([0.1, 0.7, 0.2])},
            ANIMALS,
            task="classify",
            imgsz=(224, 224),
        ),
        "tags/1": write_roboflow_task_folder(
            folder / "tags",
            {"output0": classifier_scores([0.9, 0.2, 0.6])},
            ANIMALS,
            task="classification",
            input_hw=(224, 224),
            model_type="resnet18",
            multiclass=True,
        ),
        "sem/1": write_visionflow_package(
            folder / "sem",
            {"output": logits},
            ("background", "person", "sky"),
            task="semantic-segmentation",
            architecture="semantic",
            input_spec={"width": 320, "height": 320, "resize_mode": "letterbox"},
            extra={"output": "logits"},
        ),
    }
