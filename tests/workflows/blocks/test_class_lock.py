"""``track_class_lock`` over the frames of a video: votes until a class leads by the margin, the
locked class (name, id, mean vote confidence) on every later detection, a switch only after a
streak of qualifying frames, re-attachment of a new tracker id to a lost locked track, state
expiry, state per video, the empty frame, and its manifest and input checks."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import supervision as sv
from pydantic import ValidationError

from tests.workflows.blocks.helpers import ScriptedModels, boxes, canvas, model_step, run, step
from visionflow.core.detections import CLASS_NAME
from visionflow.workflows import RunContext, StepInputs
from visionflow.workflows.blocks.class_lock import (
    CLASS_LOCKED,
    TrackClassLockManifest,
    TrackClassLockV1,
)
from visionflow.workflows.errors import InvalidInputTypeError
from visionflow.workflows.lineage import WorkflowImage
from visionflow.workflows.memory import StepMemory
from visionflow.workflows.video_metadata import VideoMetadata

NAMES = ["cat", "dog"]
SETTINGS = {
    "min_votes": 3,
    "vote_confidence": 0.5,
    "lead_margin": 1,
    "switch_after": 2,
    "state_ttl": 5,
    "reattach_window": 2,
    "reattach_iou": 0.3,
}
Seen = tuple[str, int, float, bool]


class Video:
    """Frames of one video through one block, with its state in the run memory."""

    def __init__(self, name: str = "cam", **settings: Any) -> None:
        self.name = name
        self.number = 0
        self.settings = {**SETTINGS, **settings}
        self.context = RunContext(models=ScriptedModels(), memory=StepMemory().scope("ws", "d"))

    def frame(self, *objects: tuple[int, str, float], video: str | None = None) -> list[Seen]:
        """``objects``: (tracker id, class, confidence), the i-th at [50 i, 0, 50 i + 10, 10]."""
        xyxy = [[50 * i, 0, 50 * i + 10, 10] for i in range(len(objects))]
        detections = boxes(
            xyxy, [c for _, _, c in objects], [NAMES.index(n) for _, n, _ in objects], NAMES
        )
        detections.tracker_id = np.array([t for t, _, _ in objects], dtype=int)
        return self.send(detections, video)

    def send(self, detections: sv.Detections, video: str | None = None) -> list[Seen]:
        metadata = VideoMetadata(video or self.name, self.number, datetime.now(tz=UTC), 30.0)
        self.number += 1
        values = {
            "image": WorkflowImage.from_input(canvas(), "image", metadata),
            "detections": detections,
            **self.settings,
        }
        [result] = TrackClassLockV1().run_batch([StepInputs("lock", "t", values)], self.context)
        assert isinstance(result, dict)
        out = result["tracked_detections"]
        return [
            (
                str(out.data[CLASS_NAME][i]),
                int(out.class_id[i]),
                round(float(out.confidence[i]), 4),
                bool(out.data[CLASS_LOCKED][i]),
            )
            for i in range(len(out))
        ]


def test_a_class_locks_after_enough_votes_with_a_lead() -> None:
    video = Video()
    assert video.frame((1, "cat", 0.9)) == [("cat", 0, 0.9, False)]
    assert video.frame((1, "dog", 0.9)) == [("dog", 1, 0.9, False)]
    assert video.frame((1, "cat", 0.8)) == [("cat", 0, 0.8, False)]
    # Third vote for cat, leading dog by 2: locked, confidence the mean of cat's votes.
    assert video.frame((1, "cat", 0.7)) == [("cat", 0, 0.8, True)]
    assert video.frame((1, "dog", 0.9)) == [("cat", 0, 0.8, True)]


def test_the_lock_switches_only_after_a_streak_of_qualifying_frames() -> None:
    video = Video()
    for name in ("cat", "cat", "cat"):
        video.frame((1, name, 0.9))
    assert video.frame((1, "dog", 0.9)) == [("cat", 0, 0.9, True)]  # streak 1
    assert video.frame((1, "dog", 0.3)) == [("cat", 0, 0.9, True)]  # below 0.5: streak broken
    assert video.frame((1, "dog", 0.9)) == [("cat", 0, 0.9, True)]  # streak 1 again
    # Streak 2 = switch_after: dog locks with the streak's votes (0.9 + 0.8) / 2.
    assert video.frame((1, "dog", 0.8)) == [("dog", 1, 0.85, True)]


def test_a_new_id_on_a_lost_locked_track_inherits_its_lock() -> None:
    video = Video()
    for _ in range(3):
        video.frame((1, "cat", 0.9))
    video.frame()  # track 1 lost
    # Id 9 appears where track 1 was (same box: IoU 1) within reattach_window frames.
    assert video.frame((9, "dog", 0.9), (2, "dog", 0.9))[0] == ("cat", 0, 0.9, True)


def test_no_reattachment_after_the_window() -> None:
    video = Video()
    for _ in range(3):
        video.frame((1, "cat", 0.9))
    for _ in range(3):
        video.frame()
    assert video.frame((9, "dog", 0.9)) == [("dog", 1, 0.9, False)]


def test_state_expires_after_state_ttl_frames() -> None:
    video = Video(reattach_window=0)  # track 2 takes track 1's place without inheriting it
    for _ in range(3):
        video.frame((1, "cat", 0.9))
    for _ in range(5):
        video.frame((2, "dog", 0.9))
    assert video.frame((1, "dog", 0.9)) == [("cat", 0, 0.9, True)]  # 5 frames unseen: kept
    for _ in range(6):
        video.frame((2, "dog", 0.9))
    assert video.frame((1, "dog", 0.9)) == [("dog", 1, 0.9, False)]  # 6 frames unseen: forgotten


def test_videos_do_not_share_votes() -> None:
    video = Video()
    for _ in range(3):
        video.frame((1, "cat", 0.9))
    assert video.frame((1, "dog", 0.9), video="door") == [("dog", 1, 0.9, False)]
    assert video.frame((1, "dog", 0.9)) == [("cat", 0, 0.9, True)]


def test_an_empty_frame() -> None:
    assert Video().send(sv.Detections.empty()) == []


def test_untracked_detections_are_refused() -> None:
    with pytest.raises(InvalidInputTypeError, match="tracker_id"):
        Video().send(boxes([[0, 0, 5, 5]]))


def test_reattach_window_may_not_exceed_state_ttl() -> None:
    step_fields = {"type": TrackClassLockV1.type, "name": "lock", "image": "$inputs.image"}
    step_fields["detections"] = "$steps.track.tracked_detections"
    with pytest.raises(ValidationError, match="reattach_window"):
        TrackClassLockManifest.model_validate(
            {**step_fields, "state_ttl": 10, "reattach_window": 20}
        )
    with pytest.raises(InvalidInputTypeError, match="reattach_window"):
        Video(state_ttl=10, reattach_window=20).frame((1, "cat", 0.9))


def test_tracker_then_class_lock_in_a_workflow() -> None:
    labels = iter(["cat", "cat", "dog", "cat", "dog"])
    models = ScriptedModels(
        {"m/1": lambda image: boxes([[10, 10, 50, 50]], [0.9], [NAMES.index(next(labels))], NAMES)}
    )
    context = RunContext(models=models, memory=StepMemory().scope("ws", "d"))
    steps = [
        model_step("det", "m/1"),
        step(
            "byte_tracker@v3", "track", image="$inputs.image", detections="$steps.det.predictions"
        ),
        step(
            "track_class_lock@v1",
            "lock",
            image="$inputs.image",
            detections="$steps.track.tracked_detections",
            min_votes=2,
            lead_margin=1,
        ),
    ]
    classes = []
    for number in range(5):
        metadata = {"video_identifier": "cam", "frame_number": number, "frame_timestamp": number}
        image = {"type": "numpy", "value": "frame", "video_metadata": metadata}
        [result] = run(
            steps,
            {"locked": "$steps.lock.tracked_detections"},
            {"frame": canvas()},
            {"image": image},
            models=models,
            context=context,
            serialize=True,
        )
        classes.append([p["class"] for p in result["locked"]["predictions"]])
    assert classes == [["cat"], ["cat"], ["cat"], ["cat"], ["cat"]]
