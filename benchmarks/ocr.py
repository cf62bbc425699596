"""OCR latency: a rendered page (about 900x460, 8 lines of 28 px text) and one cropped line, read
by the raw PP-OCR engine in this process (``OcrEngine.read``: rapidocr's detection +
recognition) and end to end by a running server (``POST /ocr/pp-ocr`` with a PNG, and the page
through a one-step ``pp_ocr@v1`` workflow).

``benchmarks/run.py`` prints these rows with the others; ``python benchmarks/ocr.py`` runs only
them against a server of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _harness import Row, base64_image, median_ms, post_call, row, run_alone  # noqa: E402
from tests.support.ocr_images import render  # noqa: E402

from visionflow.runtime.ocr import ocr_engine  # noqa: E402

__all__ = ["PAGE_LINES", "ocr_rows"]

TEXT_PX = 28
PAGE_LINES = (
    "Invoice 2025-0417 issued to Northwind Traders, Leeds",
    "Item 1: steel brackets x 40 at 3.15 each",
    "Item 2: hex bolts M8 x 500 at 0.07 each",
    "Subtotal 161.00 shipping 24.50 tax 37.10",
    "Total due 222.60 within thirty days",
    "Bank transfer to account 0042 7719 3301",
    "Reference INV-2025-0417 on every payment",
    "Questions? call 555 0192 or write to us",
)

Pixels = npt.NDArray[np.uint8]


def page() -> Pixels:
    return render(PAGE_LINES, TEXT_PX)


def line(pixels: Pixels) -> Pixels:
    """The page's first line, cut as a text detector would box it (a few px of margin)."""
    top = TEXT_PX - 6
    return np.ascontiguousarray(pixels[top : top + int(TEXT_PX * 1.5), TEXT_PX - 6 :])


def _image_object(pixels: Pixels) -> dict[str, str]:
    ok, buffer = cv2.imencode(".png", pixels)
    assert ok
    return base64_image(buffer.tobytes())


def _workflow(image: dict[str, str]) -> dict[str, Any]:
    return {
        "specification": {
            "version": "1.0",
            "inputs": [{"type": "WorkflowImage", "name": "image"}],
            "steps": [
                {"type": "roboflow_core/pp_ocr@v1", "name": "ocr", "images": "$inputs.image"}
            ],
            "outputs": [{"type": "JsonField", "name": "ocr", "selector": "$steps.ocr.*"}],
        },
        "inputs": {"image": image},
    }


def ocr_rows(url: str, runs: int) -> list[Row]:
    """(model, route, raw engine ms, end-to-end ms, ratio) for the page and the line."""
    engine = ocr_engine()
    full = page()
    cases = [
        (f"ocr page {full.shape[1]}x{full.shape[0]}", full),
        ("ocr line", line(full)),
    ]
    rows: list[Row] = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for name, pixels in cases:
            raw = median_ms(lambda pixels=pixels: engine.read(pixels), runs)
            body = {"image": _image_object(pixels), "generate_bounding_boxes": True}
            e2e = median_ms(post_call(client, "/ocr/pp-ocr", body), runs)
            rows.append(row(name, "ocr/pp-ocr", raw, e2e))
        raw_page = rows[0][2]
        workflow = _workflow(_image_object(full))
        took = median_ms(post_call(client, "/workflows/run", workflow), runs)
        rows.append(row(cases[0][0], "workflows/run pp_ocr", raw_page, took))
    return rows


if __name__ == "__main__":
    caption = "PNG; baseline: OcrEngine.read in-process"
    raise SystemExit(
        run_alone(__doc__, lambda url, _home, runs: ocr_rows(url, runs), caption, default_runs=20)
    )
