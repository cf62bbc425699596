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
from visionflow.errors import ImageDecodeError, ImageTooLargeError, PayloadTooLargeError
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
