"""``ImageLoader`` and ``RequestImageBudget``: one request's images are counted before any is
fetched, and their decoded pixels are checked on the headers before any is decoded."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.image_files import zero_png
from visionflow.config import Settings
from visionflow.core.images import ImageHeader
from visionflow.errors import (
    ImageDecodeError,
    ImageTooLargeError,
    InvalidInputError,
    PayloadTooLargeError,
)
from visionflow.service import images as images_module
from visionflow.service.images import ImageLoader, ImageRef, RequestImageBudget
from visionflow.service.urls import UrlFetcher


def png_ref(width: int, height: int) -> ImageRef:
    ok, buffer = cv2.imencode(".png", np.full((height, width, 3), 7, dtype=np.uint8))
    assert ok
    return ImageRef("base64", base64.b64encode(buffer.tobytes()).decode())


# A URL the fetcher refuses before connecting: loading it would be an error, so a request that
# gets its 413 first has not fetched it.
UNFETCHABLE = ImageRef("url", "http://127.0.0.1:9/never-fetched.png")


def loader(tmp_path: Path, **limits: int) -> ImageLoader:
    settings = Settings(home=tmp_path, register_demo_models=False).with_overrides(**limits)
    return ImageLoader(settings, UrlFetcher(settings))


@pytest.mark.parametrize(
    ("counts", "allowed"),
    [
        pytest.param([], True, id="empty"),
        pytest.param([3], True, id="at-the-limit"),
        pytest.param([4], False, id="over-at-once"),
        pytest.param([1, 1, 1], True, id="one-by-one-at-the-limit"),
        pytest.param([1, 1, 1, 1], False, id="one-by-one-over"),
    ],
)
def test_the_image_count(counts: list[int], allowed: bool) -> None:
    budget = RequestImageBudget(max_images=3, max_pixels=100)

    def count_all() -> None:
        for count in counts:
            budget.count(count)

    if allowed:
        count_all()
        assert budget.images == sum(counts)
        return
    with pytest.raises(PayloadTooLargeError, match="over the limit of 3 images") as caught:
        count_all()
    assert caught.value.status_code == 413
    assert "VISIONFLOW_MAX_IMAGES_PER_REQUEST" in caught.value.message


@pytest.mark.parametrize(
    ("sizes", "allowed"),
    [
        pytest.param([], True, id="empty"),
        pytest.param([(10, 10)], True, id="one-at-the-limit"),
        pytest.param([(5, 10), (5, 10)], True, id="two-at-the-limit"),
        pytest.param([(10, 10), (1, 1)], False, id="one-pixel-over"),
        pytest.param([(11, 10)], False, id="one-over"),
    ],
)
def test_the_pixel_total(sizes: list[tuple[int, int]], allowed: bool) -> None:
    budget = RequestImageBudget(max_images=10, max_pixels=100)

    def charge_all() -> None:
        for size in sizes:
            budget.charge(ImageHeader("PNG", size))

    if allowed:
        charge_all()
        assert budget.pixels == sum(w * h for w, h in sizes)
        return
    with pytest.raises(ImageTooLargeError, match="over the limit of 100 decoded pixels") as caught:
        charge_all()
    assert caught.value.status_code == 413
    assert "VISIONFLOW_MAX_REQUEST_PIXELS" in caught.value.message


def test_the_budget_is_exact_across_threads() -> None:
    budget = RequestImageBudget(max_images=1000, max_pixels=1000)
    refused: list[Exception] = []

    def charge() -> None:
        for _ in range(50):
            try:
                budget.count(1)
                budget.charge(ImageHeader("PNG", (1, 1)))
            except (ImageTooLargeError, PayloadTooLargeError) as exc:
                refused.append(exc)

    threads = [threading.Thread(target=charge) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (budget.images, budget.pixels) == (1000, 1000)
    assert len(refused) == 1000


def test_load_all_decodes_every_image_in_order(tmp_path: Path) -> None:
    images = loader(tmp_path).load_all([png_ref(4, 3), png_ref(2, 5)])

    assert [image.shape for image in images] == [(3, 4, 3), (5, 2, 3)]


def test_too_many_images_are_refused_before_any_is_fetched(tmp_path: Path) -> None:
    refs = [png_ref(2, 2)] * 3 + [UNFETCHABLE]

    with pytest.raises(PayloadTooLargeError, match="has 4 images"):
        loader(tmp_path, max_images_per_request=3).load_all(refs)


def test_an_over_budget_request_decodes_nothing(tmp_path: Path) -> None:
    images = loader(tmp_path, max_request_pixels=100)
    refs = [png_ref(10, 5), png_ref(10, 5), png_ref(10, 5), UNFETCHABLE]

    with pytest.raises(ImageTooLargeError, match="10x5 pixels comes after 100 pixels"):
        images.load_all(refs)


def test_images_at_the_budget_are_decoded(tmp_path: Path) -> None:
    images = loader(tmp_path, max_request_pixels=100, max_image_pixels=100)

    decoded = images.load_all([png_ref(10, 5), png_ref(10, 5)])

    assert len(decoded) == 2


def test_one_budget_across_loads(tmp_path: Path) -> None:
    images = loader(tmp_path, max_request_pixels=100)
    budget = images.budget(2)
    images.load(png_ref(10, 8), budget)

    with pytest.raises(ImageTooLargeError, match="after 80 pixels"):
        images.load(png_ref(5, 5), budget)


def test_a_single_load_has_a_budget_of_its_own(tmp_path: Path) -> None:
    images = loader(tmp_path, max_request_pixels=99)

    with pytest.raises(ImageTooLargeError, match="VISIONFLOW_MAX_REQUEST_PIXELS"):
        images.load(png_ref(10, 10))


def test_the_per_image_limit_comes_first(tmp_path: Path) -> None:
    images = loader(tmp_path, max_image_pixels=1000)
    bomb = ImageRef("bytes", zero_png(20_000, 20_000))

    with pytest.raises(ImageTooLargeError, match="20000x20000 pixels, over the limit of 1000"):
        images.load_all([bomb])


def test_unsized_bytes_are_a_400(tmp_path: Path) -> None:
    with pytest.raises(ImageDecodeError, match="not an image in a supported format"):
        loader(tmp_path).load(ImageRef("bytes", b"not an image at all"))


# -- the decoder of a workflow run's image inputs ------------------------------------------------


def value_of(ref: ImageRef) -> str:
    assert isinstance(ref.value, str)
    return ref.value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            {"type": "url", "value": "http://x/a.png"},
            ImageRef("url", "http://x/a.png"),
            id="url-object",
        ),
        pytest.param(
            {"type": "base64", "value": "AAAA"}, ImageRef("base64", "AAAA"), id="base64-object"
        ),
        pytest.param("https://x/a.png", ImageRef("url", "https://x/a.png"), id="bare-url"),
        pytest.param("AAAA", ImageRef("base64", "AAAA"), id="bare-base64"),
        pytest.param("", ImageRef("base64", ""), id="empty-string"),
    ],
)
def test_an_input_value_as_a_ref(value: object, expected: ImageRef) -> None:
    assert ImageRef.from_input(value) == expected


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        pytest.param({"value": "AAAA"}, "needs a 'type'", id="object-without-type"),
        pytest.param(3, "not int", id="number"),
        pytest.param(None, "not NoneType", id="null"),
    ],
)
def test_an_input_value_that_is_no_image(value: object, fragment: str) -> None:
    with pytest.raises(InvalidInputError, match=fragment):
        ImageRef.from_input(value)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The sizes ``decode_with_header`` is called for, in order."""
    calls: list[tuple[int, int]] = []
    real = images_module.decode_with_header

    def recording(data: bytes, header: ImageHeader) -> np.ndarray:
        calls.append(header.size_wh)
        return real(data, header)

    monkeypatch.setattr(images_module, "decode_with_header", recording)
    return calls


def test_the_decoder_decodes_each_value(tmp_path: Path, decoded: list[tuple[int, int]]) -> None:
    first, second = value_of(png_ref(4, 3)), {"type": "base64", "value": value_of(png_ref(2, 5))}
    decode = loader(tmp_path).decoder([first, second])

    assert decode(first).shape == (3, 4, 3)
    assert decode(second).shape == (5, 2, 3)
    assert decoded == [(4, 3), (2, 5)]


def test_the_decoder_with_no_values(tmp_path: Path, decoded: list[tuple[int, int]]) -> None:
    decode = loader(tmp_path).decoder([])
    value = value_of(png_ref(4, 3))

    assert decode(value).shape == (3, 4, 3)  # a value it was not told of: checked on its own


def test_a_run_over_the_pixel_budget_decodes_nothing(
    tmp_path: Path, decoded: list[tuple[int, int]]
) -> None:
    values = [value_of(png_ref(10, 5)) for _ in range(3)] + [value_of(UNFETCHABLE)]
    decode = loader(tmp_path, max_request_pixels=100).decoder(values)

    with pytest.raises(ImageTooLargeError, match="10x5 pixels comes after 100 pixels") as first:
        decode(values[0])
    with pytest.raises(ImageTooLargeError) as again:
        decode(values[1])
    assert "VISIONFLOW_MAX_REQUEST_PIXELS" in first.value.message
    assert again.value is first.value
    assert decoded == []


def test_a_bomb_among_small_images_decodes_nothing(
    tmp_path: Path, decoded: list[tuple[int, int]]
) -> None:
    values = [value_of(png_ref(10, 5)), {"type": "bytes", "value": zero_png(8000, 8000)}]
    decode = loader(tmp_path, max_request_pixels=64_000_000).decoder(values)

    with pytest.raises(ImageTooLargeError, match="8000x8000 pixels comes after 50 pixels"):
        decode(values[0])
    assert decoded == []


def test_an_image_over_the_per_image_limit_is_refused_at_its_own_value(
    tmp_path: Path, decoded: list[tuple[int, int]]
) -> None:
    small, bomb = value_of(png_ref(10, 5)), {"type": "bytes", "value": zero_png(20_000, 20_000)}
    decode = loader(tmp_path).decoder([small, bomb])

    assert decode(small).shape == (5, 10, 3)
    with pytest.raises(ImageTooLargeError, match="VISIONFLOW_MAX_IMAGE_PIXELS"):
        decode(bomb)
    assert decoded == [(10, 5)]


def test_too_many_values_are_refused_before_any_is_fetched(
    tmp_path: Path, decoded: list[tuple[int, int]]
) -> None:
    values = [value_of(png_ref(2, 2)) for _ in range(3)] + [value_of(UNFETCHABLE)]
    decode = loader(tmp_path, max_images_per_request=3).decoder(values)

    with pytest.raises(PayloadTooLargeError, match=r"has 4 images.*MAX_IMAGES_PER_REQUEST"):
        decode(values[0])
    assert decoded == []


def test_an_error_is_raised_for_its_own_value(
    tmp_path: Path, decoded: list[tuple[int, int]]
) -> None:
    good, bad, never = value_of(png_ref(2, 2)), 42, {"type": "url", "value": "http://127.0.0.1:9/x"}
    decode = loader(tmp_path).decoder([good, bad, never])

    assert decode(good).shape == (2, 2, 3)
    with pytest.raises(InvalidInputError, match="not int"):
        decode(bad)


def test_the_same_value_twice_counts_twice(tmp_path: Path) -> None:
    value = value_of(png_ref(10, 5))
    decode = loader(tmp_path, max_request_pixels=100).decoder([value, value])

    assert decode(value).shape == decode(value).shape == (5, 10, 3)
    with pytest.raises(ImageTooLargeError, match="after 100 pixels"):
        decode(value)  # a third occurrence it was not told of
