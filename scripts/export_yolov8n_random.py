"""Export an untrained (random-init) stock YOLOv8n at 640x640 to ONNX, as a speed fixture.

The weights are random, so detections are meaningless; the file only gives benchmarks a graph
with the real YOLOv8n size and cost. Built from Ultralytics' bundled ``yolov8n.yaml``, so
nothing is downloaded. Dev-only, in the training virtualenv (see scripts/train_shapes.py)::

    /tmp/train-venv/bin/python scripts/export_yolov8n_random.py

Writes benchmarks/models/yolov8n-640-random.onnx (opset 17, static 1x3x640x640, simplified),
with the 80 COCO class names from Ultralytics' bundled coco.yaml in its metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

# Read by Ultralytics at import time.
os.environ["YOLO_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "benchmarks" / "models" / "yolov8n-640-random.onnx"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--seed", type=int, default=0, help="torch seed for the random weights")
    args = p.parse_args(argv)

    import torch
    from ultralytics import YOLO, settings
    from ultralytics.utils import ROOT, YAML

    settings.update({"sync": False})
    torch.manual_seed(args.seed)
    model = YOLO("yolov8n.yaml", task="detect")
    # A yaml-built model is named "0".."79"; real names make the fixture look like a COCO model.
    model.model.names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]

    with tempfile.TemporaryDirectory() as tmp:
        # Export writes next to the model file; a yaml-built model has none, so work in tmp.
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            onnx_path = Path(
                model.export(
                    format="onnx", imgsz=640, opset=17, dynamic=False, simplify=True, device="cpu"
                )
            ).resolve()
        finally:
            os.chdir(cwd)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(onnx_path, args.out)

    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"{args.out} {args.out.stat().st_size} bytes sha256={digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
