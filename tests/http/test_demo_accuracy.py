"""The shipped demo detector, through the HTTP API, on freshly generated shapes images.

The training set used seed 0; these images come from another seed and mixed sizes, so they are new
to the model. AP50 (all-point, mean over the three classes) must reach 0.9.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support.metrics import ImageResult, mean_ap
from visionflow.http.app import create_app
from visionflow.service.demo import ensure_demo
from visionflow.service.services import Services

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shapes

pytestmark = pytest.mark.slow

SIZES = [(320, 320), (640, 480), (480, 640), (512, 384)]
IMAGES_PER_SIZE = 15  # 60 images in all


def test_demo_model_reaches_ap50_090(services: Services) -> None:
    setup = ensure_demo(
        services.settings.with_overrides(register_demo_models=True),
        services.registry,
        services.models,
    )
    assert "shapes/1" in setup.registered
    class_ids = {name: i for i, name in enumerate(shapes.CLASS_NAMES)}
    results: list[ImageResult] = []
    with TestClient(create_app(services)) as client:
        for size_index, size_wh in enumerate(SIZES):
            for sample in shapes.generate(
                seed=9100 + size_index, count=IMAGES_PER_SIZE, size_wh=size_wh
            ):
                ok, jpeg = cv2.imencode(".jpg", sample.image_bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
                assert ok
                response = client.post(
                    "/infer/object_detection",
                    json={
                        "model_id": "shapes/1",
                        "api_key": setup.api_key,
                        "confidence": 0.05,
                        "image": {
                            "type": "base64",
                            "value": base64.b64encode(jpeg.tobytes()).decode(),
                        },
                    },
                )
                assert response.status_code == 200, response.text
                predictions = response.json()["predictions"]
                results.append(
                    ImageResult(
                        gt_xyxy=sample.xyxy,
                        gt_class=sample.class_id,
                        pred_xyxy=np.array(
                            [
                                [
                                    p["x"] - p["width"] / 2,
                                    p["y"] - p["height"] / 2,
                                    p["x"] + p["width"] / 2,
                                    p["y"] + p["height"] / 2,
                                ]
                                for p in predictions
                            ],
                            dtype=np.float32,
                        ).reshape(-1, 4),
                        pred_class=np.array(
                            [class_ids[p["class"]] for p in predictions], dtype=np.int64
                        ),
                        pred_score=np.array(
                            [p["confidence"] for p in predictions], dtype=np.float32
                        ),
                    )
                )
    assert len(results) >= 50
    ap50 = mean_ap(results, num_classes=len(shapes.CLASS_NAMES), iou_threshold=0.5)
    print(f"demo shapes/1 AP50 on {len(results)} fresh images: {ap50:.3f}")
    assert ap50 >= 0.9
