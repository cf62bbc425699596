"""Classical CV blocks and the QR / barcode detectors through the executor, on drawn images."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import pytest

from tests.workflows.blocks.helpers import canvas, run, step
from visionflow.workflows import WorkflowImage
from visionflow.workflows.blocks.classical_cv import MAX_BILATERAL_PX, MAX_KERNEL_PX
from visionflow.workflows.errors import InvalidInputTypeError

IMAGE = [{"type": "WorkflowImage", "name": "image"}]


def _one(block: str, image: np.ndarray, outputs: dict[str, str], **fields: Any) -> dict[str, Any]:
    [result] = run(
        [step(block, "s", image="$inputs.image", **fields)],
        {name: f"$steps.s.{output}" for name, output in outputs.items()},
        {"image": image},
    )
    return result


def _pixels(result: dict[str, Any]) -> np.ndarray:
    image = result["image"]
    assert isinstance(image, WorkflowImage)
    return image.pixels_bgr


def _scene() -> np.ndarray:
    """Black, a white 40 x 20 rectangle at (20, 10) and a pure-red 30 x 30 square at (120, 50)."""
    image = canvas()
    image[10:30, 20:60] = 255
    image[50:80, 120:150] = (0, 0, 255)
    return image


def test_grayscale_keeps_three_equal_channels() -> None:
    pixels = _pixels(_one("convert_grayscale@v1", _scene(), {"image": "image"}))
    assert pixels.shape == (100, 200, 3)
    assert pixels[60, 130].tolist() == [76, 76, 76]  # 0.299 * 255
    assert pixels[20, 30].tolist() == [255, 255, 255]


@pytest.mark.parametrize("kind", ["average", "gaussian", "median", "bilateral"])
def test_blur_softens_edges(kind: str) -> None:
    image = canvas(value=100)
    image[:, 100:] = 130
    pixels = _pixels(_one("image_blur@v1", image, {"image": "image"}, blur_type=kind))
    assert pixels[50, 10].tolist() == [100, 100, 100]
    edge = (int(pixels[50, 99, 0]), int(pixels[50, 100, 0]))
    if kind == "median":  # a median keeps a straight edge as it is
        assert edge == (100, 130)
    else:
        assert any(100 < value < 130 for value in edge)


def test_threshold_types() -> None:
    image = canvas()
    image[:, :100] = 100
    image[:, 100:] = 200
    binary = _pixels(_one("threshold@v1", image, {"image": "image"}, thresh_value=150))
    assert (binary[0, 0, 0], binary[0, 150, 0]) == (0, 255)
    inverse = _pixels(
        _one(
            "threshold@v1", image, {"image": "image"}, thresh_value=150, threshold_type="binary_inv"
        )
    )
    assert (inverse[0, 0, 0], inverse[0, 150, 0]) == (255, 0)
    otsu = _pixels(
        _one("threshold@v1", image, {"image": "image"}, thresh_value=0, threshold_type="otsu")
    )
    assert (otsu[0, 0, 0], otsu[0, 150, 0]) == (0, 255)


def test_contours_are_counted_and_drawn() -> None:
    result = _one(
        "contours_detection@v1",
        _scene(),
        {"image": "image", "contours": "contours", "count": "number_contours"},
        line_thickness=1,
    )
    assert result["count"] == 2
    boxes = sorted(cv2.boundingRect(c) for c in result["contours"])
    assert boxes == [(20, 10, 40, 20), (120, 50, 30, 30)]
    assert _pixels(result)[10, 20].tolist() == [255, 0, 255]


def test_dominant_color_is_rgb() -> None:
    image = canvas(value=0)
    image[:, :150] = (255, 0, 0)  # blue in BGR, three quarters of the image
    result = _one("dominant_color@v1", image, {"color": "rgb_color"})
    assert result["color"] == (0, 0, 255)


@pytest.mark.parametrize("target", ["#FF0000", "#f00", "(255, 0, 0)", [250, 5, 0]])
def test_pixel_color_count(target: Any) -> None:
    result = _one(
        "pixel_color_count@v1", _scene(), {"count": "matching_pixels_count"}, target_color=target
    )
    assert result["count"] == 900


def test_dominant_color_feeds_pixel_color_count() -> None:
    image = _scene()
    image[:] = (0, 0, 255)
    image[:10, :10] = 0
    [result] = run(
        [
            step("dominant_color@v1", "dom", image="$inputs.image"),
            step(
                "pixel_color_count@v1",
                "count",
                image="$inputs.image",
                target_color="$steps.dom.rgb_color",
                tolerance=0,
            ),
        ],
        {"count": "$steps.count.matching_pixels_count"},
        {"image": image},
    )
    assert result["count"] == 200 * 100 - 100


def test_template_matching_finds_each_copy_once() -> None:
    rng = np.random.default_rng(1)
    patch = rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)
    image = canvas()
    for x, y in ((10, 10), (100, 60), (160, 20)):
        image[y : y + 12, x : x + 16] = patch
    [result] = run(
        [
            step(
                "template_matching@v1",
                "tm",
                image="$inputs.image",
                template="$inputs.template",
                matching_threshold=0.95,
            )
        ],
        {"predictions": "$steps.tm.predictions", "count": "$steps.tm.number_of_matches"},
        {"image": image, "template": patch},
        {"image": "image", "template": "template"},
        declared=[*IMAGE, {"type": "WorkflowImage", "name": "template"}],
    )
    assert result["count"] == 3
    assert sorted(result["predictions"].xyxy.tolist()) == [
        [10, 10, 26, 22],
        [100, 60, 116, 72],
        [160, 20, 176, 32],
    ]


def test_image_preprocessing_resize_rotate_flip() -> None:
    image = _scene()
    resized = _pixels(
        _one(
            "image_preprocessing@v1",
            image,
            {"image": "image"},
            task_type="resize",
            width=100,
            height=50,
        )
    )
    assert resized.shape == (50, 100, 3)
    rotated = _one("image_preprocessing@v1", image, {"image": "image"}, task_type="rotate")
    assert _pixels(rotated).shape == (200, 100, 3)
    assert rotated["image"].lineage.size_wh == (100, 200)
    flipped = _pixels(
        _one(
            "image_preprocessing@v1",
            image,
            {"image": "image"},
            task_type="flip",
            flip_type="horizontal",
        )
    )
    assert np.array_equal(flipped, image[:, ::-1])


def _qr(text: str, scale: int = 5) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    big = cv2.resize(code, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    return np.asarray(cv2.cvtColor(big, cv2.COLOR_GRAY2BGR), dtype=np.uint8)


def test_qr_codes_are_detected_and_decoded() -> None:
    image = canvas(400, 200, value=255)
    first, second = _qr("hello"), _qr("https://example.com/x")
    image[20 : 20 + first.shape[0], 20 : 20 + first.shape[1]] = first
    image[20 : 20 + second.shape[0], 220 : 220 + second.shape[1]] = second
    [result] = run(
        [step("qr_code_detector@v1", "qr", images="$inputs.image")],
        {"codes": "$steps.qr.predictions"},
        {"image": image},
    )
    codes = result["codes"]
    found = sorted(zip(codes.xyxy[:, 0].tolist(), codes.data["data"], strict=True))
    assert [text for _x, text in found] == ["hello", "https://example.com/x"]
    assert found[0][0] == pytest.approx(30, abs=3)  # 20 px + a 2-module quiet zone
    assert list(codes.data["class_name"]) == ["qr_code", "qr_code"]


_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011"]
_L += ["0110111", "0001011"]
_G = ["0100111", "0110011", "0011011", "0100001", "0011101", "0111001", "0000101", "0010001"]
_G += ["0001001", "0010111"]
_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG"]
_PARITY += ["LGLGGL", "LGGLGL"]


def _ean13(first12: str) -> tuple[str, np.ndarray]:
    """An EAN-13 barcode (2 px modules) on a white 640 x 480 image, and its 13 digits."""
    digits = [int(c) for c in first12]
    digits.append((10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10)
    right = ["".join("1" if b == "0" else "0" for b in code) for code in _L]
    bits = "101"
    for i, digit in enumerate(digits[1:7]):
        bits += (_L if _PARITY[digits[0]][i] == "L" else _G)[digit]
    bits += "01010" + "".join(right[d] for d in digits[7:]) + "101"
    row = np.array([0 if b == "1" else 255 for b in bits], dtype=np.uint8).repeat(2)
    image = np.full((480, 640), 255, dtype=np.uint8)
    x = (640 - len(row)) // 2
    image[200:260, x : x + len(row)] = row
    return "".join(map(str, digits)), np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))


def test_barcodes_are_detected_and_decoded() -> None:
    digits, image = _ean13("590123412345")
    [result] = run(
        [step("barcode_detector@v1", "bc", images="$inputs.image")],
        {"codes": "$steps.bc.predictions"},
        {"image": image},
        serialize=True,
    )
    [code] = result["codes"]["predictions"]
    assert code["class"] == "barcode"
    assert abs(code["y"] - 230) < 10
    nothing = run(
        [step("barcode_detector@v1", "bc", images="$inputs.image")],
        {"codes": "$steps.bc.predictions"},
        {"image": canvas()},
    )
    assert len(nothing[0]["codes"]) == 0
    assert digits == "5901234123457"


def test_barcodes_with_a_narrow_quiet_zone_are_read() -> None:
    # OpenCV's detector missed EAN-13s whose margin is a few modules wide; zxing-cpp (the
    # reference's reader) does not.
    digits, image = _ean13("400638133393")
    row = image[230]
    dark = np.flatnonzero(row[:, 0] < 128)
    tight = np.ascontiguousarray(image[180:280, dark[0] - 8 : dark[-1] + 9])
    [result] = run(
        [step("barcode_detector@v1", "bc", images="$inputs.image")],
        {"codes": "$steps.bc.predictions"},
        {"image": tight},
        serialize=True,
    )
    [code] = result["codes"]["predictions"]
    assert code["data"] == digits == "4006381333931"


def test_code_128_and_other_symbologies_are_read_with_their_place() -> None:
    import zxingcpp

    symbol = zxingcpp.create_barcode("VF-128-test", zxingcpp.BarcodeFormat.Code128)
    bars = np.asarray(symbol.to_image(scale=2, add_quiet_zones=True), dtype=np.uint8)
    image = np.full((480, 640), 255, dtype=np.uint8)
    top, left = 300, 150
    image[top : top + bars.shape[0], left : left + bars.shape[1]] = bars
    [result] = run(
        [step("barcode_detector@v1", "bc", images="$inputs.image")],
        {"codes": "$steps.bc.predictions"},
        {"image": cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)},
        serialize=True,
    )
    [code] = result["codes"]["predictions"]
    assert code["data"] == "VF-128-test"
    assert code["class"] == "barcode"
    assert left <= code["x"] - code["width"] / 2
    assert code["x"] + code["width"] / 2 <= left + bars.shape[1]
    assert top <= code["y"] <= top + bars.shape[0]


@pytest.mark.parametrize(
    ("block", "fields", "field", "expected"),
    [
        pytest.param(
            "image_blur@v1",
            {"blur_type": "gaussian", "kernel_size": 100_001},
            "kernel_size",
            f"within [1, {MAX_KERNEL_PX}]",
            id="gaussian",
        ),
        pytest.param(
            "image_blur@v1",
            {"blur_type": "median", "kernel_size": 257},
            "kernel_size",
            f"within [1, {MAX_KERNEL_PX}]",
            id="median",
        ),
        pytest.param(
            "image_blur@v1",
            {"blur_type": "bilateral", "kernel_size": MAX_BILATERAL_PX + 1},
            "kernel_size",
            f"within [1, {MAX_BILATERAL_PX}]",
            id="bilateral",
        ),
        pytest.param(
            "image_preprocessing@v1",
            {"task_type": "resize", "width": 30_000, "height": 30_000},
            "width",
            "30000 x 30000 px is more than the 64000000 pixels an image may have "
            "(VISIONFLOW_MAX_IMAGE_PIXELS)",
            id="resize",
        ),
    ],
)
def test_costly_sizes_are_a_400_at_once(
    block: str, fields: dict[str, Any], field: str, expected: str
) -> None:
    started = time.monotonic()
    with pytest.raises(InvalidInputTypeError) as raised:
        _one(block, canvas(), {"image": "image"}, **fields)
    assert time.monotonic() - started < 1.0
    assert f"field {field!r}" in raised.value.message
    assert expected in raised.value.message


def test_contour_lines_past_the_drawing_range_are_a_400() -> None:
    steps = [
        step("threshold@v1", "t", image="$inputs.image", thresh_value=10),
        step("contours_detection@v1", "c", image="$steps.t.image", line_thickness=100_000),
    ]
    with pytest.raises(
        InvalidInputTypeError, match=r"'line_thickness': expected an integer within"
    ):
        run(steps, {"n": "$steps.c.number_contours"}, {"image": _scene()})
    steps[1]["line_thickness"] = -1  # filled
    assert run(steps, {"n": "$steps.c.number_contours"}, {"image": _scene()})[0]["n"] == 2


def test_filters_at_their_largest_sizes_run() -> None:
    for fields in (
        {"blur_type": "median", "kernel_size": MAX_KERNEL_PX},
        {"blur_type": "gaussian", "kernel_size": MAX_KERNEL_PX},
        {"blur_type": "bilateral", "kernel_size": MAX_BILATERAL_PX},
    ):
        blurred = _pixels(_one("image_blur@v1", canvas(value=90), {"image": "image"}, **fields))
        assert (blurred == 90).all()
