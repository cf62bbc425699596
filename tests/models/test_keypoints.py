"""Keypoint detection end to end through ONNX Runtime on YOLOv8-pose graphs with known outputs.

One "person" row: box (128, 128, 192, 192) in the 320x320 input and three keypoints
(140, 150, 0.9), (10, 20, 0.0), (330, 300, 0.5). 640x480 letterboxed: scale 0.5, padding (0, 40):
keypoint (x, y) → ((x - 0) / 0.5, (y - 40) / 0.5) = (280, 220), (20, -40), (660, 520) — the last two
fall outside the image and are NOT clamped (boxes are).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.onnx_graphs import (
    write_roboflow_task_folder,
    write_ultralytics_outputs,
    yolov8_pose_rows,
)
from visionflow.core.detections import (
    CLASS_NAME,
    KEYPOINTS_CLASS_NAME,
    KEYPOINTS_CONFIDENCE,
    KEYPOINTS_XY,
)
from visionflow.errors import InvalidModelPackageError, ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.importers import import_roboflow_folder, import_ultralytics_onnx
from visionflow.models.keypoints import KeypointDetectionModel, keypoint_names
from visionflow.models.manifest import InputSpec, ModelManifest, WeightFile
from visionflow.models.package import ModelPackage
from visionflow.models.params import KeypointParams
from visionflow.runtime import OnnxSession

NAMES = ("person", "dog")
ANCHORS = 2100
KEYPOINTS = [[140, 150, 0.9], [10, 20, 0.0], [330, 300, 0.5]]
POSE_ROWS = yolov8_pose_rows(
    [[160, 160, 64, 64], [40, 40, 20, 20]],
    [[0.9, 0.1], [0.2, 0.7]],
    [KEYPOINTS, [[30, 30, 0.8], [50, 50, 0.6], [40, 45, 0.3]]],
    ANCHORS,
)
EMPTY_ROWS = yolov8_pose_rows([[160, 160, 64, 64]], [[0.0, 0.0]], [KEYPOINTS], ANCHORS)
ROBOFLOW_NAMES = {0: ["nose", "left_eye", "right_eye"]}


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _ultralytics(
    tmp_path: Path, rows: np.ndarray = POSE_ROWS, *, dynamic_batch: bool = False
) -> KeypointDetectionModel:
    path = write_ultralytics_outputs(
        tmp_path / "pose.onnx",
        {"output0": rows},
        NAMES,
        task="pose",
        kpt_shape=[3, 3],
        dynamic_batch=dynamic_batch,
    )
    model = ArchitectureRegistry().load(import_ultralytics_onnx(path), OnnxSession)
    assert isinstance(model, KeypointDetectionModel)
    return model


def _roboflow(
    tmp_path: Path, resize_format: str = "Fit (black edges) in"
) -> KeypointDetectionModel:
    folder = write_roboflow_task_folder(
        tmp_path / "rf",
        {"output0": POSE_ROWS},
        NAMES,
        task="keypoint-detection",
        model_type="yolov8n-pose",
        resize_format=resize_format,
        keypoint_names=ROBOFLOW_NAMES,
    )
    model = ArchitectureRegistry().load(import_roboflow_folder(folder), OnnxSession)
    assert isinstance(model, KeypointDetectionModel)
    return model


def test_ultralytics_pose_keypoints_map_back_unclamped(tmp_path: Path) -> None:
    model = _ultralytics(tmp_path)

    (detections,) = model.infer([_image()], KeypointParams())

    assert model.task == "keypoint-detection"
    assert list(detections.data[CLASS_NAME]) == ["person", "dog"]
    # Box 2: (30, 30, 50, 50) → y (30 - 40) / 0.5 = -20 → clamped to 0.
    assert detections.xyxy.tolist() == [[256, 176, 384, 304], [60, 0, 100, 20]]
    xy = detections.data[KEYPOINTS_XY]
    assert xy.dtype == np.float32
    assert xy.shape == (2, 3, 2)
    assert xy[0].tolist() == [[280, 220], [20, -40], [660, 520]]
    assert xy[1].tolist() == [[60, -20], [100, 20], [80, 10]]
    np.testing.assert_allclose(
        detections.data[KEYPOINTS_CONFIDENCE], [[0.9, 0.0, 0.5], [0.8, 0.6, 0.3]], rtol=1e-6
    )
    # No names in Ultralytics metadata: keypoints are named by index.
    assert [list(n) for n in detections.data[KEYPOINTS_CLASS_NAME]] == [["0", "1", "2"]] * 2


def test_roboflow_keypoint_names_per_class(tmp_path: Path) -> None:
    model = _roboflow(tmp_path)

    (detections,) = model.infer([_image()], KeypointParams())

    assert model.manifest.extra["keypoints"] == {"count": 3, "names": {"0": ROBOFLOW_NAMES[0]}}
    assert [list(n) for n in detections.data[KEYPOINTS_CLASS_NAME]] == [
        ["nose", "left_eye", "right_eye"],  # person: from keypoints_metadata.json
        ["0", "1", "2"],  # dog: no entry
    ]
    assert detections.data[KEYPOINTS_XY][0].tolist() == [[280, 220], [20, -40], [660, 520]]


def test_stretch_maps_keypoints_per_axis(tmp_path: Path) -> None:
    model = _roboflow(tmp_path, resize_format="Stretch to")

    (detections,) = model.infer([_image()], KeypointParams())

    # Stretch 640x480 → 320x320: x / 0.5, y / (2/3).
    np.testing.assert_allclose(
        detections.data[KEYPOINTS_XY][0], [[280, 225], [20, 30], [660, 450]], rtol=1e-6
    )


SIZES = [(640, 480), (100, 50), (320, 320), (480, 640)]
# 100x50 letterboxed: scale 3.2, padding (0, 80); 320x320: identity; 480x640: padding (40, 0).
# Keypoints are rounded half to even, as the reference rounds them: 43.75, 21.875 -> 44, 22.
EXPECTED_FIRST_KEYPOINT = {
    (480, 640): [200, 300],
    (640, 480): [280, 220],
    (100, 50): [44, 22],
    (320, 320): [140, 150],
}


@pytest.mark.parametrize(
    ("dynamic_batch", "count"),
    [
        pytest.param(False, 0, id="static-1-no-images"),
        pytest.param(False, 4, id="static-1-four-images"),
        pytest.param(True, 4, id="dynamic-four-images"),
    ],
)
def test_batches_keep_each_image_with_its_own_mapping(
    tmp_path: Path, dynamic_batch: bool, count: int
) -> None:
    model = _ultralytics(tmp_path, dynamic_batch=dynamic_batch)
    sizes = SIZES[:count]

    results = model.infer([_image(*wh) for wh in sizes], KeypointParams())

    assert [d.data[KEYPOINTS_XY][0, 0].tolist() for d in results] == [
        pytest.approx(EXPECTED_FIRST_KEYPOINT[wh]) for wh in sizes
    ]


@pytest.mark.parametrize(
    ("rows", "params"),
    [
        pytest.param(EMPTY_ROWS, KeypointParams(), id="no-scores"),
        pytest.param(POSE_ROWS, KeypointParams(confidence=0.95), id="all-below-confidence"),
    ],
)
def test_no_detections(tmp_path: Path, rows: np.ndarray, params: KeypointParams) -> None:
    model = _ultralytics(tmp_path, rows)

    (detections,) = model.infer([_image()], params)

    assert len(detections) == 0
    assert detections.data[KEYPOINTS_XY].shape == (0, 3, 2)
    assert detections.data[KEYPOINTS_CONFIDENCE].shape == (0, 3)
    assert len(detections.data[KEYPOINTS_CLASS_NAME]) == 0


def _manifest(extra: dict[str, object]) -> ModelManifest:
    return ModelManifest(
        task="keypoint-detection",
        architecture="yolov8-pose",
        class_names=NAMES,
        input=InputSpec(width=320, height=320),
        weights={"model": WeightFile(file="w.onnx", sha256="0" * 64)},
        extra=extra,
    )


@pytest.mark.parametrize(
    ("names", "class_id", "count", "expected"),
    [
        pytest.param({}, 0, 0, [], id="empty"),
        pytest.param({}, 0, 3, ["0", "1", "2"], id="no-names"),
        pytest.param({"0": ["a", "b", "c"]}, 0, 3, ["a", "b", "c"], id="named"),
        pytest.param({"0": ["a", "b", "c"]}, 1, 2, ["0", "1"], id="other-class"),
        pytest.param({"0": ["a"]}, 0, 3, ["a", "1", "2"], id="fewer-names-padded-by-index"),
        pytest.param({"0": ["a", "b", "c", "d"]}, 0, 2, ["a", "b"], id="extra-names-cut"),
    ],
)
def test_keypoint_names(
    names: dict[str, list[str]], class_id: int, count: int, expected: list[str]
) -> None:
    manifest = _manifest({"keypoints": {"count": 3, "names": names}})

    assert keypoint_names(manifest, class_id, count) == expected


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({}, id="empty"),
        pytest.param({"keypoints": {"names": {}}}, id="no-count"),
        pytest.param({"keypoints": {"count": 0}}, id="zero-count"),
    ],
)
def test_keypoint_count_is_required(tmp_path: Path, extra: dict[str, object]) -> None:
    path = write_ultralytics_outputs(
        tmp_path / "pose.onnx", {"output0": POSE_ROWS}, NAMES, task="pose", kpt_shape=[3, 3]
    )
    session = OnnxSession(path)

    with pytest.raises(ModelLoadError, match="count"):
        KeypointDetectionModel(_manifest(extra), session)


def test_keypoints_without_confidence_are_rejected(tmp_path: Path) -> None:
    path = write_ultralytics_outputs(
        tmp_path / "pose.onnx",
        # Three (x, y) pairs: 6 channels after the 2 class scores.
        {"output0": np.zeros((1, 4 + 2 + 6, ANCHORS), np.float32)},
        NAMES,
        task="pose",
        kpt_shape=[3, 2],
    )

    with pytest.raises(InvalidModelPackageError, match=r"kpt_shape \[3, 2\]"):
        import_ultralytics_onnx(path)


def test_package_round_trip_keeps_keypoint_names(tmp_path: Path) -> None:
    model = _roboflow(tmp_path)
    folder = tmp_path / "package"
    ModelPackage(model.manifest, {"model": tmp_path / "rf" / "weights.onnx"}).write_folder(folder)

    reloaded = ModelPackage.from_folder(folder)

    assert reloaded.manifest.extra["keypoints"]["names"] == {"0": ROBOFLOW_NAMES[0]}
