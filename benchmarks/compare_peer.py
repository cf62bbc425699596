"""Dev-only: do visionflow and the real Roboflow ``inference`` server give the SAME boxes?

Not a test and never run in CI: it needs the reference server from ``../shared/peer`` (a ~9 GB
virtualenv) running next to a visionflow server. See ``benchmarks/PEER.md`` for the full recipe.

Sub-commands:

``prepare``  build the extra peer model packages (stretch variants, the shapes demo model) with
             ``peer_fixture.py``, re-warm the peer's offline model cache, and register the same
             ONNX files in a visionflow home (Roboflow-style folders *and* plain Ultralytics ONNX);
             in ``peer_prepare.py``.
``tasks``    the same for instance segmentation, keypoints, classification, multi-label and
             semantic segmentation on the task models of ``../shared/peer/tasks``
             (``compare_peer_tasks.py``; ``tasks --help`` for its options).
``compare``  send the same JPEG bytes to both servers (``POST /infer/object_detection`` and the
             legacy ``POST /{project}/{version}``) for every (peer model, our model) pair, image
             and confidence; match the predictions and report the differences. Exit code 1 when
             any image differs beyond ``--tol-px`` (default 0) / ``--tol-conf`` (default 1e-4).

Images are deterministic: synthetic shapes (``scripts/shapes.py``) at several sizes, odd ones
included, plus the photos shipped in scikit-image (``skimage.data``: astronaut, coffee, chelsea;
loaded through the peer virtualenv's Python when our venv has no scikit-image) and odd-size
resizes of them.

    .venv/bin/python benchmarks/compare_peer.py prepare --peer-root /tmp/peer --home /tmp/vf-peer
    .venv/bin/python benchmarks/compare_peer.py compare \\
        --peer http://127.0.0.1:9001 --ours http://127.0.0.1:9011 \\
        --pair local-dets/1 --pair local-dets/1=local-dets-ul/1
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import compare_peer_tasks  # noqa: E402
import shapes  # noqa: E402
from peer_prepare import cmd_prepare  # noqa: E402

# Synthetic image sizes (width, height): landscape, portrait, odd sizes in both orientations,
# square, a small one that is *upscaled* into the network, and a large wide one.
SHAPE_SIZES: tuple[tuple[int, int], ...] = (
    (640, 480),
    (480, 640),
    (333, 517),
    (517, 333),
    (640, 640),
    (320, 320),
    (211, 97),
    (1279, 719),
)
PHOTOS = ("astronaut", "coffee", "chelsea")
# Extra odd sizes the photos are resized to (besides their own size).
PHOTO_SIZES: tuple[tuple[int, int], ...] = ((333, 517), (517, 333), (701, 397))


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class TestImage:
    name: str
    width: int
    height: int
    data: bytes  # encoded file, sent as-is (base64) to both servers

    @property
    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


def encode(image_bgr: np.ndarray, fmt: str, quality: int) -> bytes:
    if fmt == "png":
        ok, buf = cv2.imencode(".png", image_bgr)
    else:
        ok, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("image encoding failed")
    return bytes(buf.tobytes())


def load_photos(python: str | None) -> dict[str, np.ndarray]:
    """``skimage.data`` photos as BGR arrays; {} when scikit-image is nowhere to be found."""
    try:
        import skimage.data  # type: ignore[import-not-found]

        return {n: getattr(skimage.data, n)()[:, :, ::-1].copy() for n in PHOTOS}
    except ImportError:
        pass
    if not python or not Path(python).is_file():
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "photos.npz"
        code = (
            "import sys, numpy, skimage.data\n"
            "numpy.savez(sys.argv[1], **{n: getattr(skimage.data, n)() for n in sys.argv[2:]})\n"
        )
        done = subprocess.run(
            [python, "-c", code, str(out), *PHOTOS], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            print(f"note: no skimage photos ({done.stderr.strip()[-200:]})", file=sys.stderr)
            return {}
        with np.load(out) as npz:
            return {n: npz[n][:, :, ::-1].copy() for n in PHOTOS}


def build_images(args: argparse.Namespace) -> list[TestImage]:
    images: list[TestImage] = []
    fmt, q = args.image_format, args.jpeg_quality
    for w, h in SHAPE_SIZES:
        for i, sample in enumerate(shapes.generate(args.seed, args.per_size, (w, h))):
            data = encode(sample.image_bgr, fmt, q)
            images.append(TestImage(f"shapes-{w}x{h}-{i}", w, h, data))
    if not args.no_photos:
        photos = load_photos(args.skimage_python)
        for name, bgr in photos.items():
            h, w = bgr.shape[:2]
            images.append(TestImage(f"{name}-{w}x{h}", w, h, encode(bgr, fmt, q)))
            for pw, ph in PHOTO_SIZES:
                small = cv2.resize(bgr, (pw, ph), interpolation=cv2.INTER_AREA)
                images.append(TestImage(f"{name}-{pw}x{ph}", pw, ph, encode(small, fmt, q)))
        if not photos:
            print("note: skimage photos unavailable, synthetic shapes only", file=sys.stderr)
    if args.only_images:
        images = [im for im in images if any(s in im.name for s in args.only_images)]
    return images


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Server:
    url: str
    api_key: str | None


def infer(
    client: httpx.Client,
    server: Server,
    route: str,
    model_id: str,
    image: TestImage,
    confidence: float,
    iou: float,
) -> dict[str, Any]:
    if route == "v1":
        body: dict[str, Any] = {
            "model_id": model_id,
            "image": {"type": "base64", "value": image.b64},
            "confidence": confidence,
            "iou_threshold": iou,
        }
        if server.api_key:
            body["api_key"] = server.api_key
        resp = client.post(f"{server.url}/infer/object_detection", json=body)
    else:
        params: dict[str, Any] = {"confidence": confidence, "overlap": iou}
        if server.api_key:
            params["api_key"] = server.api_key
        resp = client.post(
            f"{server.url}/{model_id}",
            params=params,
            content=image.b64.encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    if resp.status_code != 200:
        raise RuntimeError(f"HTTP {resp.status_code}: {resp.text[:300]}")
    out = resp.json()
    if isinstance(out, list):
        out = out[0]
    if not isinstance(out, dict) or "predictions" not in out:
        raise RuntimeError(f"unexpected body: {str(out)[:300]}")
    return out


# --------------------------------------------------------------------------- matching


def to_xyxy(p: dict[str, Any]) -> tuple[float, float, float, float]:
    x, y, w, h = float(p["x"]), float(p["y"]), float(p["width"]), float(p["height"])
    return x - w / 2, y - h / 2, x + w / 2, y + h / 2


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else float(a == b)


@dataclass
class Result:
    image: str
    size: str
    pair: str
    route: str
    confidence: float
    n_peer: int = 0
    n_ours: int = 0
    matched: int = 0
    unmatched_peer: int = 0
    unmatched_ours: int = 0
    max_dx: float = 0.0
    max_dy: float = 0.0
    max_dw: float = 0.0
    max_dh: float = 0.0
    max_dconf: float = 0.0
    class_mismatch: int = 0  # matched pairs whose class_id differs
    name_mismatch: int = 0  # matched pairs with the same class_id but another class name
    order_differs: bool = False
    image_wh_differs: bool = False
    error: str = ""
    details: list[str] = field(default_factory=list)

    @property
    def max_dpx(self) -> float:
        return max(self.max_dx, self.max_dy, self.max_dw, self.max_dh)

    def ok(self, tol_px: float, tol_conf: float, ignore_names: bool = False) -> bool:
        return (
            not self.error
            and self.n_peer == self.n_ours == self.matched
            and self.max_dpx <= tol_px + 1e-9
            and self.max_dconf <= tol_conf
            and self.class_mismatch == 0
            and (ignore_names or self.name_mismatch == 0)
            and not self.image_wh_differs
        )


def fmt_pred(p: dict[str, Any]) -> str:
    return (
        f"{p['class']}({p['class_id']}) x={p['x']} y={p['y']} w={p['width']} h={p['height']} "
        f"c={float(p['confidence']):.6f}"
    )


def clip_to_image(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Our predictions with boxes clamped to ``[0, W] x [0, H]`` (what the reference does before
    rounding; clamping to integer bounds commutes with rounding, so this is exact)."""
    w, h = float(body["image"]["width"]), float(body["image"]["height"])
    out = []
    for p in body["predictions"]:
        x1, y1, x2, y2 = to_xyxy(p)
        x1, x2 = min(max(x1, 0.0), w), min(max(x2, 0.0), w)
        y1, y2 = min(max(y1, 0.0), h), min(max(y2, 0.0), h)
        out.append(
            {**p, "x": (x1 + x2) / 2, "y": (y1 + y2) / 2, "width": x2 - x1, "height": y2 - y1}
        )
    return out


def compare_predictions(
    res: Result, peer: dict[str, Any], ours: dict[str, Any], min_iou: float, clip_ours: bool
) -> None:
    pp = peer["predictions"]
    op = clip_to_image(ours) if clip_ours else ours["predictions"]
    res.n_peer, res.n_ours = len(pp), len(op)
    res.image_wh_differs = peer.get("image") != ours.get("image")
    if res.image_wh_differs:
        res.details.append(f"image peer={peer.get('image')} ours={ours.get('image')}")
    pb = [to_xyxy(p) for p in pp]
    ob = [to_xyxy(p) for p in op]
    # Greedy matching: highest IoU first, same class and closer confidence as tie-breakers.
    cands = []
    for i, a in enumerate(pb):
        for j, b in enumerate(ob):
            v = iou(a, b)
            if v >= min_iou:
                same = pp[i]["class_id"] == op[j]["class_id"]
                dconf = abs(float(pp[i]["confidence"]) - float(op[j]["confidence"]))
                cands.append((-(v + (0.25 if same else 0.0)), dconf, i, j))
    cands.sort()
    used_p: set[int] = set()
    used_o: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for _, _, i, j in cands:
        if i in used_p or j in used_o:
            continue
        used_p.add(i)
        used_o.add(j)
        pairs.append((i, j))
    pairs.sort()
    res.matched = len(pairs)
    for i, j in pairs:
        a, b = pp[i], op[j]
        d = {k: abs(float(a[k]) - float(b[k])) for k in ("x", "y", "width", "height")}
        dconf = abs(float(a["confidence"]) - float(b["confidence"]))
        res.max_dx = max(res.max_dx, d["x"])
        res.max_dy = max(res.max_dy, d["y"])
        res.max_dw = max(res.max_dw, d["width"])
        res.max_dh = max(res.max_dh, d["height"])
        res.max_dconf = max(res.max_dconf, dconf)
        if a["class_id"] != b["class_id"]:
            res.class_mismatch += 1
        elif a["class"] != b["class"]:
            res.name_mismatch += 1
        if max(d.values()) > 0 or dconf > 1e-4 or a["class_id"] != b["class_id"]:
            res.details.append(f"peer #{i} {fmt_pred(a)}\n      ours #{j} {fmt_pred(b)}")
    # The same ranking on both sides means the matched pairs keep the same relative order.
    res.order_differs = [j for _, j in pairs] != sorted(j for _, j in pairs)
    for i in sorted(set(range(len(pp))) - used_p):
        res.unmatched_peer += 1
        res.details.append(f"peer-only #{i} {fmt_pred(pp[i])}")
    for j in sorted(set(range(len(op))) - used_o):
        res.unmatched_ours += 1
        res.details.append(f"ours-only #{j} {fmt_pred(op[j])}")


# --------------------------------------------------------------------------- compare


def parse_pair(spec: str) -> tuple[str, str]:
    peer, _, ours = spec.partition("=")
    return peer.strip(), (ours or peer).strip()


def cmd_compare(args: argparse.Namespace) -> int:
    images = build_images(args)
    pairs = [parse_pair(p) for p in args.pair]
    peer = Server(args.peer.rstrip("/"), args.peer_api_key or None)
    ours = Server(args.ours.rstrip("/"), args.ours_api_key or None)
    print(
        f"{len(images)} images ({args.image_format}), pairs={pairs}, confidences="
        f"{args.confidence}, routes={args.route}, iou={args.iou}, peer={peer.url} ours={ours.url}"
        + (
            " [--clip-ours: our boxes clamped to the image before comparing]"
            if args.clip_ours
            else ""
        )
    )
    save = Path(args.save) if args.save else None
    if save:
        (save / "images").mkdir(parents=True, exist_ok=True)
        for im in images:
            ext = "png" if args.image_format == "png" else "jpg"
            (save / "images" / f"{im.name}.{ext}").write_bytes(im.data)
    results: list[Result] = []
    raw: list[dict[str, Any]] = []
    peer_cache: dict[tuple[str, str, str, float], dict[str, Any] | str] = {}
    started = time.perf_counter()
    with httpx.Client(timeout=args.timeout) as client:
        for peer_id, our_id in pairs:
            pair_name = peer_id if peer_id == our_id else f"{peer_id}={our_id}"
            for route in args.route:
                for conf in args.confidence:
                    print(f"\n== {pair_name}  route={route}  confidence={conf}")
                    for im in images:
                        res = Result(im.name, f"{im.width}x{im.height}", pair_name, route, conf)
                        key = (peer_id, route, im.name, conf)
                        if key not in peer_cache:
                            try:
                                peer_cache[key] = infer(
                                    client, peer, route, peer_id, im, conf, args.iou
                                )
                            except Exception as exc:
                                peer_cache[key] = f"peer: {exc}"
                        p_out = peer_cache[key]
                        try:
                            o_out: dict[str, Any] | str = infer(
                                client, ours, route, our_id, im, conf, args.iou
                            )
                        except Exception as exc:
                            o_out = f"ours: {exc}"
                        if isinstance(p_out, str) or isinstance(o_out, str):
                            res.error = "; ".join(x for x in (p_out, o_out) if isinstance(x, str))
                        else:
                            compare_predictions(res, p_out, o_out, args.min_iou, args.clip_ours)
                        results.append(res)
                        if save:
                            raw.append({**asdict(res), "peer": p_out, "ours": o_out})
                        report_line(res, args)
    elapsed = time.perf_counter() - started
    summary = summarize(results, args)
    print("\n" + summary)
    bad = [r for r in results if not r.ok(args.tol_px, args.tol_conf, args.ignore_class_names)]
    print(
        f"\n{len(results)} comparisons, {len(images)} images, {len(results) - len(bad)} identical, "
        f"{len(bad)} mismatched (tolerance {args.tol_px} px, {args.tol_conf} confidence), "
        f"{elapsed:.0f} s"
    )
    if save:
        (save / "results.json").write_text(json.dumps(raw, indent=1))
        (save / "summary.md").write_text(summary + "\n")
        print(f"saved images, raw responses and summary under {save}")
    return 1 if bad else 0


def report_line(res: Result, args: argparse.Namespace) -> None:
    ok = res.ok(args.tol_px, args.tol_conf, args.ignore_class_names)
    tag = "ok      " if ok else "MISMATCH"
    if res.error:
        print(f"  [{tag}] {res.image:<24} ERROR {res.error}")
        return
    line = (
        f"  [{tag}] {res.image:<24} peer={res.n_peer:<3} ours={res.n_ours:<3} "
        f"matched={res.matched:<3} dx={res.max_dx:g} dy={res.max_dy:g} dw={res.max_dw:g} "
        f"dh={res.max_dh:g} dconf={res.max_dconf:.2g} cls={res.class_mismatch}"
        + (f" names={res.name_mismatch}" if res.name_mismatch else "")
        + (" order-differs" if res.order_differs else "")
    )
    print(line)
    if not ok and args.verbose:
        for d in res.details[: args.max_details]:
            print("      " + d)


def summarize(results: list[Result], args: argparse.Namespace) -> str:
    groups: dict[tuple[str, str, float], list[Result]] = {}
    for r in results:
        groups.setdefault((r.pair, r.route, r.confidence), []).append(r)
    head = (
        "| pair (peer=ours) | route | conf | images | identical | mismatched | boxes peer/ours "
        "| unmatched peer/ours | max Δpx | max Δconf | class_id mism. | name-only mism. | errors |"
    )
    lines = [head, "|" + "---|" * 13]
    for (pair, route, conf), rs in groups.items():
        bad = sum(not r.ok(args.tol_px, args.tol_conf, args.ignore_class_names) for r in rs)
        lines.append(
            f"| {pair} | {route} | {conf} | {len(rs)} | {len(rs) - bad} | {bad} "
            f"| {sum(r.n_peer for r in rs)}/{sum(r.n_ours for r in rs)} "
            f"| {sum(r.unmatched_peer for r in rs)}/{sum(r.unmatched_ours for r in rs)} "
            f"| {max(r.max_dpx for r in rs):g} | {max(r.max_dconf for r in rs):.2g} "
            f"| {sum(r.class_mismatch for r in rs)} | {sum(r.name_mismatch for r in rs)} "
            f"| {sum(bool(r.error) for r in rs)} |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: Iterable[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    peer_root = os.environ.get("PEER_ROOT", "/tmp/peer")

    pp = sub.add_parser("prepare", help="build peer packages and register ours")
    pp.add_argument("--peer-root", default=peer_root)
    pp.add_argument("--home", required=True, help="VISIONFLOW_HOME for our server")
    pp.add_argument("--fake-api-port", type=int, default=9101)
    pp.add_argument("--skip-peer", action="store_true", help="only register on our side")

    pc = sub.add_parser("compare", help="compare both servers")
    pc.add_argument("--peer", required=True, help="reference server URL")
    pc.add_argument("--ours", required=True, help="visionflow server URL")
    pc.add_argument(
        "--pair",
        action="append",
        required=True,
        help="PEER_ID[=OUR_ID] (repeatable; OUR_ID defaults to PEER_ID)",
    )
    pc.add_argument("--confidence", type=float, nargs="+", default=[0.25, 0.4])
    pc.add_argument("--iou", type=float, default=0.3)
    pc.add_argument("--route", nargs="+", choices=["v1", "legacy"], default=["v1", "legacy"])
    pc.add_argument("--peer-api-key", default="x")
    pc.add_argument("--ours-api-key", default="", help="none: anonymous (loopback demo)")
    pc.add_argument("--seed", type=int, default=7)
    pc.add_argument("--per-size", type=int, default=2, help="synthetic images per size")
    pc.add_argument("--no-photos", action="store_true")
    pc.add_argument("--only-images", nargs="+", help="keep images whose name has one of these")
    pc.add_argument("--skimage-python", default=f"{peer_root}/venv/bin/python")
    pc.add_argument("--image-format", choices=["jpeg", "png"], default="jpeg")
    pc.add_argument("--jpeg-quality", type=int, default=90)
    pc.add_argument("--tol-px", type=float, default=0.0)
    pc.add_argument("--tol-conf", type=float, default=1e-4)
    pc.add_argument("--min-iou", type=float, default=0.5, help="IoU to pair two predictions")
    pc.add_argument(
        "--clip-ours",
        action="store_true",
        help="diagnostic: clamp our boxes to the image first (simulates the clipping fix)",
    )
    pc.add_argument(
        "--ignore-class-names",
        action="store_true",
        help="same class_id but another class name is not a mismatch (e.g. an ONNX whose "
        "metadata names differ from the peer package's class_names.txt)",
    )
    pc.add_argument("--timeout", type=float, default=120.0)
    pc.add_argument("--save", help="folder for images, raw responses and summary.md")
    pc.add_argument("-v", "--verbose", action="store_true", help="print differing boxes")
    pc.add_argument("--max-details", type=int, default=8)
    sub.add_parser(
        "tasks",
        help="every other task (seg, pose, cls, multi-label, semantic): compare_peer_tasks.py",
        add_help=False,
    )
    raw = list(argv) if argv is not None else sys.argv[1:]
    if raw[:1] == ["tasks"]:
        return compare_peer_tasks.main(raw[1:])
    args = p.parse_args(raw)
    handler: Callable[[argparse.Namespace], int] = {
        "prepare": cmd_prepare,
        "compare": cmd_compare,
    }[args.cmd]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
