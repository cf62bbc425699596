"""Train the demo "shapes" models from scratch on CPU and export them to ONNX.

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

Other tasks (``--task``), each with its own model YAML, data set, defaults and output file:

- ``segment``: scripts/yolov8-shapes-seg.yaml, polygons from ``shapes.py yolo-dataset --task
  segment`` (/tmp/shapes-seg-ds), 320 px -> src/visionflow/demo/models/shapes-seg.onnx;
- ``pose``: scripts/yolov8-shapes-pose.yaml, corner keypoints (``kpt_shape [4, 3]``) from
  ``--task pose`` (/tmp/shapes-pose-ds), 320 px, ``fliplr=0`` (no single ``flip_idx`` fits
  4-corner squares and 3-corner triangles; orientations are already uniformly random) ->
  /tmp/shapes-pose.onnx (scripts/package_demo.py turns it into the shapes-pose/ package);
- ``classify``: scripts/yolov8-shapes-cls.yaml, square object crops from ``shapes.py
  cls-dataset`` (/tmp/shapes-cls-ds), 96 px, milder crop/erasing augmentation so that the shape
  stays in view -> src/visionflow/demo/models/shapes-cls.onnx.

These start from the detector's weights (``--init-from``, default the detector run's
/tmp/shapes-runs/train/weights/best.pt, so train the detector first; ``--init-from none`` for
random initialisation, which needs far more epochs). Per-task defaults (images, epochs) are in
``TASKS`` and reproduce the shipped files; src/visionflow/demo/models/LICENSES.md lists the
commands, timings and metrics.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Must be set before Ultralytics is imported: it reads the variable at import time.
os.environ["YOLO_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import shapes  # noqa: E402

MODELS_DIR = REPO / "src" / "visionflow" / "demo" / "models"
MODEL_YAML = REPO / "scripts" / "yolov8-shapes.yaml"
DEFAULT_OUT = MODELS_DIR / "shapes-det.onnx"
IMGSZ = 320


@dataclass(frozen=True)
class TaskSpec:
    """Defaults of one task; ``hyp`` are extra Ultralytics training arguments."""

    model_yaml: Path
    data_dir: Path
    out: Path
    imgsz: int
    train: int
    val: int
    epochs: int
    hyp: dict[str, Any] = field(default_factory=dict)


# Where the default detector run leaves its weights; the other tasks start from them.
DETECTOR_BEST = Path("/tmp/shapes-runs/train/weights/best.pt")

TASKS: dict[str, TaskSpec] = {
    "detect": TaskSpec(MODEL_YAML, Path("/tmp/shapes-ds"), DEFAULT_OUT, IMGSZ, 300, 60, 80),
    "segment": TaskSpec(
        REPO / "scripts" / "yolov8-shapes-seg.yaml",
        Path("/tmp/shapes-seg-ds"),
        MODELS_DIR / "shapes-seg.onnx",
        IMGSZ,
        300,
        60,
        28,
    ),
    "pose": TaskSpec(
        REPO / "scripts" / "yolov8-shapes-pose.yaml",
        Path("/tmp/shapes-pose-ds"),
        Path("/tmp/shapes-pose.onnx"),
        IMGSZ,
        500,
        60,
        45,
        {"fliplr": 0.0},
    ),
    # Counts are generated images; each gives about three crops.
    "classify": TaskSpec(
        REPO / "scripts" / "yolov8-shapes-cls.yaml",
        Path("/tmp/shapes-cls-ds"),
        MODELS_DIR / "shapes-cls.onnx",
        96,
        600,
        100,
        30,
        # RandomResizedCrop keeps 80-100 % of the area (default 50-100 %) and random erasing is
        # rarer (default 0.4), so the shape that defines the label is not cut away.
        {"scale": 0.2, "erasing": 0.1},
    ),
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", choices=sorted(TASKS), default="detect", help="what to train")
    p.add_argument("--data-dir", type=Path, default=None, help="default: per task")
    p.add_argument("--train", type=int, default=None, help="number of training images")
    p.add_argument("--val", type=int, default=None, help="number of validation images")
    p.add_argument("--seed", type=int, default=0, help="data set and training seed")
    p.add_argument("--hours", type=float, default=0.0, help="wall-clock budget; 0 = use --epochs")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs (default per task; re-estimated if --hours)",
    )
    p.add_argument("--project", type=Path, default=Path("/tmp/shapes-runs"))
    p.add_argument("--name", default=None, help="run name (default: train, or train-<task>)")
    p.add_argument("--out", type=Path, default=None, help="where to copy the ONNX file")
    p.add_argument("--regen", action="store_true", help="rewrite the data set even if present")
    p.add_argument(
        "--init-from",
        default=None,
        help="checkpoint whose matching layers start the training (default: the detector's "
        f"best.pt, {DETECTOR_BEST}, for the other tasks; 'none' = random init)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads for training",
    )
    args = p.parse_args(argv)
    spec = TASKS[args.task]
    for key, value in (
        ("data_dir", spec.data_dir),
        ("train", spec.train),
        ("val", spec.val),
        ("epochs", spec.epochs),
        ("out", spec.out),
        ("name", "train" if args.task == "detect" else f"train-{args.task}"),
        ("init_from", "none" if args.task == "detect" else str(DETECTOR_BEST)),
    ):
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def write_data(task: str, data_dir: Path, n_train: int, n_val: int, seed: int) -> Path:
    """Write the task's data set; returns what Ultralytics' ``data=`` takes."""
    if task == "classify":
        return shapes.write_classification_dataset(data_dir, n_train, n_val, seed)
    return shapes.write_yolo_dataset(data_dir, n_train, n_val, seed, task=task)


def val_metrics(task: str, val: Any) -> dict[str, float]:
    """The headline validation numbers of an Ultralytics metrics object."""
    if task == "classify":
        return {"val_top1": round(float(val.top1), 4), "val_top5": round(float(val.top5), 4)}
    out = {"val_map50": float(val.box.map50), "val_map50_95": float(val.box.map)}
    if task == "segment":
        out |= {"val_mask_map50": float(val.seg.map50), "val_mask_map50_95": float(val.seg.map)}
    if task == "pose":
        out |= {"val_pose_map50": float(val.pose.map50), "val_pose_map50_95": float(val.pose.map)}
    return {k: round(v, 4) for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec = TASKS[args.task]
    imgsz = spec.imgsz

    # A YOLO data set is complete once data.yaml exists (written last); a classification folder
    # gets a marker file. Use --regen after changing --train/--val/--seed.
    classify = args.task == "classify"
    data_yaml = args.data_dir if classify else args.data_dir / "data.yaml"
    done_marker = args.data_dir / ".complete" if classify else data_yaml
    if args.regen or not done_marker.exists():
        if args.data_dir.exists():
            shutil.rmtree(args.data_dir)
        data_yaml = write_data(args.task, args.data_dir, args.train, args.val, args.seed)
        if classify:
            done_marker.write_text(f"train={args.train} val={args.val} seed={args.seed}\n")
    print(f"data: {data_yaml}", flush=True)

    init_from = None if args.init_from.lower() == "none" else Path(args.init_from)
    if init_from is not None and not init_from.is_file():
        print(
            f"--init-from {init_from} does not exist: train the detector first "
            "(scripts/train_shapes.py) or pass --init-from none",
            file=sys.stderr,
        )
        return 2

    from ultralytics import YOLO, settings

    # sync=False stops analytics/event uploads, which would hang or fail without network.
    settings.update({"sync": False})

    model = YOLO(str(spec.model_yaml), task=args.task)

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
        imgsz=imgsz,
        epochs=args.epochs,
        time=args.hours or None,
        batch=16,
        workers=2,
        cache="ram",
        device="cpu",
        seed=args.seed,
        deterministic=True,
        # A checkpoint path transfers every layer whose name and shape match: the backbone and
        # neck (and, for segment/pose, the box and class branches of the head).
        pretrained=str(init_from) if init_from is not None else False,
        amp=False,
        plots=False,
        project=str(args.project),
        name=args.name,
        exist_ok=True,
        verbose=False,
        **spec.hyp,
    )
    train_s = time.time() - t0
    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    best = Path(trainer.best)
    epochs_done = int(trainer.epoch) + 1

    # Re-validate best.pt so the numbers reported belong to the weights that are exported.
    best_model = YOLO(str(best), task=args.task)
    val = best_model.val(
        data=str(data_yaml), imgsz=imgsz, batch=16, device="cpu", plots=False, verbose=False
    )
    metrics = val_metrics(args.task, val)

    onnx_path = Path(
        best_model.export(
            format="onnx", imgsz=imgsz, opset=17, dynamic=False, simplify=True, device="cpu"
        )
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_path, args.out)

    summary = {
        "task": args.task,
        "seed": args.seed,
        "init_from": str(init_from) if init_from is not None else None,
        "train_images": args.train,
        "val_images": args.val,
        "epochs": epochs_done,
        "train_seconds": round(train_s, 1),
        "threads": args.threads,
        "imgsz": imgsz,
        "hyp": spec.hyp,
        **metrics,
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
