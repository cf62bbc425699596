"""ByteTrack (Zhang et al., 2022) as supervision implemented it before moving trackers out of the
package: a constant-velocity Kalman filter per track, association of high-confidence detections
first and low-confidence ones second, and tracks kept lost for ``lost_track_buffer`` frames.

Not a block: ``tracking`` uses it. The optimal assignment is a small Hungarian solver, so no
dependency beyond numpy is needed."""

from __future__ import annotations

import itertools
from enum import Enum

import numpy as np
import numpy.typing as npt
import supervision as sv

from visionflow.core.boxes import box_iou_xyxy

__all__ = ["ByteTrack", "linear_assignment"]

Array = npt.NDArray[np.float64]
_POSITION, _VELOCITY = 1.0 / 20, 1.0 / 160


def _hungarian(cost: Array) -> list[tuple[int, int]]:
    """Minimum-cost assignment of the rows of ``cost`` (rows <= columns) to distinct columns."""
    rows, cols = cost.shape
    u, v = np.zeros(rows + 1), np.zeros(cols + 1)
    owner = np.zeros(cols + 1, dtype=int)  # owner[j]: 1-based row assigned to column j
    way = np.zeros(cols + 1, dtype=int)
    for row in range(1, rows + 1):
        owner[0] = row
        column = 0
        best = np.full(cols + 1, np.inf)
        used = np.zeros(cols + 1, dtype=bool)
        while True:
            used[column] = True
            current = owner[column]
            reduced = cost[current - 1] - u[current] - v[1:]
            free = ~used[1:]
            improve = free & (reduced < best[1:])
            best[1:][improve] = reduced[improve]
            way[1:][improve] = column
            candidates = np.where(free, best[1:], np.inf)
            nxt = int(np.argmin(candidates)) + 1
            delta = candidates[nxt - 1]
            u[owner[used]] += delta
            v[used] -= delta
            best[1:][free] -= delta
            column = nxt
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    return [(int(owner[j]) - 1, j - 1) for j in range(1, cols + 1) if owner[j]]


def linear_assignment(
    cost: Array, threshold: float
) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal matches of cost at most ``threshold``, unmatched rows, unmatched columns."""
    rows, cols = cost.shape
    if cost.size == 0:
        return [], list(range(rows)), list(range(cols))
    capped = np.minimum(cost, threshold + 1e-4)
    pairs = _hungarian(capped) if rows <= cols else [(r, c) for c, r in _hungarian(capped.T)]
    matches = sorted((r, c) for r, c in pairs if cost[r, c] <= threshold)
    matched_rows, matched_cols = {r for r, _ in matches}, {c for _, c in matches}
    return (
        matches,
        [r for r in range(rows) if r not in matched_rows],
        [c for c in range(cols) if c not in matched_cols],
    )


class _KalmanFilter:
    """State (cx, cy, aspect, h) and their velocities; constant-velocity motion."""

    def __init__(self) -> None:
        self.motion = np.eye(8)
        self.motion[:4, 4:] = np.eye(4)
        self.observe = np.eye(4, 8)

    def initiate(self, xyah: Array) -> tuple[Array, Array]:
        h = xyah[3]
        std = [2 * _POSITION * h, 2 * _POSITION * h, 1e-2, 2 * _POSITION * h]
        std += [10 * _VELOCITY * h, 10 * _VELOCITY * h, 1e-5, 10 * _VELOCITY * h]
        return np.r_[xyah, np.zeros(4)], np.diag(np.square(std))

    def predict(self, mean: Array, covariance: Array) -> tuple[Array, Array]:
        h = mean[3]
        std = [_POSITION * h, _POSITION * h, 1e-2, _POSITION * h]
        std += [_VELOCITY * h, _VELOCITY * h, 1e-5, _VELOCITY * h]
        mean = self.motion @ mean
        covariance = self.motion @ covariance @ self.motion.T + np.diag(np.square(std))
        return mean, covariance

    def update(self, mean: Array, covariance: Array, xyah: Array) -> tuple[Array, Array]:
        h = mean[3]
        noise = np.diag(np.square([_POSITION * h, _POSITION * h, 1e-1, _POSITION * h]))
        projected_mean = self.observe @ mean
        projected_cov = self.observe @ covariance @ self.observe.T + noise
        gain = np.linalg.solve(projected_cov, (covariance @ self.observe.T).T).T
        mean = mean + (xyah - projected_mean) @ gain.T
        covariance = covariance - gain @ projected_cov @ gain.T
        return mean, covariance


class _State(Enum):
    NEW = 0
    TRACKED = 1
    LOST = 2
    REMOVED = 3


class _Track:
    def __init__(self, xyxy: Array, score: float, min_frames: int) -> None:
        self.xyxy = np.asarray(xyxy, dtype=np.float64)
        self.score = score
        self.min_frames = min_frames
        self.mean: Array | None = None
        self.covariance: Array | None = None
        self.state = _State.NEW
        self.is_activated = False
        self.internal_id = -1
        self.external_id = -1
        self.frame_id = self.start_frame = self.tracklet_len = 0

    @property
    def box(self) -> Array:
        if self.mean is None:
            return self.xyxy
        cx, cy, aspect, h = self.mean[:4]
        w = aspect * h
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])

    def xyah(self) -> Array:
        x1, y1, x2, y2 = self.xyxy
        h = y2 - y1
        return np.array([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / h if h else 0.0, h])


class ByteTrack:
    """``update(detections)`` → the detections that belong to a confirmed track, with
    ``tracker_id`` set (ids from 1, per tracker)."""

    def __init__(
        self,
        track_activation_threshold: float = 0.25,
        lost_track_buffer: int = 30,
        minimum_matching_threshold: float = 0.8,
        frame_rate: float = 30,
        minimum_consecutive_frames: int = 1,
    ) -> None:
        self.activation = track_activation_threshold
        self.matching = minimum_matching_threshold
        self.new_track_threshold = track_activation_threshold + 0.1
        self.max_time_lost = int(frame_rate / 30.0 * lost_track_buffer)
        self.min_frames = minimum_consecutive_frames
        self.kalman = _KalmanFilter()
        self.frame_id = 0
        self.tracked: list[_Track] = []
        self.lost: list[_Track] = []
        self._internal = itertools.count()
        self._external = itertools.count(1)

    def update(self, detections: sv.Detections) -> sv.Detections:
        scores = (
            np.asarray(detections.confidence, dtype=np.float64)
            if detections.confidence is not None
            else np.ones(len(detections))
        )
        tracks = self._step(np.asarray(detections.xyxy, dtype=np.float64), scores)
        ids = np.full(len(detections), -1, dtype=int)
        if tracks:
            ious = box_iou_xyxy(
                np.asarray(detections.xyxy, dtype=np.float64), np.array([t.box for t in tracks])
            )
            matches, _rows, _cols = linear_assignment(1 - ious, 0.5)
            for detection, track in matches:
                ids[detection] = tracks[track].external_id
        result = detections[ids != -1]
        assert isinstance(result, sv.Detections)
        result.tracker_id = ids[ids != -1]
        return result

    # -- the algorithm ----------------------------------------------------------------------------

    def _activate(self, track: _Track) -> None:
        track.internal_id = next(self._internal)
        track.mean, track.covariance = self.kalman.initiate(track.xyah())
        track.state, track.tracklet_len = _State.TRACKED, 0
        track.is_activated = self.frame_id == 1
        if self.min_frames == 1:
            track.external_id = next(self._external)
        track.frame_id = track.start_frame = self.frame_id

    def _update(self, track: _Track, detection: _Track, reactivate: bool) -> None:
        assert track.mean is not None
        assert track.covariance is not None
        track.mean, track.covariance = self.kalman.update(
            track.mean, track.covariance, detection.xyah()
        )
        track.xyxy, track.score, track.frame_id = detection.xyxy, detection.score, self.frame_id
        track.state = _State.TRACKED
        if reactivate:
            track.tracklet_len = 0
            return
        track.tracklet_len += 1
        if track.tracklet_len == self.min_frames:
            track.is_activated = True
        if track.is_activated and track.external_id == -1:
            track.external_id = next(self._external)

    @staticmethod
    def _iou_cost(tracks: list[_Track], detections: list[_Track]) -> Array:
        if not tracks or not detections:
            return np.zeros((len(tracks), len(detections)))
        ious = box_iou_xyxy(
            np.array([t.box for t in tracks]), np.array([d.box for d in detections])
        )
        return 1 - np.asarray(ious, dtype=np.float64)

    @staticmethod
    def _fuse_score(cost: Array, detections: list[_Track]) -> Array:
        if cost.size == 0:
            return cost
        scores = np.array([d.score for d in detections], dtype=np.float64)
        return np.asarray(1 - (1 - cost) * scores[None, :], dtype=np.float64)

    def _associate(
        self, tracks: list[_Track], detections: list[_Track], cost: Array, threshold: float
    ) -> tuple[list[int], list[int], list[_Track]]:
        matches, unmatched_tracks, unmatched_dets = linear_assignment(cost, threshold)
        touched = []
        for t, d in matches:
            track = tracks[t]
            self._update(track, detections[d], reactivate=track.state != _State.TRACKED)
            touched.append(track)
        return unmatched_tracks, unmatched_dets, touched

    def _step(self, boxes: Array, scores: Array) -> list[_Track]:
        self.frame_id += 1
        high = [
            _Track(b, s, self.min_frames)
            for b, s in zip(boxes, scores, strict=True)
            if s > self.activation
        ]
        low = [
            _Track(b, s, self.min_frames)
            for b, s in zip(boxes, scores, strict=True)
            if 0.1 < s < self.activation
        ]
        unconfirmed = [t for t in self.tracked if not t.is_activated]
        confirmed = [t for t in self.tracked if t.is_activated]
        pool = confirmed + [t for t in self.lost if t not in confirmed]
        for track in pool:
            assert track.mean is not None
            assert track.covariance is not None
            mean = track.mean.copy()
            if track.state != _State.TRACKED:
                mean[7] = 0
            track.mean, track.covariance = self.kalman.predict(mean, track.covariance)
        cost = self._fuse_score(self._iou_cost(pool, high), high)
        left, left_high, touched = self._associate(pool, high, cost, self.matching)
        remaining = [pool[i] for i in left if pool[i].state == _State.TRACKED]
        still_left, _unused, touched_low = self._associate(
            remaining, low, self._iou_cost(remaining, low), 0.5
        )
        newly_lost = []
        for i in still_left:
            remaining[i].state = _State.LOST
            newly_lost.append(remaining[i])
        candidates = [high[i] for i in left_high]
        cost = self._fuse_score(self._iou_cost(unconfirmed, candidates), candidates)
        dropped, fresh, touched_new = self._associate(unconfirmed, candidates, cost, 0.7)
        for i in dropped:
            unconfirmed[i].state = _State.REMOVED
        started = []
        for i in fresh:
            if candidates[i].score >= self.new_track_threshold:
                self._activate(candidates[i])
                started.append(candidates[i])
        for track in self.lost:
            if self.frame_id - track.frame_id > self.max_time_lost:
                track.state = _State.REMOVED
        active = [t for t in self.tracked if t.state == _State.TRACKED]
        for track in touched + touched_low + touched_new + started:
            if track not in active:
                active.append(track)
        lost = [t for t in self.lost + newly_lost if t.state == _State.LOST and t not in active]
        self.tracked, self.lost = self._drop_duplicates(active, lost)
        return [t for t in self.tracked if t.is_activated]

    def _drop_duplicates(
        self, tracked: list[_Track], lost: list[_Track]
    ) -> tuple[list[_Track], list[_Track]]:
        cost = self._iou_cost(tracked, lost)
        drop_tracked, drop_lost = set(), set()
        for p, q in zip(*np.nonzero(cost < 0.15), strict=True):
            age_p = tracked[p].frame_id - tracked[p].start_frame
            age_q = lost[q].frame_id - lost[q].start_frame
            if age_p > age_q:
                drop_lost.add(int(q))
            else:
                drop_tracked.add(int(p))
        return (
            [t for i, t in enumerate(tracked) if i not in drop_tracked],
            [t for i, t in enumerate(lost) if i not in drop_lost],
        )
