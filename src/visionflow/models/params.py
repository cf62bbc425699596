"""Typed inference parameters, with the reference server's defaults."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DetectionParams"]


@dataclass(frozen=True)
class DetectionParams:
    """Post-processing parameters of detection-like tasks (wire reference §8.2 defaults)."""

    confidence: float = 0.4
    iou_threshold: float = 0.3
    class_agnostic_nms: bool = False
    max_detections: int = 300
    max_candidates: int = 3000
    class_filter: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be within [0, 1], got {self.confidence}")
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be within [0, 1], got {self.iou_threshold}")
        if self.max_detections < 0:
            raise ValueError(f"max_detections must be >= 0, got {self.max_detections}")
