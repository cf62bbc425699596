from __future__ import annotations

import numpy as np
import pytest

from visionflow.core.letterbox import ResizeMeta, resize_to_input, unresize_xyxy

FILL = 7


def _image(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), FILL, dtype=np.uint8)


@pytest.mark.parametrize(
    ("original_wh", "input_wh", "scale", "resized_wh", "pad_xy"),
    [
        pytest.param((640, 480), (320, 320), 0.5, (320, 240), (0, 40), id="640x480-to-320"),
        pytest.param((320, 320), (320, 320), 1.0, (320, 320), (0, 0), id="same-size"),
        pytest.param((100, 50), (320, 320), 3.2, (320, 160), (0, 80), id="upscale"),
        pytest.param((640, 480), (640, 384), 0.8, (512, 384), (64, 0), id="wide-input"),
        # 480 * 320/641 = 239.6 → 239 rows; (320 - 239) / 2 = 40.5 → 40 on top, 41 below.
        pytest.param((641, 480), (320, 320), 320 / 641, (320, 239), (0, 40), id="odd-truncated"),
        # 50 * 64/101 = 31.68 → 31 rows; (64 - 31) / 2 = 16.5 → 16.
        pytest.param((101, 50), (64, 64), 64 / 101, (64, 31), (0, 16), id="odd-small"),
        pytest.param((333, 777), (320, 320), 320 / 777, (137, 320), (91, 0), id="portrait"),
        # 3 * 0.064 = 0.192 would truncate to 0 columns; at least one is kept.
        pytest.param((3, 1000), (64, 64), 0.064, (1, 64), (31, 0), id="sliver-min-one"),
    ],
)
def test_letterbox_offsets(
    original_wh: tuple[int, int],
    input_wh: tuple[int, int],
    scale: float,
    resized_wh: tuple[int, int],
    pad_xy: tuple[int, int],
) -> None:
    canvas, meta = resize_to_input(_image(*original_wh), input_wh, "letterbox")

    assert canvas.shape == (input_wh[1], input_wh[0], 3)
    assert canvas.dtype == np.uint8
    assert meta == ResizeMeta(
        original_wh, input_wh, (pytest.approx(scale),) * 2, pad_xy, resized_wh
    )
    right = input_wh[0] - resized_wh[0] - pad_xy[0]
    bottom = input_wh[1] - resized_wh[1] - pad_xy[1]
    assert meta.padding_ltrb == (*pad_xy, right, bottom)
    assert isinstance(meta.pad_xy[0], int)
    assert isinstance(meta.pad_xy[1], int)
    left, top = pad_xy
    width, height = resized_wh
    content = canvas[top : top + height, left : left + width]
    assert np.all(content == FILL)
    padding = np.ones(canvas.shape[:2], dtype=bool)
    padding[top : top + height, left : left + width] = False
    assert np.all(canvas[padding] == 114)


@pytest.mark.parametrize(
    "pad_value",
    [pytest.param(0, id="black"), pytest.param(114, id="grey"), pytest.param(255, id="white")],
)
def test_letterbox_pad_value(pad_value: int) -> None:
    canvas, _ = resize_to_input(_image(64, 32), (64, 64), "letterbox", pad_value)

    assert np.all(canvas[:16] == pad_value)
    assert np.all(canvas[48:] == pad_value)
    assert np.all(canvas[16:48] == FILL)


@pytest.mark.parametrize(
    ("original_wh", "input_wh", "scale_xy"),
    [
        pytest.param((640, 480), (320, 320), (0.5, 320 / 480), id="downscale"),
        pytest.param((100, 50), (200, 200), (2.0, 4.0), id="upscale"),
        pytest.param((320, 320), (320, 320), (1.0, 1.0), id="same-size"),
        pytest.param((1, 1), (8, 4), (8.0, 4.0), id="one-pixel"),
    ],
)
def test_stretch(
    original_wh: tuple[int, int], input_wh: tuple[int, int], scale_xy: tuple[float, float]
) -> None:
    resized, meta = resize_to_input(_image(*original_wh), input_wh, "stretch")

    assert resized.shape == (input_wh[1], input_wh[0], 3)
    assert np.all(resized == FILL)  # no padding anywhere
    assert meta.pad_xy == (0, 0)
    assert meta.scale_xy == pytest.approx(scale_xy)
    assert meta.original_wh == original_wh


def test_stretch_is_a_plain_bilinear_resize() -> None:
    gradient = np.tile(np.arange(0, 200, 2, dtype=np.uint8)[None, :, None], (10, 1, 3))

    resized, _ = resize_to_input(gradient, (50, 10), "stretch")

    # Halving the width averages neighbour pairs: (0+2)/2, (4+6)/2, ...
    np.testing.assert_array_equal(resized[0, :5, 0], [1, 5, 9, 13, 17])


@pytest.mark.parametrize(
    ("shape", "mode", "message"),
    [
        pytest.param((0, 0, 3), "letterbox", "empty image", id="empty-image"),
        pytest.param((0, 10, 3), "stretch", "empty image", id="zero-height"),
        pytest.param((10, 10, 3), "fill", "unknown resize mode", id="unknown-mode"),
    ],
)
def test_resize_rejects(shape: tuple[int, int, int], mode: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resize_to_input(np.zeros(shape, dtype=np.uint8), (32, 32), mode)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("meta", "network_xyxy", "original_xyxy"),
    [
        pytest.param(
            ResizeMeta((640, 480), (320, 320), (0.5, 0.5), (0, 40)),
            np.zeros((0, 4)),
            np.zeros((0, 4)),
            id="empty",
        ),
        pytest.param(
            ResizeMeta((640, 480), (320, 320), (0.5, 0.5), (0, 40)),
            [[128, 128, 192, 192]],
            [[256, 176, 384, 304]],
            id="letterbox",
        ),
        pytest.param(
            ResizeMeta((640, 480), (320, 320), (0.5, 320 / 480), (0, 0)),
            [[128, 128, 192, 192]],
            [[256, 192, 384, 288]],
            id="stretch",
        ),
        pytest.param(
            ResizeMeta((100, 100), (320, 320), (3.2, 3.2), (0, 0)),
            [[-32, 0, 352, 320]],
            [[-10, 0, 110, 100]],
            id="not-clipped",
        ),
    ],
)
def test_unresize_xyxy(meta: ResizeMeta, network_xyxy: object, original_xyxy: object) -> None:
    result = unresize_xyxy(np.asarray(network_xyxy, dtype=np.float32), meta)

    assert result.dtype == np.float32
    np.testing.assert_allclose(result, np.asarray(original_xyxy).reshape(-1, 4), rtol=1e-6)


@pytest.mark.parametrize(
    ("original_wh", "input_wh", "mode"),
    [
        pytest.param((640, 480), (320, 320), "letterbox", id="letterbox"),
        pytest.param((641, 479), (320, 320), "letterbox", id="letterbox-odd"),
        pytest.param((333, 777), (640, 640), "letterbox", id="letterbox-upscale"),
        pytest.param((641, 479), (320, 256), "stretch", id="stretch"),
    ],
)
def test_unresize_round_trip(
    original_wh: tuple[int, int], input_wh: tuple[int, int], mode: str
) -> None:
    original = np.array([[10, 20, 110, 220], [0, 0, *original_wh]], dtype=np.float32)
    _, meta = resize_to_input(_image(*original_wh), input_wh, mode)  # type: ignore[arg-type]
    scale_x, scale_y = meta.scale_xy
    pad_x, pad_y = meta.pad_xy
    network = original * np.array([scale_x, scale_y, scale_x, scale_y], dtype=np.float32)
    network += np.array([pad_x, pad_y, pad_x, pad_y], dtype=np.float32)

    np.testing.assert_allclose(unresize_xyxy(network, meta), original, atol=1e-3)


def test_center_crop_fills_the_input_and_centres() -> None:
    """The shorter side (480) scales to 224, the longer to 299; the centre 224 columns stay."""
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    image[:, 320:] = 255  # right half white
    out, meta = resize_to_input(image, (224, 224), "center-crop")
    assert out.shape == (224, 224, 3)
    assert meta.scale_xy == (224 / 480, 224 / 480)
    assert meta.pad_xy == (-((299 - 224) // 2), 0)
    # The white half starts in the middle of the crop.
    assert out[:, :100].max() == 0
    assert out[:, 124:].min() == 255
