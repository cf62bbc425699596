"""Dev-only: does visionflow give the reference's answers on every task, not only detection?

Not a test and never run in CI: it needs the reference server from ``../shared/peer`` with the five
task models of ``../shared/peer/tasks`` (``local-seg/1``, ``local-pose/1``, ``local-cls/1``,
``local-mlcls/1``, ``local-semseg/1``), and a visionflow server with the *same folders*
registered under the same ids (``visionflow models add local-seg/1 $PEER_ROOT/cache/local-seg/1``
…). ``benchmarks/PEER.md`` has the recipe and the last figures.

The same JPEG bytes go to both servers (``/infer/<task>``); predictions are matched and compared:

- instance segmentation: instances matched by class and box IoU; box |Δ| (px), confidence |Δ|,
  mask IoU per instance (polygons filled on the image canvas; RLE decoded), in both
  ``response_mask_format`` ``polygon`` and ``rle``;
- keypoints: instances matched as above; keypoint |Δ| (px) and confidence |Δ|;
- classification: top class equal, confidence |Δ| over every returned class;
- multi-label: confidence |Δ| over every label, ``predicted_classes`` equal;
- semantic segmentation: share of pixels with the same class, ``confidence_mask`` mean |Δ|
  (0-255).

Exit code 1 when a figure is past the issue's tolerances (boxes 2 px, confidences 1e-3, mask IoU
0.9 per instance, semantic confidence mean |Δ| 1.5).

    .venv/bin/python benchmarks/compare_peer_tasks.py --peer http://127.0.0.1:9001 \\
        --ours http://127.0.0.1:9011 [--peer-python /tmp/peer/venv/bin/python]
"""

from __future__ import annotations

import argparse
import base64
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from pycocotools import mask as coco_mask

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402

TOL_PX = 2.0
TOL_CONF = 1e-3
MIN_MASK_IOU = 0.9
MAX_SEMANTIC_DELTA = 1.5
PHOTOS = ("astronaut", "coffee", "chelsea")
SHAPE_SIZES = ((640, 480), (480, 640), (333, 517), (517, 333), (1280, 720), (200, 150))


def _photos(peer_python: str | None) -> dict[str, np.ndarray]:
    """scikit-image's photos (BGR), loaded through the peer's Python when ours lacks skimage."""
    if not peer_python:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import sys, numpy, skimage.data as d\n"
            "for n in sys.argv[2:]:\n"
            "    numpy.save(f'{sys.argv[1]}/{n}.npy', getattr(d, n)())\n"
        )
        subprocess.run([peer_python, "-c", code, tmp, *PHOTOS], check=True)
        out = {}
        for name in PHOTOS:
            rgb = np.load(Path(tmp) / f"{name}.npy")
            out[name] = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        return out


def images(peer_python: str | None) -> dict[str, bytes]:
    """Name → JPEG bytes: photos, odd-size resizes of them, and synthetic scenes."""
    arrays: dict[str, np.ndarray] = {}
    for name, photo in _photos(peer_python).items():
        arrays[name] = photo
        h, w = photo.shape[:2]
        arrays[f"{name}-odd"] = cv2.resize(photo, (w * 3 // 4 + 1, h * 5 // 4 + 3))
    for index, (w, h) in enumerate(SHAPE_SIZES):
        arrays[f"shapes-{w}x{h}"] = shapes.generate(7, 1, (w, h), start=index)[0].image_bgr
    out = {}
    for name, array in arrays.items():
        ok, encoded = cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        out[name] = encoded.tobytes()
    return out


def _post(client: httpx.Client, base: str, route: str, body: dict[str, Any]) -> Any:
    response = client.post(f"{base}{route}", json=body, timeout=120)
    response.raise_for_status()
    return response.json()


def _box(p: dict[str, Any]) -> np.ndarray:
    return np.array(
        [
            p["x"] - p["width"] / 2,
            p["y"] - p["height"] / 2,
            p["x"] + p["width"] / 2,
            p["y"] + p["height"] / 2,
        ],
        dtype=np.float64,
    )


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(np.array_equal(a, b))


def _match(
    ref: list[dict[str, Any]], ours: list[dict[str, Any]]
) -> tuple[list[tuple[int, int]], int]:
    """Pairs of the same rank (both servers sort by confidence) where class and box agree, then
    greedy matching of the rest by class and box IoU; returns pairs and the unmatched count."""
    pairs = []
    used_r: set[int] = set()
    used_o: set[int] = set()
    for i, (r, o) in enumerate(zip(ref, ours, strict=False)):
        same = abs(r["confidence"] - o["confidence"]) < 1e-3
        if same and r["class_id"] == o["class_id"] and _iou(_box(r), _box(o)) >= 0.98:
            pairs.append((i, i))
            used_r.add(i)
            used_o.add(i)
    candidates = []
    for i, r in enumerate(ref):
        for j, o in enumerate(ours):
            if i not in used_r and j not in used_o and r["class_id"] == o["class_id"]:
                closeness = -abs(r["confidence"] - o["confidence"])
                candidates.append((_iou(_box(r), _box(o)), closeness, i, j))
    candidates.sort(reverse=True)
    for iou, _closeness, i, j in candidates:
        if iou < 0.5 or i in used_r or j in used_o:
            continue
        used_r.add(i)
        used_o.add(j)
        pairs.append((i, j))
    return pairs, len(ref) + len(ours) - 2 * len(pairs)


def _mask(p: dict[str, Any], hw: tuple[int, int]) -> np.ndarray:
    if "rle" in p:
        rle = dict(p["rle"])
        rle["counts"] = rle["counts"].encode("ascii")
        return coco_mask.decode(rle).astype(bool)
    canvas = np.zeros(hw, np.uint8)
    points = np.array([[pt["x"], pt["y"]] for pt in p.get("points", [])], np.float64)
    if len(points):
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 1)
    return canvas.astype(bool)


@dataclass
class Stats:
    """Worst figures of one task over every image."""

    images: int = 0
    instances: int = 0
    unmatched: int = 0
    box_px: float = 0.0
    conf: float = 0.0
    mask_iou_min: float = 1.0
    mask_iou_mean: list[float] = field(default_factory=list)
    kp_px: float = 0.0
    top_differs: int = 0
    classes_differ: int = 0
    sem_agree_min: float = 1.0
    sem_conf_mean_max: float = 0.0

    def row(self, task: str) -> str:
        mean_iou = float(np.mean(self.mask_iou_mean)) if self.mask_iou_mean else float("nan")
        return (
            f"| {task} | {self.images} | {self.instances} | {self.unmatched} | {self.box_px:.2f} "
            f"| {self.conf:.2e} | {self.mask_iou_min:.3f} / {mean_iou:.3f} | {self.kp_px:.2f} "
            f"| {self.top_differs + self.classes_differ} | {self.sem_agree_min:.4f} "
            f"| {self.sem_conf_mean_max:.2f} |"
        )

    def ok(self) -> bool:
        return (
            self.unmatched == 0
            and self.box_px <= TOL_PX
            and self.conf <= TOL_CONF
            and self.mask_iou_min >= MIN_MASK_IOU
            and self.kp_px <= TOL_PX
            and self.top_differs + self.classes_differ == 0
            and self.sem_conf_mean_max <= MAX_SEMANTIC_DELTA
        )


def compare_instances(
    stats: Stats, ref: dict[str, Any], ours: dict[str, Any], hw: tuple[int, int], masks: bool
) -> None:
    r_preds, o_preds = ref["predictions"], ours["predictions"]
    pairs, unmatched = _match(r_preds, o_preds)
    stats.instances += len(r_preds)
    stats.unmatched += unmatched
    for i, j in pairs:
        r, o = r_preds[i], o_preds[j]
        stats.box_px = max(stats.box_px, float(np.abs(_box(r) - _box(o)).max()))
        stats.conf = max(stats.conf, abs(r["confidence"] - o["confidence"]))
        if masks:
            mr, mo = _mask(r, hw), _mask(o, hw)
            union = np.logical_or(mr, mo).sum()
            iou = float(np.logical_and(mr, mo).sum() / union) if union else 1.0
            stats.mask_iou_min = min(stats.mask_iou_min, iou)
            stats.mask_iou_mean.append(iou)
        for kr, ko in zip(r.get("keypoints", []), o.get("keypoints", []), strict=False):
            stats.kp_px = max(stats.kp_px, abs(kr["x"] - ko["x"]), abs(kr["y"] - ko["y"]))
            stats.conf = max(stats.conf, abs(kr["confidence"] - ko["confidence"]))
        if len(r.get("keypoints", [])) != len(o.get("keypoints", [])):
            stats.unmatched += 1


def compare_classification(stats: Stats, ref: dict[str, Any], ours: dict[str, Any]) -> None:
    if "predicted_classes" in ref:
        if ref["predicted_classes"] != ours.get("predicted_classes"):
            stats.classes_differ += 1
        for name, value in ref["predictions"].items():
            theirs = ours["predictions"].get(name, {}).get("confidence", -1.0)
            stats.conf = max(stats.conf, abs(value["confidence"] - theirs))
        return
    if ref.get("top") != ours.get("top"):
        stats.top_differs += 1
    mine = {p["class"]: p["confidence"] for p in ours["predictions"]}
    for p in ref["predictions"]:
        stats.conf = max(stats.conf, abs(p["confidence"] - mine.get(p["class"], -1.0)))
    if len(ref["predictions"]) != len(ours["predictions"]):
        stats.classes_differ += 1


def _png(data: str) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(data), np.uint8)
    return cv2.imdecode(raw, cv2.IMREAD_UNCHANGED)


def compare_semantic(stats: Stats, ref: dict[str, Any], ours: dict[str, Any]) -> None:
    r, o = ref["predictions"], ours["predictions"]
    r_ids, o_ids = _png(r["segmentation_mask"]), _png(o["segmentation_mask"])
    r_conf = _png(r["confidence_mask"]).astype(np.int32)
    o_conf = _png(o["confidence_mask"]).astype(np.int32)
    stats.sem_agree_min = min(stats.sem_agree_min, float(np.mean(r_ids == o_ids)))
    stats.sem_conf_mean_max = max(stats.sem_conf_mean_max, float(np.abs(r_conf - o_conf).mean()))
    if sorted(r["present_class_ids"]) != sorted(o["present_class_ids"]):
        stats.classes_differ += 1


Compare = Callable[[Stats, dict[str, Any], dict[str, Any], tuple[int, int]], None]

TASKS: tuple[tuple[str, str, str, dict[str, Any], Compare], ...] = (
    (
        "seg polygon",
        "local-seg/1",
        "/infer/instance_segmentation",
        {},
        lambda s, r, o, hw: compare_instances(s, r, o, hw, masks=True),
    ),
    (
        "seg rle",
        "local-seg/1",
        "/infer/instance_segmentation",
        {"response_mask_format": "rle"},
        lambda s, r, o, hw: compare_instances(s, r, o, hw, masks=True),
    ),
    (
        "pose",
        "local-pose/1",
        "/infer/keypoints_detection",
        {},
        lambda s, r, o, hw: compare_instances(s, r, o, hw, masks=False),
    ),
    (
        "cls",
        "local-cls/1",
        "/infer/classification",
        {},
        lambda s, r, o, hw: compare_classification(s, r, o),
    ),
    (
        "multi-label",
        "local-mlcls/1",
        "/infer/classification",
        {},
        lambda s, r, o, hw: compare_classification(s, r, o),
    ),
    (
        "semantic",
        "local-semseg/1",
        "/infer/semantic_segmentation",
        {},
        lambda s, r, o, hw: compare_semantic(s, r, o),
    ),
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default="http://127.0.0.1:9001")
    parser.add_argument("--ours", default="http://127.0.0.1:9011")
    parser.add_argument("--peer-python", default="/tmp/peer/venv/bin/python")
    parser.add_argument("--api-key", default="x", help="sent to the peer (any value offline)")
    parser.add_argument("--our-key", help="visionflow key (none for a loopback server)")
    parser.add_argument("--confidence", type=float, nargs="*", default=[0.25, 0.4])
    parser.add_argument("--only", help="comma-separated task names (e.g. 'seg polygon,semantic')")
    args = parser.parse_args(argv)
    named = images(args.peer_python if Path(args.peer_python).exists() else None)
    only = set(args.only.split(",")) if args.only else None
    print(f"{len(named)} images: {', '.join(named)}")
    print(
        "| task | images | instances | unmatched | box max Δ px | conf max Δ "
        "| mask IoU min / mean | keypoint max Δ px | classes differ | class map agree min "
        "| confidence_mask mean Δ max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    with httpx.Client() as client:
        for task, model_id, route, extra, compare in TASKS:
            if only and task not in only:
                continue
            stats = Stats()
            for confidence in args.confidence:
                for jpeg in named.values():
                    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                    body = {
                        "model_id": model_id,
                        "api_key": args.api_key,
                        "image": {"type": "base64", "value": base64.b64encode(jpeg).decode()},
                        "confidence": confidence,
                        **extra,
                    }
                    ref = _post(client, args.peer, route, body)
                    mine = {k: v for k, v in body.items() if k != "api_key"}
                    if args.our_key:
                        mine["api_key"] = args.our_key
                    ours = _post(client, args.ours, route, mine)
                    stats.images += 1
                    compare(stats, ref, ours, decoded.shape[:2])
            print(stats.row(task), flush=True)
            failed |= not stats.ok()
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
