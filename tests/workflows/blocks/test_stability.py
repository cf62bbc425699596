"""The Stability AI blocks against a local server on 127.0.0.1 speaking the v2beta Stable Image
format: multipart/form-data requests (path, Bearer key, ``Accept: image/*``, the form fields,
the image and mask as JPEG parts) answered with image bytes, which become the output image."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
import supervision as sv

from tests.support.provider_server import ProviderServer, provider_server
from tests.workflows.blocks.test_lmm import environment, image, run_step
from visionflow.workflows.blocks.llm_egress import EgressDisabledError, ProviderRejectedError


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with provider_server() as running:
        yield running


def _jpeg(width: int, height: int, value: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), value, np.uint8))
    assert ok
    return bytes(data.tobytes())


def _pixels(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _fields(server: ProviderServer, index: int = 0) -> dict[str, str]:
    form = server.requests[index].form
    return {name: part[2].decode() for name, part in form.items() if part[0] is None}


def test_image_generation(server: ProviderServer) -> None:
    server.replies.append((200, "image/jpeg", _jpeg(40, 30, 200)))
    server.replies.append(
        (200, "image/png", cv2.imencode(".png", np.zeros((8, 8, 4)))[1].tobytes())
    )
    gen = "roboflow_core/stability_ai_image_gen@v1"
    out = run_step(gen, environment(server), {}, prompt="a red fox", api_key="sk-stab")
    sent = server.requests[0]
    assert sent.path == "/v2beta/stable-image/generate/core"
    assert sent.headers["Authorization"] == "Bearer sk-stab"
    assert sent.headers["Accept"] == "image/*"
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert _fields(server) == {"prompt": "a red fox", "output_format": "jpeg"}
    assert sent.form["none"][0] == "upload"  # the dummy part that forces a multipart body
    result = out["image"]
    assert result.pixels_bgr.shape == (30, 40, 3)
    assert abs(int(result.pixels_bgr.mean()) - 200) <= 2
    assert result.lineage.image_id.startswith("stability_ai.")
    assert result.lineage.is_root
    # A variation of an input image, with an unknown model falling back to core, and a PNG
    # answer with alpha decoded to BGR.
    out = run_step(
        gen,
        environment(server),
        {"image": image()},
        image="$inputs.image",
        prompt="more foxes",
        negative_prompt="cats",
        model="ultra",
        strength=0.7,
        api_key="sk-stab",
    )
    sent = server.requests[1]
    assert sent.path == "/v2beta/stable-image/generate/ultra"
    assert _fields(server, 1) == {
        "prompt": "more foxes",
        "output_format": "jpeg",
        "strength": "0.7",
        "negative_prompt": "cats",
    }
    assert _pixels(sent.form["image"][2]).shape == (48, 64, 3)
    assert out["image"].pixels_bgr.shape == (8, 8, 3)


def test_inpainting_mask_part(server: ProviderServer) -> None:
    server.replies.append((200, "image/jpeg", _jpeg(64, 48, 90)))
    masks = np.zeros((1, 48, 64), dtype=bool)
    masks[0, 10:30, 20:50] = True
    detections = sv.Detections(
        xyxy=np.array([[20, 10, 50, 30]], np.float32), mask=masks, class_id=np.array([0])
    )
    source = image()
    out = run_step(
        "roboflow_core/stability_ai_inpainting@v1",
        environment(server),
        {"image": source, "segmentation_mask": detections},
        image="$inputs.image",
        segmentation_mask="$steps.seg.predictions",
        prompt="a tree",
        api_key="k",
        preset="anime",
        seed=2**40,
        invert_segmentation_mask=True,
    )
    sent = server.requests[0]
    assert sent.path == "/v2beta/stable-image/edit/inpaint"
    assert _fields(server) == {
        "prompt": "a tree",
        "output_format": "jpeg",
        "preset": "anime",
        "seed": "4294967294",
    }
    mask = _pixels(sent.form["mask"][2])
    assert mask.shape == (48, 64, 3)
    # Inverted: black inside the masked region, white well outside it, blurred at the edge.
    assert mask[20, 35].max() < 20
    assert mask[40, 5].min() > 235
    assert 40 < int(mask[20, 20, 0]) < 215
    assert _pixels(sent.form["image"][2]).shape == (48, 64, 3)
    result = out["image"]
    assert result.lineage == source.lineage
    assert abs(int(result.pixels_bgr.mean()) - 90) <= 2


def test_outpainting(server: ProviderServer) -> None:
    outpaint = "roboflow_core/stability_ai_outpainting@v1"
    out = run_step(outpaint, environment(server), {"image": image()}, image="$inputs.image",
                   api_key="k")  # fmt: skip
    assert out["image"].pixels_bgr.shape == (48, 64, 3)
    assert server.requests == []
    server.replies.append((200, "image/jpeg", _jpeg(2064 + 10, 48, 30)))
    out = run_step(
        outpaint,
        environment(server),
        {"image": image()},
        image="$inputs.image",
        api_key="k",
        left=5000,
        right=10,
        up=0,
        creativity=3.0,
        prompt="sea",
    )
    assert server.requests[0].path == "/v2beta/stable-image/edit/outpaint"
    assert _fields(server) == {
        "output_format": "jpeg",
        "creativity": "1.0",
        "left": "2000",
        "right": "10",
        "prompt": "sea",
    }
    result = out["image"]
    assert result.pixels_bgr.shape == (48, 2074, 3)
    assert result.lineage.image_id == "img"
    assert result.lineage.size_wh == (2074, 48)


def test_refusals_and_egress_off(server: ProviderServer) -> None:
    server.reply_json({"name": "bad_request", "errors": ["prompt: too long"]}, status=400)
    gen = "roboflow_core/stability_ai_image_gen@v1"
    with pytest.raises(ProviderRejectedError, match="HTTP 400: prompt: too long"):
        run_step(gen, environment(server), {}, prompt="x", api_key="k")
    server.replies.append((200, "image/jpeg", b"not an image"))
    with pytest.raises(Exception, match="stability answered step 's' with an image"):
        run_step(gen, environment(server), {}, prompt="x", api_key="k")
    off = environment(server, workflows_allow_egress=False)
    with pytest.raises(EgressDisabledError, match="VISIONFLOW_WORKFLOWS_ALLOW_EGRESS"):
        run_step(gen, off, {}, prompt="x", api_key="k")
    unmasked = sv.Detections(xyxy=np.array([[0, 0, 5, 5]], np.float32), class_id=np.array([0]))
    with pytest.raises(Exception, match=r"field 'segmentation_mask'.*no masks"):
        run_step(
            "roboflow_core/stability_ai_inpainting@v1", environment(server),
            {"image": image(), "segmentation_mask": unmasked}, image="$inputs.image",
            segmentation_mask="$steps.d.predictions", prompt="p", api_key="k",
        )  # fmt: skip
    assert len(server.requests) == 2
