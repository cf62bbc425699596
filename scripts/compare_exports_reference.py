"""Decode the modern export layouts with the reference's own model classes (Roboflow
``inference-models``, the default engine of the reference server) and with visionflow, on the
same ONNX files and images, and print the differences. Dev-only.

    .venv/bin/python scripts/build_export_fixtures.py --out /tmp/export-fixtures   # first
    .venv/bin/python scripts/compare_exports_reference.py --exports /tmp/export-fixtures \\
        --reference-python /tmp/peer/venv/bin/python

Cases: the Ultralytics exports of ``build_export_fixtures.py`` (YOLO26/YOLOv10 end-to-end,
embedded NMS of YOLOv8/11: detection, segmentation and keypoints), loaded by the reference as
packages with ``inference_config.json`` (``post_processing: {type: nms, fused: true}`` for
embedded NMS); and RF-DETR(-seg) graphs written here with RF-DETR's signature (``dets``,
``labels``, ``masks``) whose outputs are random projections of the input pixels, so any
difference in pre-processing shows in the answers. visionflow imports the Ultralytics files
directly and the RF-DETR graphs as Roboflow-style folders (``model_type: rfdetr-base``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CONFIDENCE = 0.25
# name, export file (from build_export_fixtures), reference module:class, post-processing.
YOLO_CASES = (
    ("yolo26-e2e", "yolo26.yolo26_object_detection_onnx:YOLO26ForObjectDetectionOnnx", None),
    ("yolov10-e2e", "yolov10.yolov10_object_detection_onnx:YOLOv10ForObjectDetectionOnnx", None),
    (
        "yolo26-seg-e2e",
        "yolo26.yolo26_instance_segmentation_onnx:YOLO26ForInstanceSegmentationOnnx",
        None,
    ),
    (
        "yolo26-pose-e2e",
        "yolo26.yolo26_key_points_detection_onnx:YOLO26ForKeyPointsDetectionOnnx",
        None,
    ),
    ("yolov8-nms", "yolov8.yolov8_object_detection_onnx:YOLOv8ForObjectDetectionOnnx", "fused"),
    ("yolo11-nms", "yolov8.yolov8_object_detection_onnx:YOLOv8ForObjectDetectionOnnx", "fused"),
    (
        "yolo11-seg-nms",
        "yolov8.yolov8_instance_segmentation_onnx:YOLOv8ForInstanceSegmentationOnnx",
        "fused",
    ),
    (
        "yolo11-pose-nms",
        "yolov8.yolov8_key_points_detection_onnx:YOLOv8ForKeyPointsDetectionOnnx",
        "fused",
    ),
)
_RFDETR = "rfdetr.rfdetr_object_detection_onnx:RFDetrForObjectDetectionONNX"
_RFDETR_SEG = "rfdetr.rfdetr_instance_segmentation_onnx:RFDetrForInstanceSegmentationOnnx"
# name, reference class, dataset letterbox size (w, h) or None (a stretch package).
RFDETR_CASES = (
    ("rfdetr", _RFDETR, None),
    ("rfdetr-seg", _RFDETR_SEG, None),
    ("rfdetr-letterbox", _RFDETR, (64, 40)),
    ("rfdetr-seg-letterbox", _RFDETR_SEG, (64, 40)),
)
RFDETR_SIZE = 48
RFDETR_QUERIES = 24
RFDETR_CLASSES = ("circle", "square", "triangle")
IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


# -- packages ----------------------------------------------------------------------------------


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1))


def _rfdetr_graph(path: Path, masks: bool, seed: int) -> None:
    """An RF-DETR-shaped graph: ``input (1, 3, S, S)`` → ``dets (1, Q, 4)`` (sigmoid, so in
    (0, 1)), ``labels (1, Q, K)`` and ``masks (1, Q, S/4, S/4)``, each a fixed random linear map
    of the flattened normalised pixels."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    size, queries, columns = RFDETR_SIZE, RFDETR_QUERIES, len(RFDETR_CLASSES) + 1
    features = 3 * size * size
    grid = size // 4

    def weights(name: str, width: int, scale: float, bias: float) -> list[Any]:
        w = (rng.standard_normal((features, width)) * scale / np.sqrt(features)).astype(np.float32)
        b = np.full(width, bias, dtype=np.float32)
        return [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]

    initializers = [
        *weights("dets", queries * 4, 2.0, 0.0),
        *weights("labels", queries * columns, 4.0, -1.5),
        numpy_helper.from_array(np.array([1, queries, 4], dtype=np.int64), "dets_shape"),
        numpy_helper.from_array(np.array([1, queries, columns], dtype=np.int64), "labels_shape"),
    ]
    nodes = [
        helper.make_node("Flatten", ["input"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "dets_w", "dets_b"], ["dets_raw"]),
        helper.make_node("Sigmoid", ["dets_raw"], ["dets_flat"]),
        helper.make_node("Reshape", ["dets_flat", "dets_shape"], ["dets"]),
        helper.make_node("Gemm", ["flat", "labels_w", "labels_b"], ["labels_flat"]),
        helper.make_node("Reshape", ["labels_flat", "labels_shape"], ["labels"]),
    ]
    outputs = [
        helper.make_tensor_value_info("dets", TensorProto.FLOAT, [1, queries, 4]),
        helper.make_tensor_value_info("labels", TensorProto.FLOAT, [1, queries, columns]),
    ]
    if masks:
        initializers += [
            *weights("masks", queries * grid * grid, 6.0, 0.0),
            numpy_helper.from_array(
                np.array([1, queries, grid, grid], dtype=np.int64), "masks_shape"
            ),
        ]
        nodes += [
            helper.make_node("Gemm", ["flat", "masks_w", "masks_b"], ["masks_flat"]),
            helper.make_node("Reshape", ["masks_flat", "masks_shape"], ["masks"]),
        ]
        outputs.append(
            helper.make_tensor_value_info("masks", TensorProto.FLOAT, [1, queries, grid, grid])
        )
    image = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])
    graph = helper.make_graph(nodes, "rfdetr_like", [image], outputs, initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def _inference_config(
    size_hw: tuple[int, int],
    resize_mode: str,
    normalization: Any = None,
    fused: bool | None = None,
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "image_pre_processing": {"auto-orient": {"enabled": True}},
        "network_input": {
            "training_input_size": {"height": size_hw[0], "width": size_hw[1]},
            "dynamic_spatial_size_supported": False,
            "color_mode": "rgb",
            "resize_mode": resize_mode,
            "padding_value": 114,
            "input_channels": 3,
            "scaling_factor": 255,
            "normalization": normalization,
        },
        "forward_pass": {"static_batch_size": 1},
    }
    if fused is not None:
        config["post_processing"] = {"type": "nms", "fused": fused}
    return config


def prepare(exports: Path, work: Path) -> list[dict[str, Any]]:
    """Reference packages and visionflow inputs for every case."""
    import numpy as np
    import onnx

    sys.path.insert(0, str(REPO / "src"))
    sys.path.insert(0, str(REPO))
    from tests.fixtures.onnx_graphs import write_roboflow_task_folder

    work.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, reference_class, post in YOLO_CASES:
        onnx_path = exports / f"{name}.onnx"
        meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
        names = [v for _, v in sorted(ast.literal_eval(meta["names"]).items())]
        imgsz = ast.literal_eval(meta["imgsz"])
        package = work / name
        shutil.rmtree(package, ignore_errors=True)
        package.mkdir()
        shutil.copyfile(onnx_path, package / "weights.onnx")
        (package / "class_names.txt").write_text("\n".join(names) + "\n")
        config = _inference_config(tuple(imgsz), "letterbox", fused=post == "fused")
        _write_json(package / "inference_config.json", config)
        if "kpt_shape" in meta:
            count = ast.literal_eval(meta["kpt_shape"])[0]
            _write_json(
                package / "keypoints_metadata.json",
                [
                    {
                        "object_class_id": i,
                        "keypoints": {str(k): f"k{k}" for k in range(count)},
                        "edges": [],
                    }
                    for i in range(len(names))
                ],
            )
        cases.append(
            {
                "name": name,
                "class": reference_class,
                "package": str(package),
                "ours": str(onnx_path),
            }
        )
    for index, (name, reference_class, letterbox) in enumerate(RFDETR_CASES):
        masks = "-seg" in name
        package = work / name
        shutil.rmtree(package, ignore_errors=True)
        package.mkdir()
        _rfdetr_graph(package / "weights.onnx", masks, seed=index)
        (package / "class_names.txt").write_text("\n".join(RFDETR_CLASSES) + "\n")
        if letterbox is None:
            config = _inference_config((RFDETR_SIZE, RFDETR_SIZE), "stretch", IMAGENET)
        else:
            config = _inference_config((RFDETR_SIZE, RFDETR_SIZE), "letterbox", IMAGENET)
            config["network_input"]["dataset_version_resize_dimensions"] = {
                "width": letterbox[0],
                "height": letterbox[1],
            }
        _write_json(package / "inference_config.json", config)
        folder = work / f"{name}-roboflow"
        shutil.rmtree(folder, ignore_errors=True)
        write_roboflow_task_folder(
            folder,
            {"placeholder": np.zeros((1, 1), dtype=np.float32)},
            RFDETR_CLASSES,
            task="instance-segmentation" if masks else "object-detection",
            model_type="rfdetr-seg-preview" if masks else "rfdetr-base",
            input_hw=(RFDETR_SIZE, RFDETR_SIZE),
        )
        shutil.copyfile(package / "weights.onnx", folder / "weights.onnx")
        # The same inference_config.json next to the classic files: visionflow follows it.
        shutil.copyfile(package / "inference_config.json", folder / "inference_config.json")
        cases.append(
            {"name": name, "class": reference_class, "package": str(package), "ours": str(folder)}
        )
    return cases


# -- reference stage (the reference's interpreter) ---------------------------------------------


def stage_reference(cases_path: Path, images: list[str], out_path: Path) -> None:
    import importlib

    import cv2
    import numpy as np
    import torch

    cases = json.loads(cases_path.read_text())
    answers: dict[str, Any] = {}
    pixels = [cv2.imread(path) for path in images]
    for case in cases:
        module, name = case["class"].split(":")
        model_class = getattr(importlib.import_module(f"inference_models.models.{module}"), name)
        model = model_class.from_pretrained(
            case["package"], onnx_execution_providers=["CPUExecutionProvider"]
        )
        per_image = []
        for image in pixels:
            result = model.infer(image, confidence=CONFIDENCE, input_color_format="bgr")
            if isinstance(result, tuple):  # keypoint models: (key points, detections)
                key_points, detections = result[0][0], result[1][0]
                extra = {"keypoints": key_points.xy.cpu().numpy().tolist()}
            else:
                detections, extra = result[0], {}
            mask = getattr(detections, "mask", None)
            if mask is not None:
                dense = mask if isinstance(mask, torch.Tensor) else mask.to_dense()
                extra["masks"] = [np.packbits(m.cpu().numpy().astype(bool)).tolist() for m in dense]
                extra["mask_shape"] = list(dense.shape[1:])
            per_image.append(
                {
                    "xyxy": detections.xyxy.cpu().numpy().astype(float).tolist(),
                    "confidence": detections.confidence.cpu().numpy().astype(float).tolist(),
                    "class_id": detections.class_id.cpu().numpy().astype(int).tolist(),
                    **extra,
                }
            )
        answers[case["name"]] = per_image
        print(f"reference {case['name']}: {[len(a['xyxy']) for a in per_image]}", flush=True)
    out_path.write_text(json.dumps(answers))


# -- compare stage (visionflow) ----------------------------------------------------------------


def stage_compare(cases: list[dict[str, Any]], images: list[str], answers: dict[str, Any]) -> int:
    import cv2
    import numpy as np

    from visionflow.core.detections import KEYPOINTS_XY
    from visionflow.models.architectures import ArchitectureRegistry
    from visionflow.models.importers import import_model
    from visionflow.models.params import ParamValues, build_params
    from visionflow.runtime import OnnxSession

    registry = ArchitectureRegistry()
    pixels = [cv2.imread(path) for path in images]
    header = (
        "case",
        "architecture",
        "boxes ref/vf",
        "box |Δ| px",
        "conf |Δ|",
        "classes",
        "kpt |Δ|",
        "min mask IoU",
    )
    rows = [header]
    failures = 0
    for case in cases:
        package = import_model(Path(case["ours"]))
        model = registry.load(package, OnnxSession)
        seg = package.manifest.task == "instance-segmentation"
        params = build_params(package.manifest.task, ParamValues(confidence=CONFIDENCE))
        box = conf = keypoint = 0.0
        iou = 1.0
        counts, same_classes = [], True
        for image, theirs in zip(pixels, answers[case["name"]], strict=True):
            [ours] = model.infer([image], params)
            counts.append(f"{len(theirs['xyxy'])}/{len(ours)}")
            if len(ours) != len(theirs["xyxy"]):
                same_classes = False
                continue
            if not len(ours):
                continue
            box = max(box, float(np.abs(ours.xyxy - np.asarray(theirs["xyxy"])).max()))
            conf = max(
                conf, float(np.abs(ours.confidence - np.asarray(theirs["confidence"])).max())
            )
            same_classes &= ours.class_id.tolist() == theirs["class_id"]
            if "keypoints" in theirs:
                their_xy = np.asarray(theirs["keypoints"])
                our_xy = np.round(ours.data[KEYPOINTS_XY])
                # The reference zeroes keypoints under its threshold (0); compare the others.
                visible = (their_xy != 0).any(axis=-1)
                if visible.any():
                    keypoint = max(keypoint, float(np.abs(our_xy - their_xy)[visible].max()))
            if "masks" in theirs:
                height, width = theirs["mask_shape"]
                for packed, mask in zip(theirs["masks"], ours.mask, strict=True):
                    their_mask = np.unpackbits(np.asarray(packed, dtype=np.uint8))
                    their_mask = their_mask[: height * width].reshape(height, width).astype(bool)
                    union = np.logical_or(their_mask, mask).sum()
                    inter = np.logical_and(their_mask, mask).sum()
                    iou = min(iou, float(inter / union) if union else 1.0)
        ok = box <= 2 and conf <= 1e-3 and same_classes and iou >= 0.9 and keypoint <= 2
        failures += not ok
        rows.append(
            (
                case["name"],
                package.manifest.architecture,
                ", ".join(counts),
                f"{box:.3f}",
                f"{conf:.2e}",
                "same" if same_classes else "DIFFER",
                f"{keypoint:.1f}" if "pose" in case["name"] else "-",
                f"{iou:.3f}" if seg else "-",
            )
        )
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    print(f"reference inference-models vs visionflow, confidence {CONFIDENCE}")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exports", type=Path, default=Path("/tmp/export-fixtures"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/export-reference"))
    parser.add_argument("--reference-python", type=Path, default=Path("/tmp/peer/venv/bin/python"))
    parser.add_argument("--stage", choices=("all", "reference"), default="all")
    parser.add_argument("--cases", type=Path)
    parser.add_argument("--answers", type=Path)
    args = parser.parse_args(argv)
    report = json.loads((args.exports / "ultralytics.json").read_text())
    images = report["images"]
    if args.stage == "reference":
        stage_reference(args.cases, images, args.answers)
        return 0
    cases = prepare(args.exports.resolve(), args.work.resolve())
    cases_path = args.work / "cases.json"
    answers_path = args.work / "reference.json"
    _write_json(cases_path, cases)
    subprocess.run(
        [
            str(args.reference_python),
            str(Path(__file__).resolve()),
            "--stage",
            "reference",
            "--exports",
            str(args.exports.resolve()),
            "--cases",
            str(cases_path.resolve()),
            "--answers",
            str(answers_path.resolve()),
        ],
        check=True,
        env={**os.environ, "ONNXRUNTIME_EXECUTION_PROVIDERS": "[CPUExecutionProvider]"},
    )
    return stage_compare(cases, images, json.loads(answers_path.read_text()))


if __name__ == "__main__":
    raise SystemExit(main())
