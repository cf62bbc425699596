"""The official SDK's ``ocr_image`` against a running server, for all four OCR models."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import pytest

from tests.compat.conftest import RunningServer
from tests.support.ocr_images import cer, render

pytestmark = pytest.mark.slow

TEXT = "Compatible OCR 2025"

DRIVER = """
import json, sys, warnings
warnings.simplefilter("ignore")
from inference_sdk import InferenceHTTPClient
url, key, path = sys.argv[1:4]
client = InferenceHTTPClient(api_url=url, api_key=key)
out = {
    "doctr": client.ocr_image(path),
    "doctr_boxes": client.ocr_image(path, generate_bounding_boxes=True),
    "trocr": client.ocr_image(path, model="trocr", version="trocr-small-printed"),
    "easy_ocr": client.ocr_image(path, model="easy_ocr", language_codes=["en"]),
    "pp_ocr": client.ocr_image(path, model="pp_ocr", version="small-small"),
}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def answers(
    server: RunningServer, sdk_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, object]]:
    image = tmp_path_factory.mktemp("sdk-ocr") / "text.png"
    assert cv2.imwrite(str(image), render((TEXT,), 32))
    result = subprocess.run(
        [str(sdk_python), "-c", DRIVER, server.url, server.key, str(image)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    parsed: dict[str, dict[str, object]] = json.loads(result.stdout)
    return parsed


@pytest.mark.parametrize("model", ["doctr", "trocr", "easy_ocr", "pp_ocr"])
def test_ocr_image_reads_the_text(answers: dict[str, dict[str, object]], model: str) -> None:
    answer = answers[model]
    assert isinstance(answer["result"], str)
    assert cer(TEXT, answer["result"]) <= 0.02, answer
    assert answer["parent_id"] is None


def test_ocr_image_with_boxes(answers: dict[str, dict[str, object]]) -> None:
    answer = answers["doctr_boxes"]
    predictions = answer["predictions"]
    assert isinstance(predictions, list)
    assert [p["class"] for p in predictions] == str(answer["result"]).split()
