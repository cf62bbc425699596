"""``vlm_as_classifier`` / ``vlm_as_detector``: a model's text answer as a classification or as
detections, per model family, through the real compiler and executor (200 x 100 image)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import supervision as sv

from tests.workflows.blocks.helpers import canvas, run, step
from visionflow.core.detections import CLASS_NAME, PARENT_ID
from visionflow.workflows.blocks.vlm_detections import anthropic_upload_wh
from visionflow.workflows.errors import WorkflowError

DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowParameter", "name": "text"},
]
CLASSES = ["cat", "dog"]


def _classify(text: Any, version: str = "v2", classes: Any = CLASSES) -> dict[str, Any]:
    [result] = run(
        [
            step(
                f"vlm_as_classifier@{version}",
                "c",
                image="$inputs.image",
                vlm_output="$inputs.text",
                classes=classes,
            )
        ],
        {"out": "$steps.c.*"},
        {"scene": canvas(200, 100)},
        {"image": "scene", "text": text},
        declared=DECLARED,
    )
    out: dict[str, Any] = result["out"]
    return out


def _detect(
    text: Any,
    model_type: str,
    task_type: str = "object-detection",
    classes: Any = CLASSES,
    version: str = "v2",
    size_wh: tuple[int, int] = (200, 100),
) -> dict[str, Any]:
    [result] = run(
        [
            step(
                f"vlm_as_detector@{version}",
                "d",
                image="$inputs.image",
                vlm_output="$inputs.text",
                classes=classes,
                model_type=model_type,
                task_type=task_type,
            )
        ],
        {"out": "$steps.d.*"},
        {"scene": canvas(*size_wh)},
        {"image": "scene", "text": text},
        declared=DECLARED,
    )
    out: dict[str, Any] = result["out"]
    return out


def test_single_class_lists_every_class() -> None:
    out = _classify('```json\n{"class_name": "dog", "confidence": 1.7}\n```')
    assert out["error_status"] is False
    prediction = out["predictions"]
    assert prediction == {
        "image": {"width": 200, "height": 100},
        "predictions": [
            {"class": "cat", "class_id": 0, "confidence": 0.0},
            {"class": "dog", "class_id": 1, "confidence": 1.0},
        ],
        "top": "dog",
        "confidence": 1.0,
        "inference_id": out["inference_id"],
        "parent_id": "image",
    }


def test_single_class_outside_classes_comes_first_with_id_minus_one() -> None:
    out = _classify('{"class_name": "bird", "confidence": 0.4}', version="v1")
    assert out["predictions"]["predictions"][0] == {
        "class": "bird",
        "class_id": -1,
        "confidence": 0.4,
    }
    assert [p["class"] for p in out["predictions"]["predictions"]] == ["bird", "cat", "dog"]


def test_multi_label_keeps_the_highest_repeat() -> None:
    text = (
        '{"predicted_classes": [{"class": "dog", "confidence": 0.2}, '
        '{"class": "dog", "confidence": 0.8}, {"class": "fox", "confidence": -1}]}'
    )
    prediction = _classify(text)["predictions"]
    assert prediction["predicted_classes"] == ["dog", "fox"]
    assert prediction["predictions"] == {
        "cat": {"confidence": 0.0, "class_id": 0},
        "dog": {"confidence": 0.8, "class_id": 1},
        "fox": {"confidence": 0.0, "class_id": -1},
    }
    assert "top" not in prediction


def test_bare_list_is_multi_label() -> None:
    prediction = _classify('[{"label": "cat"}]')["predictions"]
    assert prediction["predicted_classes"] == ["cat"]
    assert prediction["predictions"]["cat"] == {"confidence": 1.0, "class_id": 0}


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("I think it is a dog.", id="no-json"),
        pytest.param('{"answer": "dog"}', id="unknown-shape"),
        pytest.param('{"class_name": "dog", "confidence": "high"}', id="bad-confidence"),
        pytest.param('{"predicted_classes": [{"class": "dog"}]}', id="missing-confidence"),
        pytest.param('{"predicted_classes": ["dog"]}', id="entry-not-object"),
        pytest.param("[]", id="empty-list"),
    ],
)
def test_unusable_answers_set_error_status(text: str) -> None:
    out = _classify(text)
    assert out["error_status"] is True
    assert out["predictions"] is None
    assert isinstance(out["inference_id"], str)


def _boxes(out: dict[str, Any]) -> list[tuple[list[float], str, int, float]]:
    assert out["error_status"] is False, out
    detections = out["predictions"]
    assert isinstance(detections, sv.Detections)
    assert detections.confidence is not None
    assert detections.class_id is not None
    return [
        ([round(v, 3) for v in box.tolist()], str(name), int(cid), round(float(conf), 3))
        for box, name, cid, conf in zip(
            detections.xyxy,
            detections.data[CLASS_NAME],
            detections.class_id,
            detections.confidence,
            strict=True,
        )
    ]


@pytest.mark.parametrize(
    ("model_type", "text", "expected"),
    [
        pytest.param(
            "google-gemini",
            '```json\n[{"box_2d": [100, 200, 500, 600], "label": "dog", "confidence": 0.7}]\n```',
            [([40.0, 10.0, 120.0, 50.0], "dog", 1, 0.7)],
            id="gemini-box_2d-yxyx-1000",
        ),
        pytest.param(
            "google-gemini",
            '{"detections": [{"x_min": 0.1, "y_min": 0.2, "x_max": 0.5, "y_max": 0.9, '
            '"class_name": "fox"}]}',
            [([20.0, 20.0, 100.0, 90.0], "fox", -1, 1.0)],
            id="gemini-normalized",
        ),
        pytest.param(
            "google-gemini",
            '[{"x_min": true, "y_min": 0, "x_max": 1, "y_max": false, "label": 3}]',
            [([200.0, 0.0, 200.0, 0.0], "3", -1, 1.0)],
            id="gemini-booleans-count-as-numbers-like-the-reference",
        ),
        pytest.param(
            "openai",
            '[{"box_2d": [-5, 10, 300, 90.4], "label": "cat", "confidence": 2}]',
            [([0.0, 10.0, 200.0, 90.0], "cat", 0, 1.0)],
            id="openai-pixels-clamped",
        ),
        pytest.param(
            "openai",
            '{"detections": [{"x_min": 0.5, "y_min": 0.5, "x_max": 1, "y_max": 1, '
            '"class_name": "dog", "confidence": 0.5}]}',
            [([100.0, 50.0, 200.0, 100.0], "dog", 1, 0.5)],
            id="openai-legacy-normalized",
        ),
        pytest.param(
            "anthropic-claude",
            '{"detections": [{"box_2d": [1, 2, 3, 4], "class": "cat"}]}',
            [([1.0, 2.0, 3.0, 4.0], "cat", 0, 1.0)],
            id="claude-wrapped-box_2d",
        ),
        pytest.param(
            "spacexai",
            '[{"box_2d": [10, 10, 50, 150], "class_name": "dog"}]',
            [([20.0, 10.0, 100.0, 100.0], "dog", 1, 1.0)],
            id="spacexai-percent",
        ),
        pytest.param(
            "qwen",
            '[{"bbox_2d": [0, 0, 500, 500], "label": "cat", "confidence": 0.1}, '
            '{"box_2d": [1, 2, 3]}, "junk", {"box_2d": [1, true, 3, 4]}]',
            [([0.0, 0.0, 100.0, 50.0], "cat", 0, 1.0)],
            id="qwen-skips-malformed",
        ),
        pytest.param(
            "zai",
            '{"box_2d": [500, 500, 1200, 1000], "description": "dog"}',
            [([100.0, 50.0, 200.0, 100.0], "dog", 1, 1.0)],
            id="zai-single-object",
        ),
        pytest.param(
            "muse",
            '{"x_min": 0, "y_min": 0, "x_max": 500, "y_max": 500, "label": ""}, '
            '{"x_min": 500, "y_min": 500, "x_max": 1000, "y_max": 1000, "label": "dog"}',
            [
                ([0.0, 0.0, 100.0, 50.0], "unknown", -1, 1.0),
                ([100.0, 50.0, 200.0, 100.0], "dog", 1, 1.0),
            ],
            id="muse-bracketless",
        ),
    ],
)
def test_detector_per_model_type(
    model_type: str, text: str, expected: list[tuple[list[float], str, int, float]]
) -> None:
    out = _detect(text, model_type)
    assert _boxes(out) == expected
    detections = out["predictions"]
    assert list(detections.data[PARENT_ID]) == ["image"] * len(expected)


def test_openai_boxes_are_in_the_pixels_of_the_downscaled_upload() -> None:
    out = _detect('[{"box_2d": [0, 0, 1024, 512], "label": "cat"}]', "openai", size_wh=(4096, 2048))
    assert _boxes(out) == [([0.0, 0.0, 2048.0, 1024.0], "cat", 0, 1.0)]


@pytest.mark.parametrize(
    ("size_wh", "expected"),
    [
        pytest.param((200, 100), (200, 100), id="fits"),
        pytest.param((3000, 3000), (1932, 1932), id="token-budget"),
        pytest.param((4000, 3000), (2212, 1659), id="landscape"),
        pytest.param((1000, 5000), (515, 2576), id="portrait-edge"),
        pytest.param((2600, 100), (2576, 99), id="edge"),
    ],
)
def test_anthropic_upload_size(size_wh: tuple[int, int], expected: tuple[int, int]) -> None:
    assert anthropic_upload_wh(*size_wh) == expected


def test_claude_boxes_map_back_from_its_resize() -> None:
    out = _detect(
        '[{"box_2d": [0, 0, 966, 966], "label": "dog"}]', "anthropic-claude", size_wh=(3000, 3000)
    )
    assert _boxes(out) == [([0.0, 0.0, 1500.0, 1500.0], "dog", 1, 1.0)]


@pytest.mark.parametrize(
    ("task_type", "payload", "classes", "expected"),
    [
        pytest.param(
            "object-detection",
            '{"bboxes": [[1, 2, 30, 40.6]], "labels": ["car"]}',
            None,
            [([1.0, 2.0, 30.0, 40.6], "car", 9605, 1.0)],
            id="od-md5-class-id",
        ),
        pytest.param(
            "open-vocabulary-object-detection",
            '{"bboxes": [[1, 2, 3, 4], [5, 6, 7, 8]], "bboxes_labels": ["dog", "owl"]}',
            CLASSES,
            [([1.0, 2.0, 3.0, 4.0], "dog", 1, 1.0), ([5.0, 6.0, 7.0, 8.0], "owl", -1, 1.0)],
            id="open-vocabulary",
        ),
        pytest.param(
            "region-proposal",
            '{"bboxes": [[1, 2, 3, 4]], "labels": [""]}',
            None,
            [([1.0, 2.0, 3.0, 4.0], "roi", 0, 1.0)],
            id="region-proposal",
        ),
        pytest.param(
            "ocr-with-text-detection",
            '{"quad_boxes": [[1, 2, 30, 2, 30, 40, 1, 40]], "labels": ["EXIT"]}',
            None,
            [([1.0, 2.0, 30.0, 40.0], "EXIT", 0, 1.0)],
            id="ocr",
        ),
        pytest.param(
            "object-detection-and-caption", '{"bboxes": [], "labels": []}', None, [], id="empty"
        ),
    ],
)
def test_florence_2(
    task_type: str, payload: str, classes: Any, expected: list[tuple[list[float], str, int, float]]
) -> None:
    assert _boxes(_detect(payload, "florence-2", task_type, classes)) == expected


@pytest.mark.parametrize(
    ("model_type", "text"),
    [
        pytest.param("google-gemini", "", id="empty"),
        pytest.param("google-gemini", "I see a dog", id="no-json"),
        pytest.param("google-gemini", '{"boxes": []}', id="gemini-wrong-shape"),
        pytest.param("openai", '{"detections": [{"x_min": 0.1}]}', id="openai-missing-field"),
        pytest.param("anthropic-claude", '{"box_2d": [1, 2, 3, 4]}', id="claude-not-a-list"),
        pytest.param("qwen", '{"label": "dog"}', id="qwen-no-box"),
        pytest.param("muse", "garbage {not json}", id="muse-garbage"),
        pytest.param("spacexai", '[{"box_2d": [1, 2]}]', id="spacexai-short-box"),
    ],
)
def test_unparsable_detections_set_error_status(model_type: str, text: str) -> None:
    out = _detect(text, model_type)
    assert (out["error_status"], out["predictions"]) == (True, None)


@pytest.mark.parametrize(
    "model_type", ["google-gemini", "openai", "anthropic-claude", "qwen", "muse", "spacexai"]
)
def test_no_detections_is_an_empty_result(model_type: str) -> None:
    out = _detect("[]", model_type)
    assert out["error_status"] is False
    assert len(out["predictions"]) == 0


def test_florence_open_vocabulary_without_classes_is_an_error_status() -> None:
    out = _detect(
        '{"bboxes": [], "bboxes_labels": []}',
        "florence-2",
        "open-vocabulary-object-detection",
        None,
    )
    assert out["error_status"] is True


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(
            {"model_type": "openai", "task_type": "region-proposal"},
            "Could not parse result of task region-proposal for model openai",
            id="unsupported-pair",
        ),
        pytest.param(
            {"model_type": "qwen", "task_type": "object-detection", "classes": None},
            "Must pass list of classes",
            id="classes-required",
        ),
    ],
)
def test_manifest_refuses(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowError, match=message):
        _detect("[]", **fields)


def test_v1_knows_only_its_model_types() -> None:
    with pytest.raises(WorkflowError, match="model_type"):
        _detect("[]", "openai", version="v1")
    out = _detect(
        '[{"box_2d": [0, 0, 1000, 1000], "label": "dog"}]', "anthropic-claude", version="v1"
    )
    # v1 reads Claude's answers with Gemini's convention (y first, 0-1000 grid).
    assert _boxes(out) == [([0.0, 0.0, 200.0, 100.0], "dog", 1, 1.0)]
    assert np.asarray(out["predictions"].xyxy).dtype == np.float32
