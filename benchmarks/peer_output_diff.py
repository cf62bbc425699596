"""The recursive diff of two workflow ``outputs`` (``compare_peer_workflows.py``): keys, types,
list lengths, numbers within per-key tolerances, random ids and timings by shape only, images
decoded and compared pixel by pixel.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

BOX_KEYS = frozenset(
    {"x", "y", "width", "height", "offset_x", "offset_y", "x_min", "y_min", "x_max", "y_max"}
)
CONF_KEYS = frozenset({"confidence", "presence_confidence", "top_class_confidence"})
RANDOM_ID_KEYS = frozenset(
    {"inference_id", "detection_id", "parent_id", "root_parent_id", "video_identifier"}
)
TIMING_KEYS = frozenset({"time"})
# A random id, optionally prefixed by the step that minted it ("image_slicer.<uuid4>").
UUID_RE = re.compile(
    r"^(?P<prefix>[\w\-]+\.)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)
# Wall-clock timestamps inside strings (csv_formatter's ``timestamp`` column).
ISO_TIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


@dataclass
class Diff:
    path: str
    what: str  # missing-in-ours | extra-in-ours | type | value | length | image | status
    peer: str
    ours: str

    def __str__(self) -> str:
        return f"{self.path}: {self.what}  peer={self.peer}  ours={self.ours}"


@dataclass
class Tolerances:
    px: float
    conf: float
    float_rel: float
    pixel_tol: int
    pixel_frac: float


def short(v: Any, n: int = 90) -> str:
    s = json.dumps(v) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[: n - 3] + "..."


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


def _is_image(v: Any) -> bool:
    return isinstance(v, dict) and v.get("type") == "base64" and isinstance(v.get("value"), str)


def _decode(b64: str) -> np.ndarray | None:
    try:
        raw = base64.b64decode(b64)
    except ValueError:
        return None
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)


def diff_images(
    path: str,
    peer: str,
    ours: str,
    tol: Tolerances,
    size_only: str,
    out: list[Diff],
    stats: dict[str, Any],
) -> None:
    a, b = _decode(peer), _decode(ours)
    if a is None or b is None:
        out.append(
            Diff(
                path,
                "image",
                "undecodable" if a is None else "ok",
                "undecodable" if b is None else "ok",
            )
        )
        return
    if a.shape != b.shape:
        out.append(Diff(path, "image", f"shape {a.shape}", f"shape {b.shape}"))
        return
    stats["images"] = stats.get("images", 0) + 1
    if peer == ours:
        stats["images_identical_bytes"] = stats.get("images_identical_bytes", 0) + 1
        return
    delta = np.abs(a.astype(np.int16) - b.astype(np.int16))
    frac = float((delta > tol.pixel_tol).mean())
    mx = int(delta.max())
    stats["max_pixel_delta"] = max(stats.get("max_pixel_delta", 0), mx)
    stats["max_pixel_frac"] = max(stats.get("max_pixel_frac", 0.0), frac)
    if size_only:
        return
    if frac > tol.pixel_frac:
        out.append(
            Diff(
                path,
                "image",
                "-",
                f"{frac:.2%} of pixels differ by > {tol.pixel_tol} (max {mx}, "
                f"mean {float(delta.mean()):.2f})",
            )
        )


def _float_ok(key: str, a: float, b: float, tol: Tolerances) -> bool:
    d = abs(a - b)
    if key in BOX_KEYS:
        return d <= tol.px + 1e-9
    if key in CONF_KEYS:
        return d <= tol.conf
    return d <= tol.float_rel * max(1.0, abs(a), abs(b))


def diff_values(
    path: str,
    key: str,
    peer: Any,
    ours: Any,
    tol: Tolerances,
    size_only: str,
    out: list[Diff],
    stats: dict[str, Any],
) -> None:
    if key in TIMING_KEYS:
        if _tname(peer) != _tname(ours) and not (
            isinstance(peer, (int, float)) and isinstance(ours, (int, float))
        ):
            out.append(Diff(path, "type", _tname(peer), _tname(ours)))
        return
    if key in RANDOM_ID_KEYS and isinstance(peer, str) and isinstance(ours, str):
        mp, mo = UUID_RE.match(peer), UUID_RE.match(ours)
        if mp and mo and mp["prefix"] == mo["prefix"]:
            return
    if isinstance(peer, str) and isinstance(ours, str):
        peer, ours = ISO_TIME_RE.sub("<time>", peer), ISO_TIME_RE.sub("<time>", ours)
    if _is_image(peer) and _is_image(ours):
        diff_images(path, peer["value"], ours["value"], tol, size_only, out, stats)
        rest_p = {k: v for k, v in peer.items() if k != "value"}
        rest_o = {k: v for k, v in ours.items() if k != "value"}
        diff_values(path, key, rest_p, rest_o, tol, size_only, out, stats)
        return
    if isinstance(peer, dict) and isinstance(ours, dict):
        for k in peer:
            if k not in ours:
                out.append(Diff(f"{path}.{k}", "missing-in-ours", short(peer[k]), "-"))
        for k in ours:
            if k not in peer:
                out.append(Diff(f"{path}.{k}", "extra-in-ours", "-", short(ours[k])))
        for k in peer:
            if k in ours:
                diff_values(f"{path}.{k}", k, peer[k], ours[k], tol, size_only, out, stats)
        return
    if isinstance(peer, list) and isinstance(ours, list):
        if len(peer) != len(ours):
            out.append(Diff(path, "length", str(len(peer)), str(len(ours))))
        for i, (a, b) in enumerate(zip(peer, ours, strict=False)):
            diff_values(f"{path}[{i}]", key, a, b, tol, size_only, out, stats)
        return
    if type(peer) is not type(ours):
        out.append(
            Diff(
                path,
                "type",
                f"{_tname(peer)} {short(peer, 40)}",
                f"{_tname(ours)} {short(ours, 40)}",
            )
        )
        return
    if isinstance(peer, float):
        if not _float_ok(key, peer, ours, tol):
            out.append(Diff(path, "value", repr(peer), repr(ours)))
        return
    if peer != ours:
        out.append(Diff(path, "value", short(peer), short(ours)))
