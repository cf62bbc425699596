"""Video metadata for stateful blocks (trackers, line counters, time in zone).

A ``video_metadata`` value may come from a ``WorkflowBatchInput`` of kind ``video_metadata``
(a dict as the reference's ``VideoMetadata`` serializes: ``video_identifier``, ``frame_number``,
``frame_timestamp``, ``fps``...). Images carry none here, so blocks that read it from an image
get the reference's defaults for a still image: the image's id as the video, frame 0, now,
30 fps.

State lives for one run: a block keeps it in ``run_batch`` per video, as the reference's HTTP
server (which builds its execution engine per request) effectively does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from visionflow.workflows.lineage import WorkflowImage

__all__ = ["VideoMetadata"]


@dataclass(frozen=True)
class VideoMetadata:
    video_identifier: str
    frame_number: int
    frame_timestamp: datetime
    fps: float | None = 30.0
    comes_from_video_file: bool | None = None

    @property
    def seconds(self) -> float:
        """The frame's time in seconds: from its number for frames of a video file (with a frame
        rate), else its timestamp."""
        if self.comes_from_video_file and self.fps:
            return self.frame_number / self.fps
        return self.frame_timestamp.timestamp()

    @classmethod
    def of_image(cls, image: WorkflowImage) -> VideoMetadata:
        return cls(image.lineage.image_id, 0, datetime.now(tz=UTC), 30.0)

    @classmethod
    def parse(cls, value: Any) -> VideoMetadata:
        """From a dict (or an object with the same attributes); ``ValueError`` if unusable."""
        if isinstance(value, VideoMetadata):
            return value

        def get(name: str, default: Any = None) -> Any:
            if isinstance(value, dict):
                return value.get(name, default)
            return getattr(value, name, default)

        identifier = get("video_identifier")
        if identifier is None:
            raise ValueError("video metadata needs a video_identifier")
        stamp = get("frame_timestamp")
        if isinstance(stamp, str):
            try:
                stamp = datetime.fromisoformat(stamp)
            except ValueError:
                raise ValueError(f"frame_timestamp {stamp!r} is not ISO 8601") from None
        elif isinstance(stamp, int | float) and not isinstance(stamp, bool):
            stamp = datetime.fromtimestamp(stamp, tz=UTC)
        elif stamp is None:
            stamp = datetime.now(tz=UTC)
        if not isinstance(stamp, datetime):
            raise ValueError(f"frame_timestamp {stamp!r} is not a time")
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        fps = get("fps", 30.0)
        try:
            return cls(
                str(identifier),
                int(get("frame_number", 0) or 0),
                stamp,
                float(fps) if fps is not None else None,
                bool(get("comes_from_video_file")) if get("comes_from_video_file") else None,
            )
        except (TypeError, ValueError):
            raise ValueError("video metadata: frame_number and fps must be numbers") from None
