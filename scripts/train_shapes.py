"""Train the demo "shapes" detector from scratch on CPU and export it to ONNX.

Dev-only: needs torch + Ultralytics (AGPL-3.0), which the server never imports. Run it in a
separate virtualenv, from the repository root::

    python3.11 -m venv /tmp/train-venv
    /tmp/train-venv/bin/pip install -r scripts/requirements-train.txt
    /tmp/train-venv/bin/python scripts/train_shapes.py

Steps: writes a synthetic YOLO data set with scripts/shapes.py (default /tmp/shapes-ds,
300 train + 60 val images, seed 0), trains the narrow YOLOv8 in scripts/yolov8-shapes.yaml
(depth 0.33, width 0.125) at 320 px, batch 16, exports best.pt to ONNX (opset 17, 320x320,
static shapes, simplified) and copies it to src/visionflow/demo/models/shapes-det.onnx.
Ultralytics stores names, imgsz, stride and task in the ONNX metadata_props; the server reads
them from there.

The defaults reproduce the shipped model: 80 fixed epochs on 1 torch thread (about 26 min on
a shared 2-core machine). ``--hours 0.16`` trains for a wall-clock budget instead (Ultralytics
re-estimates the epoch count after each epoch), which is faster but makes the result depend on
machine load: on a busy machine it fitted only 27 epochs and reached mAP50 0.82. More threads
(``--threads 2``) speed up an idle machine but slow down badly when other processes compete for
the cores.

Nothing is downloaded: YOLO_OFFLINE=1, settings sync=False, plots=False (plots would fetch a
font), and onnx/onnxslim/onnxruntime are preinstalled (export would pip-install them otherwise).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

# Must be set before Ultralytics is imported: it reads the variable at import time.
os.environ["YOLO_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import shapes  # noqa: E402

MODEL_YAML = REPO / "scripts" / "yolov8-shapes.yaml"
DEFAULT_OUT = REPO / "src" / "visionflow" / "demo" / "models" / "shapes-det.onnx"
IMGSZ = 320


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=Path("/tmp/shapes-ds"))
    p.add_argument("--train", type=int, default=300, help="number of training images")
    p.add_argument("--val", type=int, default=60, help="number of validation images")
    p.add_argument("--seed", type=int, default=0, help="data set and training seed")
    p.add_argument("--hours", type=float, default=0.0, help="wall-clock budget; 0 = use --epochs")
    p.add_argument("--epochs", type=int, default=80, help="epochs (re-estimated if --hours > 0)")
    p.add_argument("--project", type=Path, default=Path("/tmp/shapes-runs"))
    p.add_argument("--name", default="train")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to copy the ONNX file")
    p.add_argument("--regen", action="store_true", help="rewrite the data set even if present")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for training",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    data_yaml = args.data_dir / "data.yaml"
    if args.regen or not data_yaml.exists():
        if args.data_dir.exists():
            shutil.rmtree(args.data_dir)
        data_yaml = shapes.write_yolo_dataset(args.data_dir, args.train, args.val, args.seed)
    print(f"data: {data_yaml}", flush=True)

    from ultralytics import YOLO, settings

    # sync=False stops analytics/event uploads, which would hang or fail without network.
    settings.update({"sync": False})

    model = YOLO(str(MODEL_YAML), task="detect")

    def use_all_threads(_trainer: object) -> None:
        # Ultralytics' device selection pins torch to cpu_count - 1 threads; override it so the
        # thread count is explicit and the same on every machine (it affects speed, and float
        # summation order).
        import torch

        torch.set_num_threads(args.threads)

    model.add_callback("on_pretrain_routine_start", use_all_threads)
    t0 = time.time()
    model.train(
        data=str(data_yaml),
        imgsz=IMGSZ,
        epochs=args.epochs,
        time=args.hours or None,
        batch=16,
        workers=2,
        cache="ram",
        device="cpu",
        seed=args.seed,
        deterministic=True,
        pretrained=False,
        amp=False,
        plots=False,
        project=str(args.project),
        name=args.name,
        exist_ok=True,
        verbose=False,
    )
    train_s = time.time() - t0
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    best = Path(trainer.best)
    epochs_done = int(trainer.epoch) + 1

    # Re-validate best.pt so the numbers reported belong to the weights that are exported.
    best_model = YOLO(str(best), task="detect")
    val = best_model.val(
        data=str(data_yaml), imgsz=IMGSZ, batch=16, device="cpu", plots=False, verbose=False
    )
    map50, map50_95 = float(val.box.map50), float(val.box.map)

    onnx_path = Path(
        best_model.export(
            format="onnx", imgsz=IMGSZ, opset=17, dynamic=False, simplify=True, device="cpu"
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, args.out)

    summary = {
        "seed": args.seed,
        "train_images": args.train,
        "val_images": args.val,
        "epochs": epochs_done,
        "train_seconds": round(train_s, 1),
        "threads": args.threads,
        "val_map50": round(map50, 4),
        "val_map50_95": round(map50_95, 4),
        "onnx": str(args.out),
        "onnx_bytes": args.out.stat().st_size,
        "onnx_sha256": sha256_of(args.out),
        "run_dir": str(save_dir),
    }
    (save_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
