"""Track export: GeoJSON (RFC 7946) and GPX 1.1 (pure; points in, text/dicts out)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr


@dataclass(frozen=True)
class TrackPoint:
    at: datetime
    lat: float
    lon: float
    speed_mps: float | None = None
    bearing: float | None = None
    altitude: float | None = None
    accuracy_m: float | None = None


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def geojson(points: Sequence[TrackPoint], properties: dict[str, Any]) -> dict[str, Any]:
    """One Feature: a LineString of the track (a Point when there is one fix) with per-fix times alongside."""
    coords = [[round(p.lon, 7), round(p.lat, 7)] for p in points]
    geometry: dict[str, Any] | None
    if not coords:
        geometry = None
    elif len(coords) == 1:
        geometry = {"type": "Point", "coordinates": coords[0]}
    else:
        geometry = {"type": "LineString", "coordinates": coords}
    props = {**properties, "count": len(points), "times": [_iso(p.at) for p in points],
             "speeds_mps": [p.speed_mps for p in points]}
    return {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": geometry, "properties": props}]}


def gpx(points: Sequence[TrackPoint], name: str) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<gpx version="1.1" creator="cityops" xmlns="http://www.topografix.com/GPX/1/1">',
           f"<trk><name>{escape(name)}</name><trkseg>"]
    for p in points:
        inner = []
        if p.altitude is not None:
            inner.append(f"<ele>{p.altitude:.1f}</ele>")
        inner.append(f"<time>{_iso(p.at)}</time>")
        out.append(f"<trkpt lat={quoteattr(f'{p.lat:.7f}')} lon={quoteattr(f'{p.lon:.7f}')}>{''.join(inner)}</trkpt>")
    out.append("</trkseg></trk></gpx>")
    return "\n".join(out) + "\n"
