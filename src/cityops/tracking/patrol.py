"""Patrol coverage (巡查覆盖率) and road-segment state (路段治理状态), pure: geometry and times in, numbers out.

A segment counts as traversed when the officer's track, widened by ``match_m`` on each side (GPS error), covers
at least ``min_share`` of the segment's length. The track is the line through consecutive fixes; a gap longer
than ``max_gap_s`` breaks it (a phone that was off did not walk the street in between).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPoint, Point
from shapely.geometry.base import BaseGeometry

MATCH_M = 25.0
MIN_SHARE = 0.8
MAX_GAP_S = 120.0


def track_geometry(points: Sequence[tuple[float, float, float]], max_gap_s: float = MAX_GAP_S) -> BaseGeometry | None:
    """(t, x, y) points in time order → the walked lines (and isolated fixes as points)."""
    pieces: list[list[tuple[float, float]]] = []
    last_t = None
    for t, x, y in points:
        if last_t is None or t - last_t > max_gap_s:
            pieces.append([])
        pieces[-1].append((x, y))
        last_t = t
    lines = [LineString(p) for p in pieces if len(p) >= 2]
    singles = [Point(p[0]) for p in pieces if len(p) == 1]
    parts: list[BaseGeometry] = []
    if lines:
        parts.append(MultiLineString(lines))
    if singles:
        parts.append(MultiPoint(singles))
    if not parts:
        return None
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def coverage(segments: Mapping[int, LineString], points: Sequence[tuple[float, float, float]], *,
             match_m: float = MATCH_M, min_share: float = MIN_SHARE, max_gap_s: float = MAX_GAP_S) -> dict[int, float]:
    """Share (0..1) of each segment's length the track passed along, by segment id."""
    track = track_geometry(points, max_gap_s)
    if track is None:
        return {sid: 0.0 for sid in segments}
    corridor = track.buffer(match_m)
    out = {}
    for sid, line in segments.items():
        length = line.length
        out[sid] = 1.0 if length == 0 else min(1.0, line.intersection(corridor).length / length)
    return out


def traversed(shares: Mapping[int, float], min_share: float = MIN_SHARE) -> set[int]:
    return {sid for sid, share in shares.items() if share >= min_share}


@dataclass(frozen=True)
class SegmentState:
    segment_id: int
    open_cases: int
    overdue_cases: int
    last_patrolled_at: datetime | None
    last_officer_id: int | None
    state: str  # overdue | open_cases | unpatrolled | ok


def segment_state(segment_id: int, *, open_cases: int, overdue_cases: int, last_patrolled_at: datetime | None,
                  last_officer_id: int | None, now: datetime, stale_s: float) -> SegmentState:
    """The map colour of a segment: overdue cases first, then open cases, then "not patrolled lately"."""
    if overdue_cases:
        state = "overdue"
    elif open_cases:
        state = "open_cases"
    elif last_patrolled_at is None or (now - last_patrolled_at).total_seconds() > stale_s:
        state = "unpatrolled"
    else:
        state = "ok"
    return SegmentState(segment_id, open_cases, overdue_cases, last_patrolled_at, last_officer_id, state)
