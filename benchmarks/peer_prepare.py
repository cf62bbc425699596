"""``compare_peer.py prepare``: build the extra peer model packages (stretch variants, the shapes
demo model) with ``../shared/peer/peer_fixture.py``, re-warm the peer's offline model cache, and
register the same ONNX files in a visionflow home (Roboflow-style folders *and* plain Ultralytics
ONNX). Dev-only, like the rest of the comparison; see ``benchmarks/PEER.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import shapes  # noqa: E402

PEER_SCRIPTS = ROOT.parent / "shared" / "peer"
SHAPES_ONNX = ROOT / "src" / "visionflow" / "demo" / "models" / "shapes-det.onnx"


@dataclass(frozen=True)
class PeerModel:
    model_id: str
    onnx: Path
    classes: str  # coco | nudenet | path to a txt file
    resize: str  # stretch | letterbox
    size: int = 0


def default_models(peer_root: Path, shapes_classes: Path) -> list[PeerModel]:
    m = peer_root / "models"
    models = [
        PeerModel("local-test/1", m / "yolov8n_rand_640.onnx", "coco", "letterbox"),
        PeerModel("local-dets/1", m / "yolov8n_dets_640.onnx", "coco", "letterbox"),
        PeerModel("local-dets-stretch/1", m / "yolov8n_dets_640.onnx", "coco", "stretch"),
        PeerModel("nudenet-test/1", m / "nudenet_320n.onnx", "nudenet", "letterbox", 320),
        PeerModel("nudenet-stretch/1", m / "nudenet_320n.onnx", "nudenet", "stretch", 320),
    ]
    if SHAPES_ONNX.is_file():
        models += [
            PeerModel("shapes-det/1", SHAPES_ONNX, str(shapes_classes), "letterbox"),
            PeerModel("shapes-det-stretch/1", SHAPES_ONNX, str(shapes_classes), "stretch"),
        ]
    return models


def run(cmd: list[str], **kw: Any) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


_WARM = """
import sys, numpy as np
from inference.models.utils import get_model
for mid in sys.argv[1:]:
    m = get_model(mid, api_key="x")
    r = m.infer(np.zeros((480, 640, 3), np.uint8), confidence=0.25)
    print("WARMED", mid, type(m).__name__, "predictions:", len(r[0].predictions))
"""


def prepare_peer(peer_root: Path, models: list[PeerModel], fake_port: int) -> None:
    """Same steps as ``setup_peer.sh`` section 3, for our model list (a superset of its one)."""
    py = str(peer_root / "venv" / "bin" / "python")
    fixture = str(PEER_SCRIPTS / "peer_fixture.py")
    fix_dir, cache = peer_root / "fixture", peer_root / "cache"
    for m in models:
        cmd = [py, fixture, "prepare", "--onnx", str(m.onnx), "--model-id", m.model_id]
        cmd += ["--classes", m.classes, "--resize", m.resize]
        cmd += ["--fixture-dir", str(fix_dir), "--cache-dir", str(cache)]
        if m.size:
            cmd += ["--size", str(m.size)]
        run(cmd)
    for stale in ("models-cache", "offline-weights-registry", "auto-resolution-cache"):
        shutil.rmtree(cache / stale, ignore_errors=True)
    shutil.rmtree(cache / "shared-blobs", ignore_errors=True)
    fake_log = peer_root / "logs" / "fakeapi_compare_prepare.log"
    with fake_log.open("w") as log:
        fake = subprocess.Popen(
            [py, fixture, "serve", "--fixture-dir", str(fix_dir), "--port", str(fake_port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        api = f"http://127.0.0.1:{fake_port}"
        wait_http(f"{api}/models/v1/external/stat?modelId={models[0].model_id}", 15)
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/root"),
            "MODEL_CACHE_DIR": str(cache),
            "API_BASE_URL": api,
            "ROBOFLOW_API_HOST": api,
            "OFFLINE_MODE_WARM_UP": "True",
            "DISABLE_VERSION_CHECK": "True",
            "ACTIVE_LEARNING_ENABLED": "False",
            "CORE_MODEL_SAM_ENABLED": "False",
            "CORE_MODEL_SAM3_ENABLED": "False",
            "CORE_MODEL_YOLO_WORLD_ENABLED": "False",
            "CORE_MODEL_GAZE_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "YOLO_OFFLINE": "True",
        }
        run([py, "-c", _WARM, *(m.model_id for m in models)], env=env)
    finally:
        fake.terminate()
        fake.wait(10)


def our_registrations(peer_root: Path, models: list[PeerModel]) -> list[tuple[str, Path]]:
    """(our model id, path): every peer model as the Roboflow-style folder the peer's legacy
    cache holds (same environment.json), plus letterbox ones again as plain Ultralytics ONNX
    under ``<project>-ul/<version>`` when the file carries Ultralytics metadata."""
    regs: list[tuple[str, Path]] = []
    for m in models:
        regs.append((m.model_id, peer_root / "cache" / m.model_id))
        if m.resize == "letterbox" and has_ultralytics_metadata(m.onnx):
            project, version = m.model_id.split("/")
            regs.append((f"{project}-ul/{version}", m.onnx))
    return regs


def has_ultralytics_metadata(path: Path) -> bool:
    import onnxruntime as ort

    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta()
    return "names" in meta.custom_metadata_map


def cmd_prepare(args: argparse.Namespace) -> int:
    peer_root = Path(args.peer_root)
    home = Path(args.home)
    shapes_classes = peer_root / "build" / "shapes_classes.txt"
    shapes_classes.parent.mkdir(parents=True, exist_ok=True)
    shapes_classes.write_text("\n".join(shapes.CLASS_NAMES) + "\n")
    models = default_models(peer_root, shapes_classes)
    if not args.skip_peer:
        prepare_peer(peer_root, models, args.fake_api_port)
    cli = str(Path(sys.executable).with_name("visionflow"))
    home.mkdir(parents=True, exist_ok=True)
    for model_id, path in our_registrations(peer_root, models):
        run([cli, "models", "add", model_id, str(path), "--workspace", "demo", "--home", str(home)])
    pairs = []
    for model_id, _ in our_registrations(peer_root, models):
        project, version = model_id.split("/")
        peer_id = f"{project.removesuffix('-ul')}/{version}"
        if peer_id != "local-test/1":
            pairs.append(model_id if peer_id == model_id else f"{peer_id}={model_id}")
    print("\npairs for compare: " + " ".join(f"--pair {p}" for p in pairs))
    return 0
