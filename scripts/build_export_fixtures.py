"""Export every modern Ultralytics layout offline and check visionflow's decoding against
Ultralytics' own predictor on the same ONNX files. Dev-only: needs torch + Ultralytics, which
never run in CI (CI decodes tiny graphs with the same signatures, tests/fixtures/export_graphs.py).

    .venv/bin/python scripts/build_export_fixtures.py \\
        --ultralytics-python /tmp/peer/ul/bin/python --out /tmp/export-fixtures

Two stages. The first runs under the Ultralytics interpreter: for each case it builds a
random-weight net from Ultralytics' bundled YAML (nothing is downloaded), re-estimates its
BatchNorm statistics on a synthetic image and sets the class-logit biases so the net emits a few
dozen boxes (random nets otherwise emit none), exports it to ONNX (``nms=False`` end-to-end,
``nms=True`` embedded NMS, default one-to-many) and records what ``YOLO(onnx).predict`` answers
on two images (640x480 and 480x640, which letterbox to the input without rounding, so both
sides feed the graph the same tensor). The second stage, in visionflow's virtualenv, imports each
file as ``visionflow models add`` does, runs it with the same threshold and prints a table: the
layout the importer saw, the boxes on each side, and the largest box |Δ| in pixels.

``nms=True`` needs ``torchvision.ops.nms``; a CPU torch with a CUDA torchvision cannot load
torchvision's kernels, so the first stage defines ``torchvision::nms`` in plain torch first.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
IMAGE_SIZES = ((640, 480), (480, 640))

# name, Ultralytics YAML, task, export nms argument (None: the default one-to-many head).
CASES: tuple[tuple[str, str, str, bool | None], ...] = (
    ("yolo26-e2e", "yolo26n.yaml", "detect", False),
    ("yolov10-e2e", "yolov10n.yaml", "detect", False),
    ("yolo26-seg-e2e", "yolo26n-seg.yaml", "segment", False),
    ("yolo26-pose-e2e", "yolo26n-pose.yaml", "pose", False),
    ("yolov8-nms", "yolov8n.yaml", "detect", True),
    ("yolo11-nms", "yolo11n.yaml", "detect", True),
    ("yolo11-seg-nms", "yolo11n-seg.yaml", "segment", True),
    ("yolo11-pose-nms", "yolo11n-pose.yaml", "pose", True),
    ("yolo11-o2m", "yolo11n.yaml", "detect", None),
    ("yolo26-o2m", "yolo26n.yaml", "detect", None),
    ("yolov10-o2m", "yolov10n.yaml", "detect", None),
    ("yolo26-seg-o2m", "yolo26n-seg.yaml", "segment", None),
    ("yolo26-pose-o2m", "yolo26n-pose.yaml", "pose", None),
    ("rtdetr", "rtdetr-l.yaml", "detect", None),
)
CONFIDENCE = 0.25
IOU = 0.7


# -- stage 1: Ultralytics --------------------------------------------------------------------


def _define_torchvision_nms() -> None:
    """Let ``import torchvision`` succeed when its compiled kernels cannot load, with a plain
    torch ``nms`` (exported to ONNX NonMaxSuppression by torchvision's own symbolic)."""
    import torch

    library = torch.library.Library("torchvision", "DEF")
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")

    def nms(dets: Any, scores: Any, iou_threshold: float) -> Any:
        order = torch.argsort(scores, descending=True)
        x1, y1, x2, y2 = dets.unbind(1)
        areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
        suppressed = torch.zeros(len(order), dtype=torch.bool)
        keep = []
        for position in range(len(order)):
            if suppressed[position]:
                continue
            best = order[position]
            keep.append(int(best))
            rest = order[position + 1 :]
            w = (torch.minimum(x2[best], x2[rest]) - torch.maximum(x1[best], x1[rest])).clamp(min=0)
            h = (torch.minimum(y2[best], y2[rest]) - torch.maximum(y1[best], y1[rest])).clamp(min=0)
            inter = w * h
            suppressed[position + 1 :] |= (
                inter / (areas[best] + areas[rest] - inter) > iou_threshold
            )
        return torch.tensor(keep, dtype=torch.int64)

    library.impl("nms", nms, "CPU")
    _define_torchvision_nms.library = library  # type: ignore[attr-defined]  # keep it alive
    try:
        import torchvision.extension

        torchvision.extension._has_ops = lambda: True
    except Exception:  # a working torchvision needs none of this
        pass


def _images(out: Path) -> list[Path]:
    import cv2
    import numpy as np

    rng = np.random.RandomState(0)
    paths = []
    for width, height in IMAGE_SIZES:
        cells = rng.rand(height // 16, width // 16, 3)
        image = (np.kron(cells, np.ones((16, 16, 1))) * 255).astype(np.uint8)
        path = out / f"image_{width}x{height}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def _recalibrate(model: Any, image_bgr: Any, imgsz: int) -> None:
    """BatchNorm running statistics re-estimated on the image (letterboxed, flipped, rolled)."""
    import cv2
    import numpy as np
    import torch

    height, width = image_bgr.shape[:2]
    scale = imgsz / max(height, width)
    small = cv2.resize(image_bgr, (round(width * scale), round(height * scale)))
    canvas = np.full((imgsz, imgsz, 3), 114, np.uint8)
    top, left = (imgsz - small.shape[0]) // 2, (imgsz - small.shape[1]) // 2
    canvas[top : top + small.shape[0], left : left + small.shape[1]] = small
    x = torch.from_numpy(canvas[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    net = model.model
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None
    net.train()
    with torch.no_grad():
        for step in range(8):
            shifted = torch.roll(x, shifts=(step * 37, step * 53), dims=(2, 3))
            if step % 2:
                shifted = shifted.flip(3)
            net(torch.cat([shifted, shifted.flip(2)]))
    net.eval()


def _set_class_bias(model: Any, bias: float) -> None:
    import torch

    head = model.model.model[-1]
    for name in ("cv3", "one2one_cv3"):
        for branch in getattr(head, name, None) or []:
            convs = [m for m in branch.modules() if isinstance(m, torch.nn.Conv2d)]
            convs[-1].bias.data[:] = bias
    for linear in getattr(head, "dec_score_head", None) or []:
        linear.bias.data[:] = bias
    if hasattr(head, "enc_score_head"):
        head.enc_score_head.bias.data[:] = bias


def _build(yaml: str, image_bgr: Any, imgsz: int) -> Any:
    """A seeded random net recalibrated to emit a few dozen boxes at CONFIDENCE."""
    import torch
    from ultralytics import RTDETR, YOLO

    for bias in (-8.0, -6.0, -4.0, -3.0, -2.0, 0.0):
        torch.manual_seed(0)
        model = RTDETR(yaml) if yaml.startswith("rtdetr") else YOLO(yaml)
        _recalibrate(model, image_bgr, imgsz)
        _set_class_bias(model, bias)
        probe = copy.deepcopy(model)  # predict fuses the layers of the net it runs
        found = len(probe.predict(image_bgr, imgsz=imgsz, conf=CONFIDENCE, verbose=False)[0])
        if found >= 5:
            return model
    return model


def _prediction(result: Any) -> dict[str, Any]:
    boxes = result.boxes
    answer: dict[str, Any] = {
        "xyxy": boxes.xyxy.tolist(),
        "confidence": boxes.conf.tolist(),
        "class_id": [int(c) for c in boxes.cls.tolist()],
    }
    if result.keypoints is not None:
        answer["keypoints"] = result.keypoints.data.tolist()
    return answer


def stage_export(out: Path, imgsz: int) -> None:
    os.environ.setdefault("YOLO_OFFLINE", "True")
    _define_torchvision_nms()
    import cv2
    import onnx
    from ultralytics import RTDETR, YOLO, __version__
    from ultralytics.utils import SETTINGS

    SETTINGS.update({"sync": False})
    out.mkdir(parents=True, exist_ok=True)
    images = _images(out)
    pixels = [cv2.imread(str(path)) for path in images]
    report: dict[str, Any] = {"ultralytics": __version__, "images": [str(p) for p in images]}
    cases = {}
    for name, yaml, task, nms in CASES:
        model = _build(yaml, pixels[0], imgsz)
        options: dict[str, Any] = {"format": "onnx", "imgsz": imgsz, "opset": 17}
        if nms is not None:
            options["nms"] = nms
        exported = Path(model.export(**options))
        target = out / f"{name}.onnx"
        exported.replace(target)
        graph = onnx.load(str(target))
        outputs = [
            (o.name, [d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim])
            for o in graph.graph.output
        ]
        runner = RTDETR(str(target)) if yaml.startswith("rtdetr") else YOLO(str(target), task=task)
        predictions = [
            _prediction(
                runner.predict(image, imgsz=imgsz, conf=CONFIDENCE, iou=IOU, verbose=False)[0]
            )
            for image in pixels
        ]
        cases[name] = {"onnx": str(target), "task": task, "outputs": outputs, "images": predictions}
        print(f"exported {name}: {outputs}", flush=True)
    report["cases"] = cases
    (out / "ultralytics.json").write_text(json.dumps(report, indent=1))


# -- stage 2: visionflow ---------------------------------------------------------------------


def _match(theirs: dict[str, Any], ours: Any) -> tuple[float, list[tuple[int, int]]]:
    """Greedy one-to-one pairing of Ultralytics' detections with ours: same class first, then
    the closest confidence, then the closest box (random nets emit many identical boxes).
    Returns the largest box |Δ| over the pairs and the pairs (their index, our index)."""
    import numpy as np

    a = np.asarray(theirs["xyxy"], dtype=np.float64).reshape(-1, 4)
    b = np.asarray(ours.xyxy, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return 0.0, []
    box = np.abs(a[:, None, :] - b[None, :, :]).max(axis=2)
    other_class = np.asarray(theirs["class_id"])[:, None] != np.asarray(ours.class_id)[None, :]
    confidence = np.abs(np.asarray(theirs["confidence"])[:, None] - ours.confidence[None, :])
    cost = box + 1e6 * other_class + 1e4 * confidence
    worst = 0.0
    pairs = []
    for _ in range(min(len(a), len(b))):
        i, j = np.unravel_index(np.argmin(cost), cost.shape)
        worst = max(worst, float(box[i, j]))
        cost[i, :] = np.inf
        cost[:, j] = np.inf
        pairs.append((int(i), int(j)))
    return worst, pairs


def stage_compare(out: Path) -> int:
    import cv2
    import numpy as np

    from visionflow.core.detections import KEYPOINTS_XY
    from visionflow.models.architectures import ArchitectureRegistry
    from visionflow.models.importers import import_model
    from visionflow.models.params import ParamValues, build_params
    from visionflow.runtime import OnnxSession

    report = json.loads((out / "ultralytics.json").read_text())
    images = [cv2.imread(path) for path in report["images"]]
    registry = ArchitectureRegistry()
    rows = []
    failures = 0
    for name, case in report["cases"].items():
        package = import_model(Path(case["onnx"]))
        model = registry.load(package, OnnxSession)
        values = ParamValues(confidence=CONFIDENCE, iou_threshold=IOU, max_detections=300)
        params = build_params(package.manifest.task, values)
        worst = keypoint_worst = 0.0
        unpaired = 0
        counts = []
        for image, theirs in zip(images, case["images"], strict=True):
            [detections] = model.infer([image], params)
            delta, pairs = _match(theirs, detections)
            worst = max(worst, delta)
            # Ultralytics' segment predictor drops instances whose mask came out empty; the
            # reference (and visionflow) keep them, so only their boxes must all be ours.
            extra_ours = len(detections) - len(pairs) if case["task"] == "segment" else 0
            unpaired += len(theirs["xyxy"]) + len(detections) - 2 * len(pairs) - extra_ours
            counts.append(f"{len(theirs['xyxy'])}/{len(detections)}")
            if "keypoints" in theirs and pairs:
                # Ultralytics clips keypoints to the image; the reference leaves them unclipped.
                height, width = image.shape[:2]
                their_xy = np.asarray(theirs["keypoints"])[..., :2]
                our_xy = detections.data[KEYPOINTS_XY].copy()
                our_xy[..., 0] = our_xy[..., 0].clip(0, width)
                our_xy[..., 1] = our_xy[..., 1].clip(0, height)
                for i, j in pairs:
                    keypoint_worst = max(
                        keypoint_worst, float(np.abs(their_xy[i] - our_xy[j]).max())
                    )
        ok = (
            worst <= 2.0
            and keypoint_worst <= 2.0
            and unpaired == 0
            and all(c.split("/")[0] != "0" for c in counts)
        )
        failures += not ok
        rows.append(
            (
                name,
                package.manifest.architecture,
                str(case["outputs"][0][1]),
                ", ".join(counts),
                f"{worst:.3f}",
                str(unpaired),
                f"{keypoint_worst:.3f}" if case["task"] == "pose" else "-",
                "ok" if ok else "FAIL",
            )
        )
    header = (
        "case",
        "architecture",
        "output0",
        "boxes UL/vf",
        "max |Δ| px",
        "unpaired",
        "kpt |Δ|",
        "",
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"Ultralytics {report['ultralytics']}, conf {CONFIDENCE}, iou {IOU}")
    for row in [header, *rows]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/export-fixtures"))
    parser.add_argument("--ultralytics-python", type=Path, default=Path("/tmp/peer/ul/bin/python"))
    parser.add_argument("--imgsz", type=int, default=160)
    parser.add_argument("--stage", choices=("all", "export", "compare"), default="all")
    args = parser.parse_args(argv)
    if args.stage == "export":
        stage_export(args.out, args.imgsz)
        return 0
    if args.stage == "all":
        args.out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(args.ultralytics_python),
                str(Path(__file__).resolve()),
                "--stage",
                "export",
                "--out",
                str(args.out.resolve()),
                "--imgsz",
                str(args.imgsz),
            ],
            check=True,
            cwd=args.out,  # Ultralytics writes its exports next to the working directory
            env={**os.environ, "YOLO_OFFLINE": "True"},
        )
    sys.path.insert(0, str(REPO / "src"))
    return stage_compare(args.out)


if __name__ == "__main__":
    raise SystemExit(main())
