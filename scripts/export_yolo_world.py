"""Export a YOLO-World detector to ONNX with the text embeddings as a graph input.

Ultralytics' own YOLO-World export bakes one class list into the graph (``set_classes`` needs
OpenAI CLIP and a download). visionflow wants the classes per request, so this script wraps
``WorldModel.predict(images, txt_feats=...)`` and exports a graph with two inputs::

    images     (B, 3, S, S) float32   RGB / 255, letterboxed (pad 114)
    txt_feats  (1, K, D)    float32   L2-normalized CLIP text embeddings, K = --max-classes
    output0    (B, 4 + K, A) float32  box centre/size in input pixels, then K class scores

K is fixed at export (the head reshapes with a Python int); requests with fewer classes fill the
unused slots with copies of the first embedding (the max-sigmoid attention of YOLO-World v2 is
then unchanged) and ignore their score rows.

Two modes, dev-only, in the training virtualenv (scripts/requirements-train.txt)::

  # A. A real checkpoint, on a machine that has the weights (e.g. yolov8s-worldv2.pt), plus the
  #    CLIP ViT-B/32 (OpenAI) text side as a visionflow CLIP package (scripts/export_clip.py
  #    --open-clip ViT-B-32 --pretrained openai) or as --text-encoder/--tokenizer files.
  #    Writes a complete package folder:
  /tmp/train-venv/bin/python scripts/export_yolo_world.py --weights yolov8s-worldv2.pt \\
      --clip-package packages/clip-vit-b-32 --out packages/yolo-world-v2-s
  .venv/bin/visionflow models add yolo-world/1 packages/yolo-world-v2-s

  # B. The test fixture: yolov8n-worldv2.yaml at width 0.0625 with random weights (nothing is
  #    downloaded), 320 px, K = 8, plus PyTorch reference outputs for tests/models:
  /tmp/train-venv/bin/python scripts/export_yolo_world.py --tiny-random

Mode A's package: ``model.json`` (task ``open-vocabulary-detection``, architecture
``yolo-world``), ``detector.onnx``, ``text_encoder.onnx``, ``tokenizer.json``; ``extra`` holds
``max_classes``, ``embedding_dim``, ``context_length`` and ``pad_id``. The text encoder must be
the CLIP the detector was trained with (ViT-B/32 for Ultralytics' YOLO-World checkpoints).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

# Read by Ultralytics at import time.
os.environ["YOLO_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "models"
TINY_ONNX = FIXTURES / "yolo-world-tiny.onnx"
TINY_REFERENCE = FIXTURES / "yolo-world-tiny-reference.npz"
PACKAGE_FORMAT = "visionflow-model-package/1"

# The tiny fixture: YOLOv8n-worldv2 depth, 1/16 of the full width.
TINY_SCALE = (0.33, 0.0625, 1024)
# Random contrastive heads score everything ~sigmoid(-10); these give a spread of scores.
TINY_HEAD_LOGIT_SCALE = 0.5
TINY_HEAD_BIAS = -2.5
# Reference case: 3 real classes padded to K, NMS settings as visionflow's defaults.
REFERENCE_CLASSES = 3
REFERENCE_CONFIDENCE = 0.15
REFERENCE_IOU = 0.3


class _TextInputWorld:
    """``forward(images, txt_feats)`` around a WorldModel (a torch Module, built lazily)."""

    @staticmethod
    def wrap(model: Any) -> Any:
        import torch

        class Wrapper(torch.nn.Module):
            def __init__(self, world: Any) -> None:
                super().__init__()
                self.world = world

            def forward(self, images: torch.Tensor, txt_feats: torch.Tensor) -> torch.Tensor:
                return self.world.predict(images, txt_feats=txt_feats)

        return Wrapper(model).eval()


def _prepare(model: Any, max_classes: int) -> Any:
    """Eval mode, export mode in the head (decoded ``(B, 4 + K, A)``), K classes."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    head = model.model[-1]
    head.export = True
    head.format = "onnx"
    head.nc = max_classes
    head.no = max_classes + head.reg_max * 4
    return model


def _embedding_dim(model: Any) -> int:
    return int(model.model[-1].cv3[0][-1].out_channels)


def _export_onnx(
    model: Any, path: Path, imgsz: int, max_classes: int, metadata: dict[str, str]
) -> None:
    import onnx
    import torch

    dim = _embedding_dim(model)
    images = torch.zeros(1, 3, imgsz, imgsz)
    txt_feats = torch.nn.functional.normalize(torch.ones(1, max_classes, dim), dim=-1)
    wrapper = _TextInputWorld.wrap(model)
    with torch.no_grad():
        wrapper(images, txt_feats)  # builds the head's anchors for this input size
        torch.onnx.export(
            wrapper,
            (images, txt_feats),
            str(path),
            input_names=["images", "txt_feats"],
            output_names=["output0"],
            dynamic_axes={"images": {0: "batch"}, "output0": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    graph = onnx.load(str(path))
    try:
        import onnxslim

        graph = onnxslim.slim(graph)
    except ImportError:
        pass
    del graph.metadata_props[:]
    for key, value in metadata.items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_package(
    folder: Path,
    detector: Path,
    text_encoder: Path,
    tokenizer: Path,
    *,
    imgsz: int,
    max_classes: int,
    embedding_dim: int,
    context_length: int,
    pad_id: int,
    source: dict[str, Any],
) -> Path:
    """A visionflow package folder (docs/model-package.md) around the three files."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "model": ("detector.onnx", detector),
        "text_encoder": ("text_encoder.onnx", text_encoder),
        "tokenizer": ("tokenizer.json", tokenizer),
    }
    weights = {}
    for key, (name, origin) in files.items():
        if origin.resolve() != (folder / name).resolve():
            shutil.copyfile(origin, folder / name)
        weights[key] = {"file": name, "sha256": _sha256(folder / name)}
    manifest = {
        "format": PACKAGE_FORMAT,
        "task": "open-vocabulary-detection",
        "architecture": "yolo-world",
        "class_names": [],
        "input": {
            "width": imgsz,
            "height": imgsz,
            "resize_mode": "letterbox",
            "padding_value": 114,
            "color_mode": "rgb",
            "scaling_factor": 255.0,
        },
        "weights": weights,
        "extra": {
            "max_classes": max_classes,
            "embedding_dim": embedding_dim,
            "context_length": context_length,
            "pad_id": pad_id,
        },
        "source": source,
    }
    (folder / "model.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return folder


# -- mode A ---------------------------------------------------------------------------------------


def export_checkpoint(args: argparse.Namespace) -> int:
    from ultralytics.nn.tasks import WorldModel, load_checkpoint

    model, _ckpt = load_checkpoint(str(args.weights), device="cpu", fuse=False)
    if not isinstance(model, WorldModel):
        raise SystemExit(f"{args.weights} is a {type(model).__name__}, not a YOLO-World model")
    max_classes = args.max_classes or 80
    imgsz = args.imgsz or 640
    _prepare(model.float(), max_classes)
    dim = _embedding_dim(model)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "detector.onnx"
        _export_onnx(
            model,
            onnx_path,
            imgsz,
            max_classes,
            {"max_classes": str(max_classes), "imgsz": str(imgsz), "embedding_dim": str(dim)},
        )
        text_encoder, tokenizer = args.text_encoder, args.tokenizer
        context_length, pad_id = args.context_length, args.pad_id
        if args.clip_package is not None:
            clip = json.loads((args.clip_package / "model.json").read_text())
            text_encoder = args.clip_package / clip["weights"]["text_encoder"]["file"]
            tokenizer = args.clip_package / clip["weights"]["tokenizer"]["file"]
            context_length = clip["extra"].get("context_length", context_length)
            pad_id = clip["extra"].get("pad_id", pad_id)
        if text_encoder is None or tokenizer is None:
            args.out.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(onnx_path, args.out / "detector.onnx")
            print(f"wrote {args.out / 'detector.onnx'} (no CLIP text side given: no package)")
            return 0
        folder = write_package(
            args.out,
            onnx_path,
            text_encoder,
            tokenizer,
            imgsz=imgsz,
            max_classes=max_classes,
            embedding_dim=dim,
            context_length=context_length,
            pad_id=pad_id,
            source={"importer": "scripts/export_yolo_world.py", "weights": args.weights.name},
        )
    print(f"wrote package {folder}")
    return 0


# -- mode B ---------------------------------------------------------------------------------------


def _tiny_model(max_classes: int, seed: int) -> Any:
    import torch
    from ultralytics.nn.tasks import WorldModel
    from ultralytics.utils import ROOT, YAML

    cfg = YAML.load(ROOT / "cfg" / "models" / "v8" / "yolov8-worldv2.yaml")
    cfg["scales"] = {"n": list(TINY_SCALE)}
    cfg["scale"] = "n"
    cfg["nc"] = max_classes
    torch.manual_seed(seed)
    model = WorldModel(cfg, ch=3, nc=max_classes, verbose=False)
    _calibrate_batch_norms(model, max_classes, seed)
    for contrastive in model.model[-1].cv4:
        contrastive.logit_scale.data.fill_(float(torch.tensor(TINY_HEAD_LOGIT_SCALE).log()))
        contrastive.bias.data.fill_(TINY_HEAD_BIAS)
    return _prepare(model, max_classes)


def _calibrate_batch_norms(model: Any, max_classes: int, seed: int) -> None:
    """Set every BatchNorm's running statistics from one batch of scenes.

    At random init the activations shrink layer by layer (to ~1e-10 at P5), so every anchor
    scores the same; normalizing each layer's output to unit variance keeps the features, boxes
    and scores of the random network varied, which a decoding test needs.
    """
    import numpy as np
    import torch

    images = np.concatenate([_letterbox(_scene(seed + 100 + i), 320)[1] for i in range(4)])
    rng = np.random.default_rng(seed + 1)
    dim = _embedding_dim(model)
    txt = rng.normal(size=(4, max_classes, dim)).astype(np.float32)
    txt /= np.linalg.norm(txt, axis=-1, keepdims=True)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average: one batch sets the statistics exactly
    model.train()
    with torch.no_grad():
        model.predict(torch.from_numpy(images), txt_feats=torch.from_numpy(txt))
    model.eval()


def _scene(seed: int) -> Any:
    """A 640x480 BGR test image: gradients, stripes and filled shapes (deterministic; smooth,
    so the reference file compresses well)."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:480, 0:640]
    stripes = 40 * np.sin(xs / 9.0) * np.cos(ys / 13.0)
    image = np.stack([xs * 215 / 639, ys * 215 / 479, (xs + ys) * 215 / 1118], axis=-1)
    image = np.clip(image + stripes[..., None], 0, 255).astype(np.uint8)
    for _ in range(6):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(60, 420, 2))
        size = int(rng.integers(30, 120))
        if rng.random() < 0.5:
            cv2.circle(image, (x + 60, y), size // 2, colour, -1)
        else:
            cv2.rectangle(image, (x, y - size // 2), (x + size, y + size // 2), colour, -1)
    return image


def _letterbox(image_bgr: Any, size: int) -> tuple[Any, Any, float, tuple[int, int]]:
    """visionflow's letterbox (truncated size and padding, bilinear, pad 114): the RGB canvas
    ``(S, S, 3) uint8`` and the network input ``(1, 3, S, S)`` = RGB / 255."""
    import cv2
    import numpy as np

    height, width = image_bgr.shape[:2]
    scale = min(size / width, size / height)
    new_w, new_h = max(1, int(width * scale)), max(1, int(height * scale))
    pad = (int((size - new_w) / 2), int((size - new_h) / 2))
    canvas = np.full((size, size, 3), 114, dtype=np.uint8)
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad[1] : pad[1] + new_h, pad[0] : pad[0] + new_w] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    tensor = rgb.astype(np.float32) / 255.0
    return rgb, np.ascontiguousarray(tensor.transpose(2, 0, 1)[None]), scale, pad


def _pad_embeddings(embeddings: Any, max_classes: int) -> Any:
    """``(n, D)`` → ``(1, K, D)``: unused slots repeat the first embedding (see module doc)."""
    import numpy as np

    padded = np.repeat(embeddings[:1], max_classes, axis=0)
    padded[: embeddings.shape[0]] = embeddings
    return padded[None].astype(np.float32)


def export_tiny(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np
    import onnxruntime as ort
    import torch
    from ultralytics.utils.nms import non_max_suppression

    max_classes = args.max_classes or 8
    imgsz = args.imgsz or 320
    model = _tiny_model(max_classes, args.seed)
    dim = _embedding_dim(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    _export_onnx(
        model,
        args.out,
        imgsz,
        max_classes,
        {
            "max_classes": str(max_classes),
            "imgsz": str(imgsz),
            "embedding_dim": str(dim),
            "description": "random-weight YOLOv8n-worldv2 (width 0.0625): a test fixture only",
        },
    )

    # Reference outputs: the padded graph input, and the unpadded model (head with n classes).
    rng = np.random.default_rng(args.seed)
    image = _scene(args.seed)
    input_rgb, tensor, scale, pad = _letterbox(image, imgsz)
    embeddings = rng.normal(size=(REFERENCE_CLASSES, dim)).astype(np.float32)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    padded = _pad_embeddings(embeddings, max_classes)
    wrapper = _TextInputWorld.wrap(model)
    with torch.no_grad():
        raw_padded = wrapper(torch.from_numpy(tensor), torch.from_numpy(padded)).numpy()
        head = model.model[-1]
        head.nc, head.no = REFERENCE_CLASSES, REFERENCE_CLASSES + head.reg_max * 4
        raw = wrapper(torch.from_numpy(tensor), torch.from_numpy(embeddings[None]))
        head.nc, head.no = max_classes, max_classes + head.reg_max * 4
        kept = non_max_suppression(
            raw, conf_thres=REFERENCE_CONFIDENCE, iou_thres=REFERENCE_IOU, max_det=300
        )[0].numpy()
    raw = raw.numpy()
    boxes = kept[:, :4].copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - pad[0]) / scale
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - pad[1]) / scale
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, image.shape[1])
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, image.shape[0])

    session = ort.InferenceSession(str(args.out), providers=["CPUExecutionProvider"])
    ort_raw = session.run(None, {"images": tensor, "txt_feats": padded})[0]
    worst = float(np.abs(ort_raw - raw_padded).max())
    same = float(np.abs(raw_padded[:, : 4 + REFERENCE_CLASSES] - raw).max())
    # Images as PNG bytes (lossless, a fraction of the raw size).
    np.savez_compressed(
        args.reference,
        image_png=np.frombuffer(cv2.imencode(".png", image)[1].tobytes(), dtype=np.uint8),
        input_png=np.frombuffer(
            cv2.imencode(".png", cv2.cvtColor(input_rgb, cv2.COLOR_RGB2BGR))[1].tobytes(),
            dtype=np.uint8,
        ),
        embeddings=embeddings,
        txt_feats=padded,
        raw_padded=raw_padded,
        raw=raw,
        xyxy=boxes.astype(np.float32),
        scores=kept[:, 4].astype(np.float32),
        class_ids=kept[:, 5].astype(np.int64),
        confidence=np.float32(REFERENCE_CONFIDENCE),
        iou_threshold=np.float32(REFERENCE_IOU),
    )
    size = args.out.stat().st_size
    print(f"{args.out} {size} bytes sha256={_sha256(args.out)}")
    print(f"{args.reference}: {len(kept)} reference detections")
    print(f"max |ORT - torch| = {worst:.2e}; max |padded - unpadded| = {same:.2e}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--weights", type=Path, help="an Ultralytics YOLO-World checkpoint (.pt)")
    mode.add_argument("--tiny-random", action="store_true", help="the random test fixture")
    p.add_argument("--out", type=Path, help="package folder (A) or ONNX file (B)")
    p.add_argument("--max-classes", type=int, help="K, the fixed class slots (80 / 8)")
    p.add_argument("--imgsz", type=int, help="input size in pixels (640 / 320)")
    p.add_argument("--text-encoder", type=Path, help="CLIP text encoder ONNX (mode A)")
    p.add_argument("--tokenizer", type=Path, help="CLIP tokenizer.json (mode A)")
    p.add_argument("--clip-package", type=Path, help="a CLIP package folder (mode A)")
    p.add_argument("--context-length", type=int, default=77, help="CLIP token context length")
    p.add_argument("--pad-id", type=int, default=0, help="CLIP tokenizer pad id")
    p.add_argument("--reference", type=Path, default=TINY_REFERENCE, help="mode B's npz")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    from ultralytics import settings

    settings.update({"sync": False})
    if args.tiny_random:
        args.out = args.out or TINY_ONNX
        return export_tiny(args)
    if args.out is None:
        p.error("--out is required with --weights")
    return export_checkpoint(args)


if __name__ == "__main__":
    raise SystemExit(main())
