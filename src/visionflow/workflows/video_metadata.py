"""Video metadata of a frame (kind ``video_metadata``), as the reference's ``VideoMetadata``.

A request supplies it through a ``WorkflowVideoMetadata`` input (or a ``WorkflowBatchInput`` of
kind ``video_metadata``), one dict per frame, or with an image:
``{"type": "base64", "value": ..., "video_metadata": {...}}``. The dict's fields are
``video_identifier`` (str) and ``frame_number`` (int), required; ``frame_timestamp`` (ISO 8601
or a Unix time), required; ``fps``, ``measured_fps`` (numbers), ``comes_from_video_file``
(bool) and ``total_frames`` (int), optional. Stateful blocks (trackers, line counters, time in
zone) key their state by ``video_identifier``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["VideoMetadata"]

_FIELDS = (
    "video_identifier",
    "frame_number",
    "frame_timestamp",
    "fps",
    "measured_fps",
    "comes_from_video_file",
    "total_frames",
)


def _number(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"frame_timestamp {value!r} is not an ISO 8601 time") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        stamp = datetime.fromtimestamp(value, tz=UTC)
    else:
        raise ValueError(f"frame_timestamp {value!r} is not a time")
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


@dataclass(frozen=True)
class VideoMetadata:
    video_identifier: str
    frame_number: int
    frame_timestamp: datetime
    fps: float | None = None
    measured_fps: float | None = None
    comes_from_video_file: bool | None = None
    total_frames: int | None = None  # of the source video file, when its container says

    @property
    def seconds(self) -> float:
        """The frame's time in seconds: from its number for frames of a video file (with a frame
        rate), else its timestamp."""
        if self.comes_from_video_file and self.fps:
            return self.frame_number / self.fps
        return self.frame_timestamp.timestamp()

    @property
    def seconds_since_start(self) -> float:
        """``frame_number / fps`` (30 fps when the rate is unknown)."""
        return self.frame_number / (self.fps or 30.0)

    @classmethod
    def default_for(cls, image_id: str) -> VideoMetadata:
        """What the reference assumes for an image that came without metadata: the image is its
        own video, frame 0, now, 30 fps."""
        return cls(image_id, 0, datetime.now(tz=UTC), 30.0)

    @classmethod
    def from_dict(cls, value: Any) -> VideoMetadata:
        """Strict parse of the wire form; ``ValueError`` saying what is wrong."""
        if isinstance(value, VideoMetadata):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected a video metadata object, got {type(value).__name__}")
        missing = [name for name in _FIELDS[:3] if value.get(name) is None]
        if missing:
            raise ValueError(f"video metadata needs {', '.join(missing)}")
        identifier, number = value["video_identifier"], value["frame_number"]
        if not isinstance(identifier, str):
            raise ValueError(f"video_identifier must be a string, got {identifier!r}")
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"frame_number must be an integer, got {number!r}")
        from_file = value.get("comes_from_video_file")
        if from_file is not None and not isinstance(from_file, bool):
            raise ValueError(f"comes_from_video_file must be a boolean, got {from_file!r}")
        total = value.get("total_frames")
        if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
            raise ValueError(f"total_frames must be an integer, got {total!r}")
        return cls(
            identifier,
            number,
            _timestamp(value["frame_timestamp"]),
            _number(value.get("fps"), "fps"),
            _number(value.get("measured_fps"), "measured_fps"),
            from_file,
            total,
        )

    @classmethod
    def parse(cls, value: Any) -> VideoMetadata:
        """Lenient parse for values that reach a block (a step output, an old-style batch
        input): only ``video_identifier`` is required; frame 0, now and 30 fps by default."""
        if isinstance(value, VideoMetadata):
            return value

        def get(name: str) -> Any:
            return value.get(name) if isinstance(value, dict) else getattr(value, name, None)

        identifier = get("video_identifier")
        if identifier is None:
            raise ValueError("video metadata needs a video_identifier")
        stamp = get("frame_timestamp")
        fps = get("fps")
        try:
            return cls(
                str(identifier),
                int(get("frame_number") or 0),
                datetime.now(tz=UTC) if stamp is None else _timestamp(stamp),
                30.0 if fps is None else _number(fps, "fps"),
                _number(get("measured_fps"), "measured_fps"),
                bool(get("comes_from_video_file")) if get("comes_from_video_file") else None,
                None if get("total_frames") is None else int(get("total_frames")),
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"video metadata: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (``frame_timestamp`` in ISO 8601)."""
        return {
            "video_identifier": self.video_identifier,
            "frame_number": self.frame_number,
            "frame_timestamp": self.frame_timestamp.isoformat(),
            "fps": self.fps,
            "measured_fps": self.measured_fps,
            "comes_from_video_file": self.comes_from_video_file,
            "total_frames": self.total_frames,
        }
