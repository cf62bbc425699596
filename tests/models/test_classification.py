"""Classification end to end through ONNX Runtime on graphs whose ``(1, C)`` output is known.

What the scores mean depends on where the model came from: Ultralytics ``-cls`` graphs and
Roboflow YOLO classifiers emit probabilities; other Roboflow single-label classifiers emit logits
(softmax taken here); Roboflow ``MULTICLASS`` graphs emit per-class probabilities used as they are;
a visionflow manifest may ask for ``sigmoid`` of independent logits.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.fixtures.onnx_graphs import (
    classifier_scores,
    write_roboflow_task_folder,
    write_ultralytics_outputs,
    write_visionflow_package,
)
from visionflow.core.results import ClassificationResult
from visionflow.errors import InvalidModelPackageError, ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.classification import ClassificationModel
from visionflow.models.importers import import_model
from visionflow.models.params import ClassificationParams
from visionflow.runtime import OnnxSession

NAMES = ("cat", "dog", "bird")
RAW = [2.0, 1.0, 0.0]


def _softmax(values: list[float]) -> list[float]:
    total = sum(math.exp(v) for v in values)
    return [math.exp(v) / total for v in values]


def _sigmoid(values: list[float]) -> list[float]:
    return [1.0 / (1.0 + math.exp(-v)) for v in values]


def _image(width: int = 640, height: int = 480) -> np.ndarray:
    return np.zeros((height, width, 3), dtype=np.uint8)


def _ultralytics(tmp_path: Path, raw: list[float] = RAW, **kwargs: Any) -> Path:
    return write_ultralytics_outputs(
        tmp_path / "cls.onnx",
        {"output0": classifier_scores(raw)},
        NAMES,
        task="classify",
        imgsz=(224, 224),
        **kwargs,
    )


def _roboflow(
    tmp_path: Path, model_type: str, multiclass: bool | None = None, raw: list[float] = RAW
) -> Path:
    return write_roboflow_task_folder(
        tmp_path / "rf",
        {"output0": classifier_scores(raw)},
        NAMES,
        task="classification",
        input_hw=(224, 224),
        model_type=model_type,
        multiclass=multiclass,
    )


def _visionflow(tmp_path: Path, extra: dict[str, Any], raw: list[float] = RAW) -> Path:
    return write_visionflow_package(
        tmp_path / "vf",
        {"output0": classifier_scores(raw)},
        NAMES,
        task="classification",
        architecture="classifier",
        input_spec={"width": 224, "height": 224, "resize_mode": "stretch"},
        extra=extra,
    )


def _load(path: Path) -> ClassificationModel:
    model = ArchitectureRegistry().load(import_model(path), OnnxSession)
    assert isinstance(model, ClassificationModel)
    return model


@pytest.mark.parametrize(
    ("make", "expected_scores", "multilabel"),
    [
        pytest.param(lambda p: _ultralytics(p), RAW, False, id="ultralytics-probabilities"),
        pytest.param(lambda p: _roboflow(p, "resnet18"), _softmax(RAW), False, id="rf-softmax"),
        pytest.param(lambda p: _roboflow(p, "vit", False), _softmax(RAW), False, id="rf-vit"),
        pytest.param(lambda p: _roboflow(p, "yolov8n-cls"), RAW, False, id="rf-yolo-cls"),
        pytest.param(lambda p: _roboflow(p, "resnet18", True), RAW, True, id="rf-multiclass"),
        pytest.param(
            lambda p: _visionflow(p, {"scores": "sigmoid", "multilabel": True}),
            _sigmoid(RAW),
            True,
            id="vf-sigmoid-multilabel",
        ),
        pytest.param(
            lambda p: _visionflow(p, {"scores": "softmax"}), _softmax(RAW), False, id="vf-softmax"
        ),
        pytest.param(lambda p: _visionflow(p, {}), RAW, False, id="vf-default-probabilities"),
    ],
)
def test_scores_by_source(
    tmp_path: Path, make: Any, expected_scores: list[float], multilabel: bool
) -> None:
    model = _load(make(tmp_path))

    (result,) = model.infer([_image()], ClassificationParams())

    assert model.task == "classification"
    assert isinstance(result, ClassificationResult)
    assert result.class_names == NAMES
    assert result.multilabel is multilabel
    assert result.scores.dtype == np.float32
    np.testing.assert_allclose(result.scores, expected_scores, rtol=1e-6)


def test_softmax_worked_example(tmp_path: Path) -> None:
    (result,) = _load(_roboflow(tmp_path, "resnet18")).infer([_image()], ClassificationParams())

    # e^2, e^1, e^0 over their sum 11.107: 0.6652, 0.2447, 0.0900.
    assert result.scores.round(4).tolist() == pytest.approx([0.6652, 0.2447, 0.09])


@pytest.mark.parametrize("model_type", ["resnet50", "resnet18", "vit", "yolov8s-cls"])
def test_classic_roboflow_folders_are_not_normalized(tmp_path: Path, model_type: str) -> None:
    # The reference's default engine normalizes only where inference_config.json says so; the
    # classic engine's fixed ImageNet / 0.5 constants do not apply.
    spec = import_model(_roboflow(tmp_path, model_type)).manifest.input

    assert spec.normalization is None


def _inference_config(folder: Path, post: dict[str, Any] | None, normalization: Any) -> Path:
    config: dict[str, Any] = {
        "network_input": {"resize_mode": "stretch", "normalization": normalization}
    }
    if post is not None:
        config["post_processing"] = post
    (folder / "inference_config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("multiclass", "post", "expected"),
    [
        pytest.param(True, {"type": "sigmoid", "fused": True}, RAW, id="sigmoid-fused"),
        pytest.param(True, {"type": "sigmoid", "fused": False}, _sigmoid(RAW), id="sigmoid"),
        pytest.param(None, {"type": "softmax", "fused": True}, RAW, id="softmax-fused"),
        pytest.param(None, {"type": "softmax", "fused": False}, _softmax(RAW), id="softmax"),
        pytest.param(True, None, RAW, id="no-post-processing-multilabel"),
    ],
)
def test_inference_config_post_processing_decides_the_scores(
    tmp_path: Path, multiclass: bool | None, post: dict[str, Any] | None, expected: list[float]
) -> None:
    folder = _inference_config(_roboflow(tmp_path, "resnet18", multiclass), post, None)

    (result,) = _load(folder).infer([_image()], ClassificationParams())

    np.testing.assert_allclose(result.scores, expected, rtol=1e-6)


def _channel_means_graph(path: Path) -> None:
    """A classifier whose three scores are the means of its three input channels."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["output0"], axes=[2, 3], keepdims=0)],
        "channel_means",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize(
    ("normalization", "expected"),
    [
        # BGR (30, 120, 210) → RGB / 255, as the reference's ResNet path feeds it.
        pytest.param(None, [210 / 255, 120 / 255, 30 / 255], id="none"),
        pytest.param(
            [[0.485, 0.456, 0.406], [0.229, 0.224, 0.225]],
            [
                (210 / 255 - 0.485) / 0.229,
                (120 / 255 - 0.456) / 0.224,
                (30 / 255 - 0.406) / 0.225,
            ],
            id="imagenet-from-inference-config",
        ),
    ],
)
def test_resnet_multilabel_input_tensor(
    tmp_path: Path, normalization: Any, expected: list[float]
) -> None:
    folder = _roboflow(tmp_path, "resnet18", multiclass=True)
    _channel_means_graph(folder / "weights.onnx")
    _inference_config(folder, {"type": "sigmoid", "fused": True}, normalization)
    image = np.empty((300, 400, 3), dtype=np.uint8)
    image[:] = (30, 120, 210)

    (result,) = _load(folder).infer([image], ClassificationParams())

    assert result.multilabel is True
    # ReduceMean sums 50176 float32 values: a few 1e-5 of rounding.
    np.testing.assert_allclose(result.scores, expected, rtol=0, atol=5e-4)


def test_malformed_inference_config_normalization_is_refused(tmp_path: Path) -> None:
    folder = _inference_config(_roboflow(tmp_path, "resnet18"), None, [1, 2, 3])

    with pytest.raises(InvalidModelPackageError, match="normalization must be"):
        import_model(folder)


SIZES = [(640, 480), (100, 50), (224, 224)]


@pytest.mark.parametrize(
    ("dynamic_batch", "count"),
    [
        pytest.param(False, 0, id="static-1-no-images"),
        pytest.param(False, 1, id="static-1-one-image"),
        pytest.param(False, 3, id="static-1-three-images"),
        pytest.param(True, 3, id="dynamic-three-images"),
        pytest.param(True, 17, id="dynamic-beyond-one-chunk"),
    ],
)
def test_one_result_per_image(tmp_path: Path, dynamic_batch: bool, count: int) -> None:
    model = _load(_ultralytics(tmp_path, dynamic_batch=dynamic_batch))
    sizes = (SIZES * 6)[:count]

    results = model.infer([_image(*wh) for wh in sizes], ClassificationParams())

    assert len(results) == count
    assert all(r.scores.tolist() == RAW for r in results)


def test_class_count_mismatch_is_a_load_error(tmp_path: Path) -> None:
    path = write_ultralytics_outputs(
        tmp_path / "cls.onnx",
        {"output0": classifier_scores([0.5, 0.5])},  # two scores for three classes
        NAMES,
        task="classify",
        imgsz=(224, 224),
    )
    model = _load(path)

    with pytest.raises(ModelLoadError, match="emits 2 scores for 3 classes"):
        model.infer([_image()], ClassificationParams())


def test_unknown_score_kind_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="scores"):
        _load(_visionflow(tmp_path, {"scores": "logits"}))
