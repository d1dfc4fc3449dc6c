"""Arrival (到场) by position, pure parts: which open task a fix reaches, and what the timeline records.

A device-driven arrival carries the fix as a reference ``fix:<device id>:<epoch ms>:<accuracy m>`` in the
action's attachments; the case service records it, with the distance from the case, as evidence. A manual
arrival with coordinates records its distance too, and ``far_from_case`` when it is beyond the radius — allowed,
but visible to supervision.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


def fix_ref(device_id: int, at: datetime, accuracy_m: float | None) -> str:
    acc = "" if accuracy_m is None else f"{accuracy_m:g}"
    return f"{FIX_PREFIX}{device_id}:{int(at.timestamp() * 1000)}:{acc}"


def parse_fix_ref(ref: str) -> dict[str, Any] | None:
    if not ref.startswith(FIX_PREFIX):
        return None
    parts = ref[len(FIX_PREFIX):].split(":")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    try:
        accuracy = float(parts[2]) if parts[2] else None
    except ValueError:
        accuracy = None
    at = datetime.fromtimestamp(int(parts[1]) / 1000, UTC)
    return {"device_id": int(parts[0]), "at": at.isoformat(), "accuracy_m": accuracy}


def arrival_data(*, case_lat: float, case_lon: float, lat: float | None, lon: float | None, radius_m: float,
                 by_device: bool, refs: Sequence[str]) -> dict[str, Any]:
    """Timeline data of an `arrive` action: distance from the case, the far-away flag, the fix as evidence."""
    if lat is None or lon is None:
        return {"source": "position" if by_device else "manual"}
    distance = haversine_m(lat, lon, case_lat, case_lon)
    data: dict[str, Any] = {"source": "position" if by_device else "manual", "distance_m": round(distance, 1),
                            "far_from_case": distance > radius_m, "radius_m": radius_m}
    if by_device:
        for ref in refs:
            fix = parse_fix_ref(ref)
            if fix is not None:
                data["evidence"] = {"kind": "fix", "ref": ref, "lat": lat, "lon": lon, **fix}
                break
    return data
