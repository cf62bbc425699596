"""Dev-only: record what torchvision computes where the reference server relies on it.

Writes, under ``tests/core/data/``:

- ``antialias_resize_cases.npz``: small random planes and their
  ``functional.resize(..., BILINEAR, antialias=True)`` (masks and semantic logits), compared with
  ``visionflow.core.resample`` by ``tests/core/test_resample.py``;
- ``batched_nms_cases.npz``: crowded random boxes and ``torchvision.ops.batched_nms``'s kept
  indices (both the class-offset path, up to 1000 boxes, and the per-class path beyond),
  compared with ``visionflow.core.nms`` by ``tests/core/test_nms.py``.

CI never installs torch; run this with a Python that has torch + torchvision (the peer's venv):

    /tmp/peer/venv/bin/python scripts/build_reference_cases.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision.transforms import functional

# (in_h, in_w) -> (out_h, out_w): up, down, mixed, odd ratios, 1-pixel edges, mask-like sizes.
CASES = (
    ((7, 9), (3, 4)),
    ((5, 5), (13, 11)),
    ((16, 12), (5, 20)),
    ((1, 8), (3, 3)),
    ((40, 30), (17, 64)),
    ((60, 80), (75, 100)),
    ((60, 80), (47, 133)),
    ((40, 40), (101, 67)),
    ((33, 47), (33, 12)),
)


NMS_CASES = (  # (boxes, classes, iou threshold)
    (300, 5, 0.3),
    (300, 1, 0.5),
    (800, 80, 0.45),
    (1500, 10, 0.3),  # > 1000 boxes: torchvision runs NMS class by class
)


def build_nms_cases(data: Path) -> None:
    rng = np.random.default_rng(1)
    arrays: dict[str, np.ndarray] = {}
    for index, (count, classes, iou) in enumerate(NMS_CASES):
        centre = rng.uniform(0, 160, (count, 2))
        size = rng.uniform(8, 160, (count, 2))
        # Snap to quarter pixels so many IoUs fall on float32 rounding boundaries.
        boxes = np.round(np.concatenate([centre - size / 2, centre + size / 2], 1) * 4) / 4
        boxes = boxes.astype(np.float32)
        scores = rng.uniform(0.3, 1.0, count).astype(np.float32)
        class_ids = rng.integers(0, classes, count)
        keep = torchvision.ops.batched_nms(
            torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(class_ids), iou
        ).numpy()
        arrays[f"boxes_{index}"] = boxes
        arrays[f"scores_{index}"] = scores
        arrays[f"classes_{index}"] = class_ids
        arrays[f"iou_{index}"] = np.array(iou)
        arrays[f"keep_{index}"] = keep.astype(np.int64)
    np.savez_compressed(data / "batched_nms_cases.npz", **arrays)
    print(f"wrote {len(NMS_CASES)} NMS cases")


def main() -> None:
    data = Path(__file__).resolve().parents[1] / "tests/core/data"
    build_nms_cases(data)
    rng = np.random.default_rng(0)
    arrays: dict[str, np.ndarray] = {}
    for index, (size_in, size_out) in enumerate(CASES):
        plane = rng.normal(0.0, 3.0, size_in).astype(np.float32)
        out = functional.resize(
            torch.from_numpy(plane)[None],
            list(size_out),
            interpolation=functional.InterpolationMode.BILINEAR,
            antialias=True,
        )[0].numpy()
        arrays[f"in_{index}"] = plane
        arrays[f"out_{index}"] = out.astype(np.float32)
    target = data / "antialias_resize_cases.npz"
    np.savez_compressed(target, **arrays)
    print(f"wrote {len(CASES)} cases to {target}")


if __name__ == "__main__":
    main()
