"""Arrival (到场) by position, pure parts: which open task a fix reaches, and what the timeline records.

A device-driven arrival hands the fix to the case service (``position_evidence``), which records it with the
distance from the case on the timeline. A manual arrival with coordinates records its distance too, and
``far_from_case`` when it is beyond the radius — allowed, but visible to supervision.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityops.geo.index import haversine_m

# Case statuses from which `arrive` applies (see case/workflow.py).
ARRIVABLE = ("accepted", "en_route")
FIX_PREFIX = "fix:"


@dataclass(frozen=True)
class Task:
    case_id: int
    lat: float
    lon: float
    status: str


def reached(tasks: Iterable[Task], lat: float, lon: float, radius_m: float) -> list[tuple[Task, float]]:
    """Tasks (and distances) within ``radius_m`` of the fix, nearest first."""
    hits = [(t, haversine_m(lat, lon, t.lat, t.lon)) for t in tasks if t.status in ARRIVABLE]
    return sorted(((t, d) for t, d in hits if d <= radius_m), key=lambda h: (h[1], h[0].case_id))


def fix_evidence(device_id: int, at: datetime, accuracy_m: float | None, lat: float, lon: float) -> dict[str, Any]:
    return {"kind": "fix", "ref": f"{FIX_PREFIX}{device_id}:{int(at.timestamp() * 1000)}", "device_id": device_id,
            "at": at.isoformat(), "lat": lat, "lon": lon, "accuracy_m": accuracy_m}


# The fix behind an automatic arrival, handed to the case service for the timeline. Set only around that one
# act() call by ingest.arrive(); a context variable because ActionIn (the case API's contract) has no field for it.
position_evidence: ContextVar[dict[str, Any] | None] = ContextVar("position_evidence", default=None)


def arrival_data(*, case_lat: float, case_lon: float, lat: float | None, lon: float | None, radius_m: float,
                 by_device: bool) -> dict[str, Any]:
    """Timeline data of an `arrive` action: distance from the case, the far-away flag, the fix as evidence."""
    evidence = position_evidence.get() if by_device else None
    source = "position" if evidence is not None else "manual"
    if lat is None or lon is None:
        return {"source": source}
    distance = haversine_m(lat, lon, case_lat, case_lon)
    data: dict[str, Any] = {"source": source, "distance_m": round(distance, 1), "far_from_case": distance > radius_m,
                            "radius_m": radius_m}
    if evidence is not None:
        data["evidence"] = evidence
    return data
