"""CLIP embed latency with the tiny random CLIP fixture: a server-overhead figure, since the model
itself is tiny. Baseline: raw ``session.run`` of the text encoder on already-tokenized ids and of
the image encoder on an already-preprocessed tensor; end to end: ``POST /clip/embed_text`` (one
text) and ``POST /clip/embed_image`` (one 224x224 PNG) against a running server.

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/clip.py`` runs only
them against a server of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import (  # noqa: E402
    Row,
    base64_image,
    median_ms,
    post_call,
    register_models,
    row,
    run_alone,
)
from tests.fixtures.clip_tiny import CLIP_TINY, SQUARE  # noqa: E402

from visionflow.models.clip import ClipTokenizer, clip_pixels  # noqa: E402
from visionflow.models.manifest import ModelManifest  # noqa: E402
from visionflow.runtime import OnnxSession  # noqa: E402

__all__ = ["clip_rows", "register_clip"]

MODEL_ID = "clip/1"
TEXT = "a photo of a cat"


def register_clip(home: Path, workspace: str = "demo") -> None:
    """Register the tiny CLIP as ``clip/1`` (what ViT-B-16 maps to) in a server's home; a running
    server sees it on its next request."""
    register_models(home, {MODEL_ID: CLIP_TINY}, workspace)


def clip_rows(url: str, home: Path, runs: int) -> list[Row]:
    register_clip(home)
    manifest = ModelManifest.read(CLIP_TINY / "model.json")
    tokenizer = ClipTokenizer.from_file(CLIP_TINY / "tokenizer.json")
    ids, mask = tokenizer.encode([TEXT])
    text_session = OnnxSession(CLIP_TINY / "text_encoder.onnx")
    image_session = OnnxSession(CLIP_TINY / "image_encoder.onnx")
    pixels = clip_pixels([cv2.imread(str(SQUARE))], manifest.input)
    text_feeds = {"input_ids": ids, "attention_mask": mask}
    raw_text = median_ms(lambda: text_session.run(text_feeds), runs, warmup=1)
    raw_image = median_ms(lambda: image_session.run({"pixel_values": pixels}), runs, warmup=1)
    image = base64_image(SQUARE.read_bytes())
    with httpx.Client(base_url=url, timeout=60) as http:
        embed_text = post_call(http, "/clip/embed_text", {"text": TEXT})
        embed_image = post_call(http, "/clip/embed_image", {"image": image})
        e2e_text = median_ms(embed_text, runs, warmup=1)
        e2e_image = median_ms(embed_image, runs, warmup=1)
    return [
        row("clip-tiny", "clip/embed_text", raw_text, e2e_text),
        row("clip-tiny", "clip/embed_image", raw_image, e2e_image),
    ]


if __name__ == "__main__":
    caption = "baseline: raw ORT session.run (tokenized / preprocessed)"
    raise SystemExit(run_alone(__doc__, clip_rows, caption))
