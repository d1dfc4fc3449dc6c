"""The project's own batch and stream format (batch endpoint, field-app WebSocket), pure.

An item is the Traccar JSON shape (has ``location``) or the flat shape ``{"device_id", "lat", "lon", "at",
"speed_mps", "bearing", "altitude", "accuracy_m", "battery", "charging", "alarm", "attributes"}`` where ``at`` is
ISO 8601 or epoch seconds/milliseconds — SI units throughout, unlike OsmAnd's knots.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import msgspec

from cityops.tracking.osmand import (
    IDENTIFIER,
    MAX_ATTRIBUTE_CHARS,
    MAX_ATTRIBUTES,
    ProtocolError,
    RawFix,
    _epoch,
    _non_negative,
    _percent,
    check_lat_lon,
    json_number,
    parse_json,
    timestamp,
)


def parse_item(item: Any, where: str) -> list[RawFix]:
    """One item of the batch endpoint / field-app stream: the Traccar JSON shape (has ``location``) or the flat
    shape ``{"device_id", "lat", "lon", "at", "speed_mps", "bearing", "altitude", "accuracy_m", "battery",
    "charging", "alarm", "attributes"}`` where ``at`` is ISO 8601 or epoch seconds/milliseconds."""
    if not isinstance(item, Mapping):
        raise ProtocolError(f"{where} must be an object", where)
    if "location" in item:
        return parse_json(item)
    device = item.get("device_id")
    if not isinstance(device, str | int) or isinstance(device, bool) or not IDENTIFIER.fullmatch(str(device)):
        raise ProtocolError(f"{where}.device_id is required", f"{where}.device_id")
    fix = RawFix(str(device))
    fix.lat = json_number(item.get("lat"), f"{where}.lat")
    fix.lon = json_number(item.get("lon"), f"{where}.lon")
    if (fix.lat is None) != (fix.lon is None):
        raise ProtocolError("lat and lon come together", f"{where}.lat")
    check_lat_lon(fix.lat, fix.lon)
    at = item.get("at")
    if isinstance(at, str):
        fix.at = timestamp(at, f"{where}.at")
    elif at is not None:
        v = json_number(at, f"{where}.at")
        assert v is not None
        fix.at = _epoch(v, f"{where}.at")
    speed = json_number(item.get("speed_mps"), f"{where}.speed_mps")
    fix.speed_mps = None if speed is None else _non_negative(speed, f"{where}.speed_mps")
    bearing = json_number(item.get("bearing"), f"{where}.bearing")
    fix.bearing = None if bearing is None else bearing % 360.0
    fix.altitude = json_number(item.get("altitude"), f"{where}.altitude")
    acc = json_number(item.get("accuracy_m"), f"{where}.accuracy_m")
    fix.accuracy_m = None if acc is None else _non_negative(acc, f"{where}.accuracy_m")
    battery = json_number(item.get("battery"), f"{where}.battery")
    fix.battery = None if battery is None else _percent(battery, f"{where}.battery")
    charging = item.get("charging")
    fix.charging = charging if isinstance(charging, bool) else None
    alarm = item.get("alarm")
    fix.alarm = alarm[:32] if isinstance(alarm, str) else None
    attrs = item.get("attributes")
    if isinstance(attrs, Mapping) and attrs:
        fix.attributes = {str(k)[:40]: v[:MAX_ATTRIBUTE_CHARS] if isinstance(v, str) else v
                          for k, v in list(attrs.items())[:MAX_ATTRIBUTES]
                          if isinstance(v, bool | int | str) or (isinstance(v, float) and math.isfinite(v))}
    return [fix]


# ---- fast path --------------------------------------------------------------------------------------------------
# A well-formed JSON array of flat items decodes straight into RawFix, every bound checked in C by msgspec: no
# Python per item but the lat/lon pairing. Anything it refuses — a Traccar-shaped item, an epoch number, a naive
# time, a bearing of 400° — goes the slow way (parse_item), which normalises or names the bad item and field.

_fast = msgspec.json.Decoder(list[RawFix])


def parse_batch_fast(body: bytes) -> list[RawFix] | None:
    """The fixes of a JSON array of flat items, or None when the slow path must look at it."""
    try:
        fixes = _fast.decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    for f in fixes:
        if (f.lat is None) != (f.lon is None):
            return None
    return fixes
