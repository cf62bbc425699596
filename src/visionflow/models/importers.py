"""Importers: turn what users bring into a ``ModelPackage``.

Formats (``detect_format`` tells them apart):
- ``visionflow``: a folder with ``model.json`` (our own package format);
- ``ultralytics-onnx``: an ONNX file exported by Ultralytics (metadata inside the file: ``names``,
  ``imgsz``, ``task``, ``stride``, ``batch``);
- ``roboflow``: a folder with ``weights.onnx``, ``environment.json`` (``PREPROCESSING``,
  ``CLASS_MAP``), ``class_names.txt`` and ``model_type.json`` (wire reference §7.3).

Which architecture decodes a graph's outputs is read from them and the metadata by
``visionflow.models.layouts``.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from visionflow.errors import InvalidModelPackageError
from visionflow.models.layouts import GraphFacts, task_architecture
from visionflow.models.manifest import MANIFEST_FILE, ModelManifest
from visionflow.models.package import ModelPackage, sha256_file
from visionflow.runtime import TensorSpec, read_onnx_info

__all__ = [
    "RFDETR_BACKGROUND_CLASS",
    "PackageFormat",
    "detect_format",
    "import_model",
    "import_roboflow_folder",
    "import_ultralytics_onnx",
]

PackageFormat = Literal["visionflow", "ultralytics-onnx", "roboflow"]

_ULTRALYTICS_TASKS = {
    "detect": "object-detection",
    "segment": "instance-segmentation",
    "pose": "keypoint-detection",
    "classify": "classification",
}
_ROBOFLOW_TASKS = frozenset({*_ULTRALYTICS_TASKS.values(), "semantic-segmentation"})
_ROBOFLOW_FILES = ("weights.onnx", "environment.json", "model_type.json")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# Roboflow's RF-DETR packages may list this placeholder among the class names (a logit column
# that is never a real class); the reference drops it and shifts the later class ids down.
RFDETR_BACKGROUND_CLASS = "background_class83422"


def detect_format(path: Path) -> PackageFormat:
    """Which importer a file or folder needs; raises with what was expected if none fits."""
    if path.is_file():
        if path.suffix.lower() == ".onnx":
            return "ultralytics-onnx"
        raise InvalidModelPackageError(
            f"{path} is a file but not an .onnx model; expected an Ultralytics ONNX export, "
            f"a folder with {MANIFEST_FILE}, or a Roboflow-style folder"
        )
    if not path.is_dir():
        raise InvalidModelPackageError(f"{path} does not exist")
    if (path / MANIFEST_FILE).is_file():
        return "visionflow"
    if all((path / name).is_file() for name in _ROBOFLOW_FILES):
        return "roboflow"
    onnx_files = sorted(path.glob("*.onnx"))
    missing = [name for name in _ROBOFLOW_FILES if not (path / name).is_file()]
    raise InvalidModelPackageError(
        f"{path} is not a model package: no {MANIFEST_FILE}, and as a Roboflow-style folder it "
        f"lacks {', '.join(missing)}"
        + (f" (found {', '.join(p.name for p in onnx_files)})" if onnx_files else "")
    )


def import_model(path: Path) -> ModelPackage:
    """Import any supported format (see module docstring)."""
    fmt = detect_format(path)
    if fmt == "visionflow":
        return ModelPackage.from_folder(path)
    if fmt == "ultralytics-onnx":
        return import_ultralytics_onnx(path)
    return import_roboflow_folder(path)


def _literal(raw: str | None, key: str, origin: str) -> Any:
    if raw is None:
        raise InvalidModelPackageError(f"{origin}: ONNX metadata has no {key!r}")
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise InvalidModelPackageError(f"{origin}: ONNX metadata {key!r} is unreadable") from None


def _names_from_mapping(mapping: Mapping[Any, Any], origin: str) -> tuple[str, ...]:
    try:
        indexed = sorted((int(k), str(v)) for k, v in mapping.items())
    except (TypeError, ValueError):
        raise InvalidModelPackageError(f"{origin}: class ids must be integers") from None
    if [i for i, _ in indexed] != list(range(len(indexed))):
        raise InvalidModelPackageError(f"{origin}: class ids must be 0..N-1 without gaps")
    return tuple(name for _, name in indexed)


def _input_of(inputs: tuple[TensorSpec, ...], origin: str) -> TensorSpec:
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise InvalidModelPackageError(
            f"{origin}: expected one image input of shape (B, 3, H, W), got "
            + ", ".join(f"{s.name}{list(s.shape)}" for s in inputs)
        )
    return inputs[0]


def _ultralytics_keypoint_names(raw: str, origin: str) -> dict[str, list[str]]:
    """``kpt_names`` metadata (``{class id: [names]}``, Ultralytics 8.4+) → class id → names."""
    parsed = _literal(raw, "kpt_names", origin)
    if not isinstance(parsed, dict) or not all(
        isinstance(v, list | tuple) for v in parsed.values()
    ):
        raise InvalidModelPackageError(f"{origin}: ONNX metadata 'kpt_names' must map ids to lists")
    return {str(int(k)): [str(name) for name in v] for k, v in parsed.items()}


_ULTRALYTICS_RESIZE = {"classifier": "center-crop", "rtdetr": "stretch"}


def _ultralytics_facts(meta: Mapping[str, str], kpt_shape: Any) -> GraphFacts:
    """What Ultralytics' metadata says about the outputs: ``end2end: True`` (NMS-free head) or
    ``args: {'nms': True}`` (embedded NMS) mean already-selected rows; ``end2end: False`` with
    an ``nms`` argument that is not True rules them out."""
    try:
        args = ast.literal_eval(meta.get("args", "{}"))
    except (ValueError, SyntaxError):
        args = {}
    if not isinstance(args, dict):
        args = {}
    flag = str(meta.get("end2end", "")).lower()
    end2end: bool | None = None
    if flag == "true" or args.get("nms") is True:
        end2end = True
    elif flag == "false" and "nms" in args:
        end2end = False
    keypoints = (
        int(kpt_shape[0])
        if isinstance(kpt_shape, list | tuple) and kpt_shape and isinstance(kpt_shape[0], int)
        else None
    )
    return GraphFacts(
        end2end=end2end,
        head=str(meta.get("head", "")),
        version=str(meta.get("version", "")),
        keypoints=keypoints,
    )


def import_ultralytics_onnx(path: Path) -> ModelPackage:
    origin = path.name
    info = read_onnx_info(path)
    meta = info.metadata
    task_raw = meta.get("task", "detect")
    task = _ULTRALYTICS_TASKS.get(task_raw)
    if task is None:
        raise InvalidModelPackageError(f"{origin}: Ultralytics task {task_raw!r} is not supported")
    names_raw = _literal(meta.get("names"), "names", origin)
    if not isinstance(names_raw, dict):
        raise InvalidModelPackageError(f"{origin}: ONNX metadata 'names' must be a dict")
    class_names = _names_from_mapping(names_raw, origin)
    if not class_names:
        raise InvalidModelPackageError(f"{origin}: ONNX metadata 'names' has no classes")
    image_input = _input_of(info.inputs, origin)
    imgsz = _literal(meta.get("imgsz"), "imgsz", origin) if "imgsz" in meta else None
    height, width = image_input.shape[2], image_input.shape[3]
    if (height is None or width is None) and isinstance(imgsz, list | tuple) and len(imgsz) == 2:
        height, width = int(imgsz[0]), int(imgsz[1])
    if height is None or width is None:
        raise InvalidModelPackageError(f"{origin}: cannot tell the input size (no imgsz)")
    keypoint_names = (
        _ultralytics_keypoint_names(meta["kpt_names"], origin) if "kpt_names" in meta else None
    )
    kpt_shape = (
        _literal(meta.get("kpt_shape"), "kpt_shape", origin)
        if task == "keypoint-detection" and "kpt_shape" in meta
        else None
    )
    if isinstance(kpt_shape, list | tuple) and len(kpt_shape) == 2 and kpt_shape[1] != 3:
        raise InvalidModelPackageError(
            f"{origin}: keypoints without confidence (kpt_shape {list(kpt_shape)}) are not "
            "supported; export a model with kpt_shape [K, 3]"
        )
    facts = _ultralytics_facts(meta, kpt_shape)
    architecture, extra = task_architecture(task, info, class_names, facts, origin, keypoint_names)
    if task == "classification":
        extra["scores"] = "probabilities"
    manifest = ModelManifest.create(
        origin,
        task=task,
        architecture=architecture,
        class_names=class_names,
        extra=extra,
        input={
            "width": width,
            "height": height,
            # Ultralytics classifiers see a centre crop, RT-DETR a stretched image ("scale
            # fill"), the YOLO detectors a letterboxed one.
            "resize_mode": _ULTRALYTICS_RESIZE.get(architecture, "letterbox"),
            "padding_value": 114,
            "color_mode": "rgb",
            "scaling_factor": 255.0,
            "batch_size": image_input.shape[0],
        },
        weights={"model": {"file": "weights.onnx", "sha256": sha256_file(path)}},
        source={
            "format": "ultralytics-onnx",
            "file": path.name,
            "metadata": {k: v for k, v in meta.items() if k != "args"},
        },
    )
    return ModelPackage(manifest=manifest, files={"model": path})


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidModelPackageError(f"{path.name} is not valid JSON: {exc}") from None


_LETTERBOX_PADDING = {
    "Fit (black edges) in": 0,
    "Fit (white edges) in": 255,
    "Fit (grey edges) in": 114,
}


def _roboflow_resize(preprocessing: Mapping[str, Any]) -> tuple[str, int, int | None, int | None]:
    resize = preprocessing.get("resize") or {}
    if not isinstance(resize, Mapping):
        resize = {}
    fmt = str(resize.get("format", "Stretch to"))
    width = int(resize["width"]) if resize.get("width") else None
    height = int(resize["height"]) if resize.get("height") else None
    if fmt == "Stretch to" or not fmt.startswith(("Fit", "Fill")):
        return "stretch", 0, width, height
    # The reference maps the remaining "Fit"/"Fill" variants to black-edge letterbox.
    return "letterbox", _LETTERBOX_PADDING.get(fmt, 0), width, height


def _roboflow_keypoint_names(folder: Path) -> dict[str, list[str]]:
    """``keypoints_metadata.json`` → class id → keypoint names in index order."""
    path = folder / "keypoints_metadata.json"
    if not path.is_file():
        return {}
    entries = _read_json(path)
    if not isinstance(entries, list):
        raise InvalidModelPackageError("keypoints_metadata.json must be a list")
    names: dict[str, list[str]] = {}
    for entry in entries:
        try:
            mapping = entry["keypoints"]
            ordered = sorted((int(k), str(v)) for k, v in mapping.items())
            names[str(int(entry["object_class_id"]))] = [name for _, name in ordered]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InvalidModelPackageError(
                "keypoints_metadata.json entries need object_class_id and a keypoints mapping"
            ) from None
    return names


def _inference_config(folder: Path, origin: str) -> dict[str, Any]:
    """The folder's ``inference_config.json`` (the reference's default-engine package format), or
    ``{}`` when it has none."""
    path = folder / "inference_config.json"
    if not path.is_file():
        return {}
    config = _read_json(path)
    if not isinstance(config, dict):
        raise InvalidModelPackageError(f"{origin}: inference_config.json must be an object")
    return config


def _classification_scores(config: Mapping[str, Any], multilabel: bool, arch_hint: str) -> str:
    """What a classifier's outputs are, as the reference's default engine decides.

    ``post_processing`` of ``inference_config.json`` says it: ``fused`` outputs are the scores,
    else softmax or sigmoid is applied. Without it (a classic folder): a multi-label graph emits
    its sigmoid scores and a YOLO classifier its probabilities (both fused); other single-label
    classifiers (ResNet, ViT, …) emit logits, softmax taken.
    """
    post = config.get("post_processing")
    if isinstance(post, Mapping) and post.get("type") in {"softmax", "sigmoid"}:
        return "probabilities" if post.get("fused") else str(post["type"])
    return "probabilities" if multilabel or arch_hint.startswith("yolo") else "softmax"


def _config_normalization(config: Mapping[str, Any], origin: str) -> dict[str, Any] | None:
    """Per-channel mean/std from ``network_input.normalization`` (``[mean, std]``), else none.

    The reference's default engine normalizes only where the package says so — ResNet and ViT
    packages included (the classic engine's fixed ImageNet / 0.5 constants are not used)."""
    network_input = config.get("network_input")
    raw = network_input.get("normalization") if isinstance(network_input, Mapping) else None
    if raw is None:
        return None
    try:
        mean, std = raw
        return {
            "mean": tuple(float(v) for v in mean),
            "std": tuple(float(v) for v in std),
        }
    except (TypeError, ValueError):
        raise InvalidModelPackageError(
            f"{origin}: inference_config.json network_input.normalization must be "
            "[[mean, ...], [std, ...]]"
        ) from None


def _rfdetr_classes(
    class_names: tuple[str, ...], config: Mapping[str, Any], origin: str
) -> tuple[tuple[str, ...], list[int] | None]:
    """Class names without the ones the package removes (the background placeholder, and
    ``class_names_operations`` ``class_name_removal`` entries of ``inference_config.json``), and
    the logit column → class id map (-1: removed) when any is removed."""
    removed = {RFDETR_BACKGROUND_CLASS}
    operations = config.get("class_names_operations") or []
    if not isinstance(operations, list):
        raise InvalidModelPackageError(
            f"{origin}: inference_config.json class_names_operations must be a list"
        )
    for operation in operations:
        if not isinstance(operation, Mapping) or operation.get("type") != "class_name_removal":
            raise InvalidModelPackageError(
                f"{origin}: unsupported class_names_operations entry {operation!r}; only "
                "class_name_removal is known"
            )
        removed.add(str(operation.get("class_name")))
    if not removed.intersection(class_names):
        return class_names, None
    columns: list[int] = []
    kept: list[str] = []
    for name in class_names:
        columns.append(-1 if name in removed else len(kept))
        if name not in removed:
            kept.append(name)
    return tuple(kept), columns


def _rfdetr_input(
    config: Mapping[str, Any],
    classic: tuple[str, int],
    dataset_wh: tuple[int, int],
    origin: str,
) -> tuple[dict[str, Any] | None, str, int, list[int] | None]:
    """RF-DETR's normalization, resize mode, padding and dataset letterbox size.

    With ``inference_config.json`` (the reference's default-engine package) its ``network_input``
    decides: its normalization, and a letterbox to ``dataset_version_resize_dimensions`` before
    the stretch only when those are given for a non-stretch mode — otherwise the image is
    stretched straight to the input, whatever ``resize_mode`` says, as the reference does.
    Without it (a classic folder): ImageNet mean/std, and a ``Fit … in`` dataset letterboxed to
    the ``PREPROCESSING`` size before the stretch.
    """
    network_input = config.get("network_input")
    if not isinstance(network_input, Mapping):
        resize_mode, padding = classic
        letterbox = list(dataset_wh) if resize_mode == "letterbox" else None
        return {"mean": _IMAGENET_MEAN, "std": _IMAGENET_STD}, resize_mode, padding, letterbox
    normalization = _config_normalization(config, origin)
    mode = str(network_input.get("resize_mode", "stretch"))
    dims = network_input.get("dataset_version_resize_dimensions")
    if mode == "stretch" or not isinstance(dims, Mapping):
        return normalization, "stretch", 0, None
    if mode not in ("letterbox", "fit-longer-edge"):
        raise InvalidModelPackageError(
            f"{origin}: RF-DETR with resize_mode {mode!r} and dataset_version_resize_dimensions "
            "is not supported (stretch and letterbox are)"
        )
    try:
        letterbox = [int(dims["width"]), int(dims["height"])]
    except (KeyError, TypeError, ValueError):
        raise InvalidModelPackageError(
            f"{origin}: inference_config.json dataset_version_resize_dimensions needs width and "
            "height"
        ) from None
    # fit-longer-edge is the reference's letterbox with padding 127.
    default_padding = 127 if mode == "fit-longer-edge" else 0
    padding = int(network_input.get("padding_value") or default_padding)
    return normalization, "letterbox", padding, letterbox


def import_roboflow_folder(folder: Path) -> ModelPackage:
    origin = folder.name
    environment = _read_json(folder / "environment.json")
    model_type = _read_json(folder / "model_type.json")
    if not isinstance(environment, dict) or not isinstance(model_type, dict):
        raise InvalidModelPackageError(
            f"{origin}: environment.json/model_type.json must be objects"
        )
    task = str(model_type.get("project_task_type", ""))
    arch_hint = str(model_type.get("model_type", "")).lower()
    if task not in _ROBOFLOW_TASKS:
        raise InvalidModelPackageError(
            f"{origin}: model_type.json project_task_type {task!r} is not one of "
            + ", ".join(sorted(_ROBOFLOW_TASKS))
        )
    names_file = folder / "class_names.txt"
    if names_file.is_file():
        class_names = tuple(
            line.strip()
            for line in names_file.read_text(encoding="utf-8").splitlines()
            if line.strip()
        )
    elif isinstance(environment.get("CLASS_MAP"), dict):
        class_names = _names_from_mapping(environment["CLASS_MAP"], origin)
    else:
        raise InvalidModelPackageError(f"{origin}: no class_names.txt and no CLASS_MAP")
    preprocessing = environment.get("PREPROCESSING") or {}
    if isinstance(preprocessing, str):
        try:
            preprocessing = json.loads(preprocessing) if preprocessing.strip() else {}
        except json.JSONDecodeError as exc:
            raise InvalidModelPackageError(
                f"{origin}: environment.json PREPROCESSING is not valid JSON: {exc}"
            ) from None
    if not isinstance(preprocessing, dict):
        raise InvalidModelPackageError(
            f"{origin}: environment.json PREPROCESSING must be an object"
        )
    resize_mode, padding, resize_w, resize_h = _roboflow_resize(preprocessing)
    weights = folder / "weights.onnx"
    info = read_onnx_info(weights)
    image_input = _input_of(info.inputs, origin)
    height = image_input.shape[2] or resize_h or 640
    width = image_input.shape[3] or resize_w or 640
    facts = GraphFacts(hint=arch_hint)
    keypoint_names = _roboflow_keypoint_names(folder)
    architecture, extra = task_architecture(task, info, class_names, facts, origin, keypoint_names)
    normalization = None
    if task == "classification":
        multilabel = bool(environment.get("MULTICLASS"))
        extra["multilabel"] = multilabel
        config = _inference_config(folder, origin)
        extra["scores"] = _classification_scores(config, multilabel, arch_hint)
        normalization = _config_normalization(config, origin)
    if architecture.startswith("rfdetr"):
        config = _inference_config(folder, origin)
        class_names, columns = _rfdetr_classes(class_names, config, origin)
        if columns is not None:
            extra["class_columns"] = columns
        normalization, resize_mode, padding, letterbox = _rfdetr_input(
            config, (resize_mode, padding), (resize_w or width, resize_h or height), origin
        )
        if letterbox is not None:
            extra["letterbox_wh"] = letterbox
    unsupported = [
        step
        for step in ("static-crop", "contrast", "grayscale")
        if isinstance(preprocessing.get(step), Mapping) and preprocessing[step].get("enabled")
    ]
    if unsupported:
        extra["roboflow_preprocessing_ignored"] = unsupported
    manifest = ModelManifest.create(
        origin,
        task=task,
        architecture=architecture,
        class_names=class_names,
        input={
            "width": width,
            "height": height,
            "resize_mode": resize_mode,
            "padding_value": padding,
            "color_mode": "rgb",
            "scaling_factor": 255.0,
            "normalization": normalization,
            "batch_size": image_input.shape[0],
        },
        weights={"model": {"file": "weights.onnx", "sha256": sha256_file(weights)}},
        extra=extra,
        source={"format": "roboflow", "model_type": model_type, "preprocessing": preprocessing},
    )
    return ModelPackage(manifest=manifest, files={"model": weights})
