"""Video metadata: the wire form, ``WorkflowVideoMetadata`` inputs and images that come with
metadata, through the compiler and executor, and their serialization."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.workflows.blocks.helpers import REGISTRY, canvas, run, step
from visionflow.workflows import compile_workflow
from visionflow.workflows.errors import RuntimeInputError
from visionflow.workflows.video_metadata import VideoMetadata

FRAME = {
    "video_identifier": "cam-1",
    "frame_number": 45,
    "frame_timestamp": "2024-05-01T10:00:01.500000+00:00",
    "fps": 30,
    "measured_fps": 29.5,
    "comes_from_video_file": True,
    "total_frames": 900,
}
IMAGES = {"scene": canvas(200, 100)}
DECLARED = [
    {"type": "WorkflowImage", "name": "image"},
    {"type": "WorkflowVideoMetadata", "name": "video"},
]


def test_wire_form_round_trips() -> None:
    metadata = VideoMetadata.from_dict(FRAME)
    assert metadata.frame_timestamp == datetime(2024, 5, 1, 10, 0, 1, 500000, tzinfo=UTC)
    assert (metadata.fps, metadata.measured_fps, metadata.comes_from_video_file) == (30, 29.5, True)
    assert metadata.to_dict() == {**FRAME, "fps": 30.0}
    assert metadata.seconds == 1.5  # a video file: frame number / fps
    assert metadata.seconds_since_start == 1.5


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        pytest.param(0, datetime(1970, 1, 1, tzinfo=UTC), id="unix-seconds"),
        pytest.param("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC), id="naive-utc"),
    ],
)
def test_timestamps_are_iso_or_unix_times(stamp: Any, expected: datetime) -> None:
    metadata = VideoMetadata.from_dict({**FRAME, "frame_timestamp": stamp})
    assert metadata.frame_timestamp == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param({}, "needs video_identifier, frame_number, frame_timestamp", id="empty"),
        pytest.param({**FRAME, "frame_timestamp": None}, "needs frame_timestamp", id="no-time"),
        pytest.param({**FRAME, "frame_number": "3"}, "frame_number must be an integer", id="text"),
        pytest.param({**FRAME, "frame_number": True}, "frame_number must be an integer", id="bool"),
        pytest.param(
            {**FRAME, "video_identifier": 7}, "video_identifier must be a string", id="id"
        ),
        pytest.param({**FRAME, "fps": "fast"}, "fps must be a number", id="fps"),
        pytest.param({**FRAME, "frame_timestamp": "noon"}, "is not an ISO 8601", id="time-text"),
        pytest.param(
            {**FRAME, "comes_from_video_file": "yes"}, "must be a boolean", id="from-file"
        ),
        pytest.param([FRAME], "expected a video metadata object, got list", id="list"),
    ],
)
def test_malformed_metadata_says_what_is_wrong(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        VideoMetadata.from_dict(value)


def test_video_metadata_inputs_are_batches_of_their_kind() -> None:
    plan = compile_workflow(
        {"version": "1.0", "inputs": DECLARED, "steps": [], "outputs": []}, REGISTRY
    )
    video = plan.input("video")
    assert (video.is_batch, video.is_video_metadata, video.kinds) == (
        True,
        True,
        ("video_metadata",),
    )
    assert not plan.input("image").is_video_metadata


def test_video_metadata_input_values_are_read_and_serialized() -> None:
    second = {**FRAME, "frame_number": 46, "comes_from_video_file": None}
    results = run(
        [],
        {"meta": "$inputs.video"},
        IMAGES,
        {"image": ["scene", "scene"], "video": [FRAME, second]},
        declared=DECLARED,
        serialize=True,
    )
    assert [r["meta"]["frame_number"] for r in results] == [45, 46]
    assert results[0]["meta"] == {**FRAME, "fps": 30.0}


@pytest.mark.parametrize(
    ("video", "message"),
    [
        pytest.param(None, "'video' .* is required but was not given", id="missing"),
        pytest.param(
            {"video_identifier": "cam-1"},
            "Workflow input 'video': could not read video metadata: video metadata needs "
            "frame_number, frame_timestamp",
            id="incomplete",
        ),
        pytest.param("cam-1", "expected a video metadata object, got str", id="not-an-object"),
    ],
)
def test_bad_video_metadata_inputs_are_a_400(video: Any, message: str) -> None:
    inputs = {"image": "scene"} if video is None else {"image": "scene", "video": video}
    with pytest.raises(RuntimeInputError, match=message) as raised:
        run([], {"meta": "$inputs.video"}, IMAGES, inputs, declared=DECLARED)
    assert raised.value.status_code == 400


def _image_with(metadata: Any) -> dict[str, Any]:
    return {"type": "base64", "value": "scene", "video_metadata": metadata}


def test_images_carry_their_video_metadata_through_drawing_crops_get_defaults() -> None:
    results = run(
        [
            step(
                "absolute_static_crop@v1",
                "crop",
                images="$inputs.image",
                x_center=50,
                y_center=50,
                width=40,
                height=40,
            ),
            step("image_blur@v1", "blur", image="$inputs.image"),
        ],
        {"image": "$inputs.image", "blurred": "$steps.blur.image", "crop": "$steps.crop.crops"},
        {"scene": IMAGES["scene"]},
        {"image": _image_with(FRAME)},
        serialize=True,
    )
    expected = {**FRAME, "fps": 30.0}
    assert results[0]["image"]["video_metadata"] == expected
    assert results[0]["blurred"]["video_metadata"] == expected
    # A crop has no metadata of its own: as the reference, it is written with the still-image
    # defaults (the crop is its own video, frame 0, 30 fps), never null.
    crop = results[0]["crop"]
    assert crop["video_metadata"]["video_identifier"] == crop["parent_id"]
    assert (crop["video_metadata"]["frame_number"], crop["video_metadata"]["fps"]) == (0, 30.0)


def test_an_image_with_bad_video_metadata_is_a_400() -> None:
    with pytest.raises(RuntimeInputError, match="'image': could not read video metadata"):
        run([], {"image": "$inputs.image"}, IMAGES, {"image": _image_with({"fps": 3})})


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        pytest.param(_image_with(FRAME), [45, "2024-05-01T10:00:01.500000+00:00", 1.5], id="given"),
        pytest.param("scene", [0, None, 0.0], id="still-image-defaults"),
    ],
)
def test_extract_frame_metadata_reads_the_images_metadata(image: Any, expected: list[Any]) -> None:
    properties = ("frame_number", "frame_timestamp", "seconds_since_start")
    steps = [
        step(
            "property_definition@v1",
            name,
            data="$inputs.image",
            operations=[{"type": "ExtractFrameMetadata", "property_name": name}],
        )
        for name in properties
    ]
    outputs = {name: f"$steps.{name}.output" for name in properties}
    result = run(steps, outputs, IMAGES, {"image": image}, serialize=True)[0]
    got = [result[name] for name in properties]
    if expected[1] is None:  # a still image's timestamp is "now"
        stamp = datetime.fromisoformat(got[1])
        assert abs((datetime.now(tz=UTC) - stamp).total_seconds()) < 60
        got[1] = None
    assert got == expected
