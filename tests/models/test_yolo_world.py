"""YOLO-World: a real ORT session on the tiny random detector + tiny CLIP text encoder, checked
against PyTorch reference outputs of the same detector (tests/fixtures/yolo_world.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.fixtures.yolo_world import MAX_CLASSES, reference, write_yolo_world_package
from visionflow.errors import InvalidInputError, InvalidModelPackageError, ModelLoadError
from visionflow.models.architectures import ArchitectureRegistry
from visionflow.models.clip import ClipTextEncoder, ClipTokenizer
from visionflow.models.package import ModelPackage
from visionflow.models.params import DetectionParams
from visionflow.models.yolo_world import (
    OpenVocabularyParams,
    YoloWorldModel,
    check_class_names,
    pad_embeddings,
)
from visionflow.runtime import OnnxSession

REF = reference()


@pytest.fixture(scope="module")
def package_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yolo_world_package(tmp_path_factory.mktemp("yolo-world") / "package")


@pytest.fixture
def model(package_folder: Path) -> YoloWorldModel:
    loaded = ArchitectureRegistry().load(ModelPackage.from_folder(package_folder), OnnxSession)
    assert isinstance(loaded, YoloWorldModel)
    return loaded


def _text_encoder(package: ModelPackage) -> ClipTextEncoder:
    tokenizer = ClipTokenizer.from_file(package.weight_path("tokenizer"))
    return ClipTextEncoder(OnnxSession(package.weight_path("text_encoder")), tokenizer)


def _params(names: tuple[str, ...], confidence: float = 0.1) -> OpenVocabularyParams:
    return OpenVocabularyParams(class_names=names, confidence=confidence)


# -- against PyTorch ------------------------------------------------------------------------------


def test_preprocessing_matches_the_reference_input(model: YoloWorldModel) -> None:
    tensor, metas = model.preprocess([REF["image_bgr"]])
    expected = REF["input_bgr"][..., ::-1].astype(np.float32).transpose(2, 0, 1)[None] / 255.0
    np.testing.assert_array_equal(tensor, expected)
    assert metas[0].scale_xy == (0.5, 0.5)
    assert metas[0].pad_xy == (0, 40)


def test_padding_repeats_the_first_embedding() -> None:
    embeddings = REF["embeddings"]
    padded = pad_embeddings(embeddings, MAX_CLASSES)
    np.testing.assert_array_equal(padded, REF["txt_feats"])
    assert padded.shape == (1, MAX_CLASSES, embeddings.shape[1])
    np.testing.assert_array_equal(padded[0, 3:], np.repeat(embeddings[:1], 5, axis=0))


def test_raw_output_equals_torch(model: YoloWorldModel) -> None:
    tensor, _metas = model.preprocess([REF["image_bgr"]])
    raw = model.forward(tensor, REF["txt_feats"])
    expected = REF["raw_padded"]
    assert raw.shape == expected.shape == (1, 4 + MAX_CLASSES, 2100)
    # Boxes are pixels through a softmax-weighted sum: float error ~1e-3 px; scores ~1e-6.
    np.testing.assert_allclose(raw[:, :4], expected[:, :4], atol=5e-3)
    np.testing.assert_allclose(raw[:, 4:], expected[:, 4:], atol=1e-5)
    # The 3 real classes padded to K score as torch's head run with exactly 3 classes.
    np.testing.assert_allclose(raw[:, 4:7], REF["raw"][:, 4:], atol=1e-5)


def test_decoded_boxes_equal_ultralytics_nms(model: YoloWorldModel) -> None:
    params = DetectionParams(
        confidence=float(REF["confidence"]), iou_threshold=float(REF["iou_threshold"])
    )
    names = ("alpha", "beta", "gamma")
    detections = model.infer_with_embeddings([REF["image_bgr"]], REF["embeddings"], names, params)[
        0
    ]
    assert len(REF["xyxy"]) >= 10  # the reference is not trivially small
    assert len(detections) == len(REF["xyxy"])
    np.testing.assert_allclose(detections.confidence, REF["scores"], atol=1e-5)
    np.testing.assert_array_equal(detections.class_id, REF["class_ids"])
    # We round to whole pixels (the reference server does); Ultralytics does not.
    np.testing.assert_allclose(detections.xyxy, REF["xyxy"], atol=0.51)
    assert list(detections.data["class_name"]) == [names[i] for i in REF["class_ids"]]


# -- per-request classes --------------------------------------------------------------------------


def test_text_lists_change_names_and_scores(model: YoloWorldModel) -> None:
    image = REF["image_bgr"]
    animals = model.infer([image], _params(("cat", "dog")))[0]
    things = model.infer([image], _params(("car", "person", "tree")))[0]
    assert len(animals) > 0
    assert len(things) > 0
    assert set(animals.data["class_name"]) <= {"cat", "dog"}
    assert set(things.data["class_name"]) <= {"car", "person", "tree"}
    assert set(things.data["class_name"]) != set(animals.data["class_name"])
    assert not np.allclose(np.sort(animals.confidence)[-3:], np.sort(things.confidence)[-3:])


def test_unused_slots_never_detect(model: YoloWorldModel) -> None:
    # Scores of a class do not depend on how many other slots are filled or padded.
    image = REF["image_bgr"]
    one = model.infer([image], _params(("tree",), confidence=0.05))[0]
    tensor, _ = model.preprocess([image])
    embeddings = model.text_embeddings(["tree"])
    raw = model.forward(tensor, pad_embeddings(embeddings, MAX_CLASSES))
    assert raw[0, 4 + 1 :].max() > 0.05  # padded slots do score...
    assert set(one.class_id.tolist()) == {0}  # ...but are never decoded
    assert set(one.data["class_name"]) == {"tree"}


def test_class_order_follows_the_request(model: YoloWorldModel) -> None:
    image = REF["image_bgr"]
    forward = model.infer([image], _params(("car", "tree")))[0]
    backward = model.infer([image], _params(("tree", "car")))[0]
    assert len(forward) == len(backward) > 0
    order_f, order_b = np.argsort(-forward.confidence), np.argsort(-backward.confidence)
    np.testing.assert_allclose(forward.confidence[order_f], backward.confidence[order_b], atol=1e-5)
    assert list(forward.data["class_name"][order_f]) == list(backward.data["class_name"][order_b])
    np.testing.assert_array_equal(forward.class_id[order_f], 1 - backward.class_id[order_b])


def test_embeddings_are_unit_length_and_cached(model: YoloWorldModel) -> None:
    first = model.text_embeddings(["cat", "dog"])
    assert first.shape == (2, 512)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    before = model.cache_info()
    again = model.text_embeddings(["cat", "dog"])
    after = model.cache_info()
    assert again is first
    assert (after.hits, after.misses) == (before.hits + 1, before.misses)
    model.text_embeddings(["dog", "cat"])  # another list, another entry
    assert model.cache_info().misses == before.misses + 1
    with pytest.raises(ValueError, match="read-only"):
        first[0, 0] = 1.0


def test_cache_is_bounded(package_folder: Path) -> None:
    package = ModelPackage.from_folder(package_folder)
    small = YoloWorldModel(
        package.manifest,
        OnnxSession(package.weight_path("model")),
        _text_encoder(package),
        cache_size=2,
    )
    for names in (["a"], ["b"], ["c"], ["a"]):
        small.text_embeddings(names)
    info = small.cache_info()
    assert (info.size, info.max_size, info.hits, info.misses) == (2, 2, 0, 4)


def test_batches_equal_single_images(model: YoloWorldModel) -> None:
    image = REF["image_bgr"]
    flipped = np.ascontiguousarray(image[:, ::-1])
    params = _params(("cat", "dog", "tree"))
    both = model.infer([image, flipped], params)
    single = [model.infer([image], params)[0], model.infer([flipped], params)[0]]
    for batched, alone in zip(both, single, strict=True):
        np.testing.assert_allclose(batched.xyxy, alone.xyxy, atol=1.0)
        np.testing.assert_allclose(batched.confidence, alone.confidence, atol=1e-4)


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "message"),
    [
        pytest.param([], "at least one class", id="empty"),
        pytest.param(["cat", 3], r"text\[1\] must be a string", id="not-a-string"),
        pytest.param(["cat", "  "], r"text\[1\] is blank", id="blank"),
        pytest.param("cat", "must be a list", id="bare-string"),
        pytest.param([f"c{i}" for i in range(9)], "at most 8 class names", id="more-than-k"),
    ],
)
def test_bad_class_lists_are_400(names: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        check_class_names(names, MAX_CLASSES)  # type: ignore[arg-type]
    assert caught.value.status_code == 400


def test_more_than_k_classes_name_k(model: YoloWorldModel) -> None:
    names = tuple(f"class {i}" for i in range(MAX_CLASSES + 1))
    with pytest.raises(InvalidInputError, match=r"at most 8 class names.*K = 8.*got 9"):
        model.infer([REF["image_bgr"]], _params(names))
    assert len(model.infer([REF["image_bgr"]], _params(names[:MAX_CLASSES]))) == 1


def test_params_without_class_names_point_to_the_route(model: YoloWorldModel) -> None:
    # What the legacy route and `visionflow infer` build for a YOLO-World model.
    with pytest.raises(InvalidInputError, match="/yolo_world/infer"):
        model.infer([REF["image_bgr"]], OpenVocabularyParams())


def test_plain_detection_params_are_a_type_error(model: YoloWorldModel) -> None:
    with pytest.raises(TypeError, match="takes OpenVocabularyParams, got DetectionParams"):
        model.infer([REF["image_bgr"]], DetectionParams())  # type: ignore[arg-type]


def test_package_validates(package_folder: Path, tmp_path: Path) -> None:
    package = ModelPackage.from_folder(package_folder)
    assert package.manifest.task == "open-vocabulary-detection"
    assert package.manifest.class_names == ()
    manifest = json.loads((package_folder / "model.json").read_text())
    manifest["extra"]["max_classes"] = 16
    broken = tmp_path / "broken"
    write_yolo_world_package(broken)
    (broken / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"extra\.max_classes is 16"):
        YoloWorldModel.load(ModelPackage.from_folder(broken), OnnxSession)


def test_detector_must_take_text(package_folder: Path) -> None:
    package = ModelPackage.from_folder(package_folder)
    text_only = OnnxSession(package.weight_path("text_encoder"))
    with pytest.raises((ModelLoadError, InvalidModelPackageError), match="two inputs"):
        YoloWorldModel(package.manifest, text_only, _text_encoder(package))


def test_package_task_must_be_open_vocabulary(tmp_path: Path) -> None:
    folder = write_yolo_world_package(tmp_path / "wrong-task")
    manifest = json.loads((folder / "model.json").read_text())
    manifest.update(task="object-detection", class_names=["a"])
    (folder / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(InvalidModelPackageError, match="needs task 'open-vocabulary-detection'"):
        YoloWorldModel.load(ModelPackage.from_folder(folder), OnnxSession)
