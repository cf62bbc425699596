"""The shared image -> tensor step: the one-pass planar path gives the straightforward formula's
values bit for bit (resize, colour order, float32 / scaling, (x - mean) / std, NCHW)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionflow.core.letterbox import resize_to_input
from visionflow.models.base import images_to_tensor, scaled_pixels
from visionflow.models.manifest import InputSpec, Normalization

IMAGENET = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _reference(images: list[np.ndarray], spec: InputSpec) -> np.ndarray:
    rows = []
    for image in images:
        resized, _ = resize_to_input(
            image, (spec.width, spec.height), spec.resize_mode, spec.padding_value
        )
        if spec.color_mode == "rgb":
            resized = np.asarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB), dtype=np.uint8)
        rows.append(scaled_pixels(resized, spec))
    batch = np.stack(rows)
    return batch if spec.layout == "nhwc" else np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("color_mode", ["rgb", "bgr"])
@pytest.mark.parametrize("normalization", [None, IMAGENET], ids=["plain", "imagenet"])
@pytest.mark.parametrize("resize_mode", ["stretch", "letterbox", "center-crop"])
def test_images_to_tensor_matches_the_formula_exactly(
    layout: str, color_mode: str, normalization: Normalization | None, resize_mode: str
) -> None:
    rng = np.random.default_rng(7)
    images = [
        rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        rng.integers(0, 256, (37, 101, 3), dtype=np.uint8),
    ]
    spec = InputSpec(
        width=224,
        height=160,
        layout=layout,
        color_mode=color_mode,
        normalization=normalization,
        resize_mode=resize_mode,
        scaling_factor=255.0 if normalization is not None else 127.5,
    )

    tensor, metas = images_to_tensor(images, spec)

    expected = _reference(images, spec)
    assert tensor.dtype == np.float32
    assert tensor.shape == expected.shape
    assert tensor.flags.c_contiguous
    np.testing.assert_array_equal(tensor, expected)
    assert len(metas) == 2
