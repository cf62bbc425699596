"""Synthetic "shapes" data: coloured circles, squares and triangles.

Pure numpy + OpenCV so the serving side and its tests can draw fresh, labelled images without
torch or any download. Every image is a deterministic function of ``(seed, index)``.

Ground truth per object: box, class, outline polygon (instance masks: :func:`masks_of`), corner
keypoints (:attr:`Sample.keypoints`) and square crops around it (:func:`object_crops`).

Library use::

    import shapes
    samples = shapes.generate(seed=0, count=10, size_wh=(640, 480))

CLI::

    python scripts/shapes.py yolo-dataset /tmp/shapes-ds --train 300 --val 60 --seed 0
    python scripts/shapes.py yolo-dataset /tmp/shapes-seg-ds --task segment --seed 0
    python scripts/shapes.py yolo-dataset /tmp/shapes-pose-ds --task pose --seed 0
    python scripts/shapes.py cls-dataset /tmp/shapes-cls-ds --train 300 --val 60 --seed 0
    python scripts/shapes.py preview /tmp/shapes-preview.png --seed 0 --count 8 --boxes
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle")

# Corner keypoints: every object has NUM_KEYPOINTS slots. Squares fill all four, triangles the
# first three (the fourth is invisible), circles none. Order: the top-most corner (smallest y,
# then smallest x) first, then clockwise as seen on screen (y down).
NUM_KEYPOINTS = 4
KEYPOINT_NAMES: tuple[str, ...] = tuple(f"corner_{k + 1}" for k in range(NUM_KEYPOINTS))
# Ultralytics' keypoint visibility flags.
KPT_VISIBLE = 2.0
KPT_ABSENT = 0.0
YOLO_TASKS: tuple[str, ...] = ("detect", "segment", "pose")

# Fixed-point bits for cv2 drawing, so vertices keep sub-pixel precision and the float
# polygons/boxes we report match what is actually drawn.
_SHIFT = 4
_SCALE = float(1 << _SHIFT)

_CIRCLE_POINTS = 32
_MAX_IOU = 0.1
_PLACEMENT_TRIES = 60
# Shape size (circumscribed diameter) as a fraction of the image's shorter side.
_MIN_REL_SIZE = 0.09
_MAX_REL_SIZE = 0.36
# Minimum BGR distance between a shape and the background under it, so every object is visible.
_MIN_CONTRAST = 70.0
# Index offset of the validation split in the CLI, far from any train index.
_VAL_INDEX_OFFSET = 1_000_000
# Image sizes the CLI mixes in besides the square default, so that letterboxed non-square
# inputs (as a server sees them) are in distribution.
_EXTRA_SIZES: tuple[tuple[int, int], ...] = ((640, 480), (480, 640), (480, 360), (416, 320))


@dataclass(frozen=True)
class Sample:
    """One rendered image with its ground truth.

    Attributes:
        image_bgr: ``(H, W, 3)`` uint8 BGR image.
        xyxy: ``(N, 4)`` float32 boxes ``x1, y1, x2, y2`` in pixels, tight around each visible
            shape (outline included).
        class_id: ``(N,)`` int64 indices into :data:`CLASS_NAMES`.
        polygons: ``N`` float32 arrays of shape ``(K, 2)`` with the ``x, y`` outline of each shape
            in pixels (K = 32 for circles, 4 for squares, 3 for triangles).
    """

    image_bgr: np.ndarray
    xyxy: np.ndarray
    class_id: np.ndarray
    polygons: list[np.ndarray]

    @property
    def keypoints(self) -> np.ndarray:
        """``(N, NUM_KEYPOINTS, 3)`` float32 corners ``x, y, visibility`` per object.

        Visibility is 2 for a real corner and 0 (with ``x = y = 0``) for an empty slot; see
        :func:`corner_keypoints` for the order.
        """
        kpts = [
            corner_keypoints(int(c), p) for c, p in zip(self.class_id, self.polygons, strict=True)
        ]
        return np.asarray(kpts, dtype=np.float32).reshape(-1, NUM_KEYPOINTS, 3)


def corner_keypoints(class_id: int, polygon: np.ndarray) -> np.ndarray:
    """Corner keypoints of one shape: ``(NUM_KEYPOINTS, 3)`` float32 ``x, y, visibility``.

    Squares give 4 corners, triangles 3 (slot 4 empty), circles none (all slots empty). Corners
    start at the top-most one (smallest y; ties broken by smallest x) and go clockwise on screen
    (image y axis points down), so the order is a function of what the image shows.
    """
    out = np.zeros((NUM_KEYPOINTS, 3), dtype=np.float32)
    if class_id == 0:
        return out
    pts = np.asarray(polygon, dtype=np.float64)
    centre = pts.mean(axis=0)
    # With y pointing down, increasing atan2 angle runs clockwise on screen.
    order = np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]), kind="stable")
    pts = pts[order]
    first = min(range(len(pts)), key=lambda i: (pts[i, 1], pts[i, 0]))
    pts = np.roll(pts, -first, axis=0)
    out[: len(pts), :2] = pts
    out[: len(pts), 2] = KPT_VISIBLE
    return out


def polygon_mask(polygon: np.ndarray, size_wh: tuple[int, int]) -> np.ndarray:
    """Rasterize one ``(K, 2)`` float polygon to an ``(H, W)`` bool mask (sub-pixel vertices)."""
    mask = np.zeros((int(size_wh[1]), int(size_wh[0])), dtype=np.uint8)
    cv2.fillPoly(mask, [_fixed(np.asarray(polygon, dtype=np.float32))], (1,), cv2.LINE_8, _SHIFT)
    return mask.astype(bool)


def masks_of(sample: Sample) -> np.ndarray:
    """``(N, H, W)`` bool instance masks of a sample, rasterized from its polygons."""
    h, w = sample.image_bgr.shape[:2]
    if not sample.polygons:
        return np.zeros((0, h, w), dtype=bool)
    return np.stack([polygon_mask(p, (w, h)) for p in sample.polygons])


def object_crops(
    sample: Sample,
    rng: np.random.Generator,
    margin: tuple[float, float] = (1.15, 1.6),
    jitter: float = 0.08,
) -> list[tuple[np.ndarray, int]]:
    """Square crops around each object of ``sample``: ``[(crop_bgr, class_id), ...]``.

    The side is the object's longer box side times ``U(margin)``; the centre moves by up to
    ``jitter`` times the side; the square is shifted to lie inside the image (it never needs
    padding, as shapes are at most 0.36 of the shorter image side). Crops are square so that
    any resize mode (stretch, letterbox, centre crop) sees the same content. Neighbouring shapes
    may poke into a crop; the label is the object the crop was made for.
    """
    h, w = sample.image_bgr.shape[:2]
    crops: list[tuple[np.ndarray, int]] = []
    for (x1, y1, x2, y2), cls in zip(sample.xyxy.tolist(), sample.class_id.tolist(), strict=True):
        side = max(x2 - x1, y2 - y1) * float(rng.uniform(*margin))
        side = round(min(max(side, 8.0), w, h))
        cx = (x1 + x2) / 2 + float(rng.uniform(-jitter, jitter)) * side
        cy = (y1 + y2) / 2 + float(rng.uniform(-jitter, jitter)) * side
        left = round(min(max(cx - side / 2, 0), w - side))
        top = round(min(max(cy - side / 2, 0), h - side))
        crops.append((sample.image_bgr[top : top + side, left : left + side].copy(), int(cls)))
    return crops


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """Return a ``(3,)`` float32 BGR colour, biased towards saturated hues."""
    hsv = np.array(
        [[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(40, 256)]]], dtype=np.uint8
    )
    if rng.random() < 0.15:
        # Greys too, so colour alone never identifies "shape vs background".
        hsv[0, 0, 1] = rng.integers(0, 40)
    bgr: np.ndarray = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)
    return bgr


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Return an ``(h, w, 3)`` float32 background: flat, linear gradient or smooth noise."""
    kind = rng.choice(3)
    if kind == 0:
        return np.broadcast_to(_random_colour(rng), (h, w, 3)).astype(np.float32)
    if kind == 1:
        c0, c1 = _random_colour(rng), _random_colour(rng)
        angle = rng.uniform(0.0, 2.0 * math.pi)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        proj = xs * math.cos(angle) + ys * math.sin(angle)
        t = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
        grad: np.ndarray = c0 * (1.0 - t[..., None]) + c1 * t[..., None]
        return grad
    # Low-frequency colour noise upsampled to full size: blotchy, texture-like backgrounds.
    cells = int(rng.integers(3, 12))
    small = rng.uniform(0, 255, size=(cells, cells, 3)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    # Pull towards a random base colour so some noise backgrounds are subtle, not all rainbow.
    mix = rng.uniform(0.3, 1.0)
    return np.clip(big * mix + _random_colour(rng) * (1.0 - mix), 0, 255)


def _shape_polygon(
    rng: np.random.Generator, cls: int, cx: float, cy: float, size: float
) -> np.ndarray:
    """Return the ``(K, 2)`` float32 outline of a shape whose circumscribed diameter is ``size``."""
    r = size / 2.0
    if cls == 0:
        angles = np.arange(_CIRCLE_POINTS) * (2.0 * math.pi / _CIRCLE_POINTS)
    elif cls == 1:
        angles = rng.uniform(0.0, math.pi / 2) + np.arange(4) * (math.pi / 2)
    else:
        # Near-equilateral: small vertex jitter adds variety without drifting towards
        # degenerate slivers that would be ambiguous.
        jitter = rng.uniform(-0.12, 0.12, size=3)
        angles = rng.uniform(0.0, 2.0 * math.pi / 3) + np.arange(3) * (2.0 * math.pi / 3) + jitter
    pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    return pts.astype(np.float32)


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * _SCALE).astype(np.int32).reshape(-1, 1, 2)


def _draw_shape(
    canvas: np.ndarray,
    cls: int,
    polygon: np.ndarray,
    centre: tuple[float, float],
    radius: float,
    colour: tuple[float, ...],
    outline: tuple[tuple[float, ...], int] | None,
    line_type: int,
) -> None:
    """Fill (and optionally outline) one shape on ``canvas`` in place."""
    if cls == 0:
        # cv2.circle gives a smoother rim than the 32-gon we report.
        c = (round(centre[0] * _SCALE), round(centre[1] * _SCALE))
        cv2.circle(canvas, c, round(radius * _SCALE), colour, -1, line_type, _SHIFT)
        if outline is not None:
            cv2.circle(canvas, c, round(radius * _SCALE), outline[0], outline[1], line_type, _SHIFT)
    else:
        pts = _fixed(polygon)
        cv2.fillPoly(canvas, [pts], colour, line_type, _SHIFT)
        if outline is not None:
            cv2.polylines(canvas, [pts], True, outline[0], outline[1], line_type, _SHIFT)


def _box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` xyxy box against ``(M, 4)`` boxes; returns ``(M,)`` floats."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.float32)
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    iou: np.ndarray = inter / np.maximum(area + areas - inter, 1e-6)
    return iou


def render_sample(rng: np.random.Generator, size_wh: tuple[int, int] = (320, 320)) -> Sample:
    """Render one image with 1-5 non-overlapping shapes, drawing all randomness from ``rng``.

    Args:
        rng: source of randomness; the result is a pure function of its state.
        size_wh: ``(width, height)`` of the image in pixels.

    Returns:
        A :class:`Sample`; ``xyxy`` is ``(N, 4)`` float32, ``class_id`` ``(N,)`` int64,
        ``image_bgr`` ``(H, W, 3)`` uint8, with ``1 <= N <= 5``.
    """
    w, h = int(size_wh[0]), int(size_wh[1])
    if w < 32 or h < 32:
        raise ValueError(f"size_wh too small: {size_wh}")
    # Arithmetic on broadcast arrays can yield non C-ordered results, which cv2 drawing rejects.
    img = np.ascontiguousarray(_background(rng, w, h), dtype=np.float32)
    short = min(w, h)
    # Pixels already claimed by a shape (dilated by its outline), so shapes never touch and
    # every box is exactly the visible extent of its object.
    occupied = np.zeros((h, w), dtype=np.uint8)
    boxes: list[np.ndarray] = []
    classes: list[int] = []
    polygons: list[np.ndarray] = []
    n_wanted = int(rng.integers(1, 6))
    for _ in range(n_wanted):
        for _attempt in range(_PLACEMENT_TRIES):
            cls = int(rng.integers(0, len(CLASS_NAMES)))
            size = float(rng.uniform(_MIN_REL_SIZE, _MAX_REL_SIZE)) * short
            thickness = int(rng.integers(1, 4)) if rng.random() < 0.35 else 0
            margin = size / 2.0 + thickness + 1.0
            cx = float(rng.uniform(margin, w - margin))
            cy = float(rng.uniform(margin, h - margin))
            poly = _shape_polygon(rng, cls, cx, cy, size)
            pad = thickness / 2.0
            box = np.array(
                [
                    poly[:, 0].min() - pad,
                    poly[:, 1].min() - pad,
                    poly[:, 0].max() + pad,
                    poly[:, 1].max() + pad,
                ],
                dtype=np.float32,
            )
            np.clip(box, 0, [w, h, w, h], out=box)
            if boxes and _box_iou(box, np.stack(boxes)).max() > _MAX_IOU:
                continue
            mask = np.zeros_like(occupied)
            _draw_shape(mask, cls, poly, (cx, cy), size / 2.0, (255,), None, cv2.LINE_8)
            if thickness:
                mask = np.asarray(
                    cv2.dilate(mask, np.ones((2 * thickness + 1,) * 2, np.uint8)), dtype=np.uint8
                )
            if np.any(mask & occupied):
                continue
            under = img[mask > 0].mean(axis=0)
            fill = _random_colour(rng)
            for _c in range(20):
                if np.linalg.norm(fill - under) >= _MIN_CONTRAST:
                    break
                fill = _random_colour(rng)
            outline = None
            if thickness:
                # Outline contrasting with the fill, darker or lighter.
                edge = np.clip(fill + rng.choice([-1.0, 1.0]) * rng.uniform(80, 200), 0, 255)
                outline = (tuple(float(v) for v in edge), thickness)
            _draw_shape(
                img,
                cls,
                poly,
                (cx, cy),
                size / 2.0,
                tuple(float(v) for v in fill),
                outline,
                cv2.LINE_AA,
            )
            occupied |= mask
            boxes.append(box)
            classes.append(cls)
            polygons.append(poly)
            break
    if rng.random() < 0.35:
        k = int(rng.choice([3, 5]))
        img = np.asarray(cv2.GaussianBlur(img, (k, k), 0), dtype=np.float32)
    if rng.random() < 0.8:
        img = img + rng.normal(0.0, rng.uniform(2.0, 12.0), size=img.shape).astype(np.float32)
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return Sample(
        image_bgr=image,
        xyxy=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        class_id=np.asarray(classes, dtype=np.int64),
        polygons=polygons,
    )


def generate(
    seed: int, count: int, size_wh: tuple[int, int] = (320, 320), start: int = 0
) -> list[Sample]:
    """Render ``count`` samples deterministically.

    Sample ``i`` depends only on ``(seed, start + i)``, so any prefix or slice of a run is
    reproducible on its own.

    Args:
        seed: base seed.
        count: number of samples.
        size_wh: ``(width, height)`` of every image.
        start: index of the first sample in the ``seed`` stream.

    Returns:
        ``count`` :class:`Sample` objects.
    """
    return [render_sample(np.random.default_rng([seed, start + i]), size_wh) for i in range(count)]


def _split_size(seed: int, index: int, mixed: bool) -> tuple[int, int]:
    if not mixed:
        return (320, 320)
    rng = np.random.default_rng([seed, index, 7])
    # Three quarters at the training resolution, the rest at other shapes/resolutions.
    if rng.random() < 0.75:
        return (320, 320)
    return _EXTRA_SIZES[int(rng.integers(0, len(_EXTRA_SIZES)))]


def _label_line(sample: Sample, index: int, size_wh: tuple[int, int], task: str) -> str:
    """One Ultralytics label line: ``class cx cy w h`` (detect), ``class x1 y1 ... xK yK``
    (segment) or ``class cx cy w h x1 y1 v1 ... x4 y4 v4`` (pose); all normalized to 0-1."""
    w, h = size_wh
    c = int(sample.class_id[index])
    if task == "segment":
        poly = sample.polygons[index] / np.array([w, h], dtype=np.float32)
        coords = " ".join(f"{v:.6f}" for v in np.clip(poly, 0.0, 1.0).reshape(-1).tolist())
        return f"{c} {coords}"
    x1, y1, x2, y2 = sample.xyxy[index].tolist()
    cx, cy = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h
    line = f"{c} {cx:.6f} {cy:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
    if task == "pose":
        kpts = corner_keypoints(c, sample.polygons[index])
        parts = []
        for x, y, v in kpts.tolist():
            parts.append(f"{x / w:.6f} {y / h:.6f} {int(v)}" if v > 0 else "0 0 0")
        line += " " + " ".join(parts)
    return line


def write_yolo_dataset(
    out_dir: Path,
    n_train: int,
    n_val: int,
    seed: int,
    mixed_sizes: bool = True,
    task: str = "detect",
) -> Path:
    """Write an Ultralytics YOLO data set and return the path of its ``data.yaml``.

    ``task`` picks the label format: ``detect`` (boxes), ``segment`` (one polygon per object)
    or ``pose`` (box + :data:`NUM_KEYPOINTS` corner keypoints, ``kpt_shape: [4, 3]``; no
    ``flip_idx`` is written because no single permutation fits both 4-corner squares and
    3-corner triangles, so train pose models with ``fliplr=0``).
    """
    if task not in YOLO_TASKS:
        raise ValueError(f"task must be one of {YOLO_TASKS}, got {task!r}")
    out_dir = out_dir.resolve()
    for split, count, offset in (("train", n_train, 0), ("val", n_val, _VAL_INDEX_OFFSET)):
        img_dir = out_dir / "images" / split
        lbl_dir = out_dir / "labels" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        lbl_dir.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            index = offset + i
            size = _split_size(seed, index, mixed_sizes)
            s = render_sample(np.random.default_rng([seed, index]), size)
            name = f"{split}_{i:05d}"
            cv2.imwrite(str(img_dir / f"{name}.jpg"), s.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
            lines = [_label_line(s, k, size, task) for k in range(len(s.class_id))]
            (lbl_dir / f"{name}.txt").write_text("\n".join(lines) + "\n")
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
    text = f"path: {out_dir}\ntrain: images/train\nval: images/val\nnames:\n{names}\n"
    if task == "pose":
        # Every class shares the slot names (a circle's slots are all empty).
        slots = "[" + ", ".join(KEYPOINT_NAMES) + "]"
        kpt_names = "".join(f"  {i}: {slots}\n" for i in range(len(CLASS_NAMES)))
        text += f"kpt_shape: [{NUM_KEYPOINTS}, 3]\nkpt_names:\n{kpt_names}"
    data_yaml = out_dir / "data.yaml"
    data_yaml.write_text(text)
    return data_yaml


def write_classification_dataset(
    out_dir: Path, n_train: int, n_val: int, seed: int, mixed_sizes: bool = True
) -> Path:
    """Write an Ultralytics classification folder data set of object crops; return ``out_dir``.

    Layout: ``{train,val}/<class name>/<split>_<image>_<object>.jpg``, one square crop
    (:func:`object_crops`) per object of ``n_train`` / ``n_val`` generated images (so about
    three crops per image). Images and crop jitter depend only on ``(seed, index)``.
    """
    out_dir = out_dir.resolve()
    for split, count, offset in (("train", n_train, 0), ("val", n_val, _VAL_INDEX_OFFSET)):
        for name in CLASS_NAMES:
            (out_dir / split / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            index = offset + i
            size = _split_size(seed, index, mixed_sizes)
            s = render_sample(np.random.default_rng([seed, index]), size)
            crop_rng = np.random.default_rng([seed, index, 11])
            for k, (crop, c) in enumerate(object_crops(s, crop_rng)):
                path = out_dir / split / CLASS_NAMES[c] / f"{split}_{i:05d}_{k}.jpg"
                cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return out_dir


def draw_preview(samples: list[Sample], columns: int = 4, boxes: bool = True) -> np.ndarray:
    """Tile samples into one ``(H, W, 3)`` uint8 BGR image, optionally with their labelled boxes.

    A single sample is returned at its own size (not tiled), so that ``preview --count 1``
    yields a plain input image for trying the server.
    """
    if len(samples) == 1 and not boxes:
        return samples[0].image_bgr.copy()
    columns = max(1, min(columns, len(samples)))
    tiles = []
    cell = 320
    for s in samples:
        img = s.image_bgr.copy()
        labels = zip(s.xyxy.tolist(), s.class_id.tolist(), strict=True) if boxes else ()
        for (x1, y1, x2, y2), c in labels:
            cv2.rectangle(img, (round(x1), round(y1)), (round(x2), round(y2)), (0, 255, 0), 1)
            cv2.putText(
                img,
                CLASS_NAMES[c],
                (round(x1), max(10, round(y1) - 3)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (0, 255, 0),
                1,
                cv2.LINE_AA,
            )
        scale = cell / max(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        tile = np.zeros((cell, cell, 3), np.uint8)
        tile[: img.shape[0], : img.shape[1]] = img
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros((cell, cell, 3), np.uint8))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ds = sub.add_parser("yolo-dataset", help="write an Ultralytics YOLO dataset")
    cl = sub.add_parser("cls-dataset", help="write an Ultralytics classification dataset of crops")
    for p in (ds, cl):
        p.add_argument("out_dir", type=Path)
        p.add_argument("--train", type=int, default=300, help="number of generated train images")
        p.add_argument("--val", type=int, default=60, help="number of generated val images")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument(
            "--square-only", action="store_true", help="all images 320x320 (default mixes sizes)"
        )
    ds.add_argument("--task", choices=YOLO_TASKS, default="detect", help="label format")
    pv = sub.add_parser(
        "preview", help="write one plain sample, or several tiled, e.g. to try the server"
    )
    pv.add_argument("out_file", type=Path)
    pv.add_argument("--seed", type=int, default=0)
    pv.add_argument("--count", type=int, default=8)
    pv.add_argument("--width", type=int, default=320)
    pv.add_argument("--height", type=int, default=320)
    pv.add_argument("--boxes", action="store_true", help="draw the ground-truth boxes and names")
    args = parser.parse_args(argv)
    if args.command == "yolo-dataset":
        data_yaml = write_yolo_dataset(
            args.out_dir,
            args.train,
            args.val,
            args.seed,
            mixed_sizes=not args.square_only,
            task=args.task,
        )
        print(data_yaml)
    elif args.command == "cls-dataset":
        out = write_classification_dataset(
            args.out_dir, args.train, args.val, args.seed, mixed_sizes=not args.square_only
        )
        print(out)
    else:
        samples = generate(args.seed, args.count, (args.width, args.height))
        if not cv2.imwrite(str(args.out_file), draw_preview(samples, boxes=args.boxes)):
            print(f"could not write {args.out_file}", file=sys.stderr)
            return 1
        print(args.out_file)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
