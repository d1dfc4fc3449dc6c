"""The OsmAnd protocol as Traccar Client speaks it, parsed into :class:`RawFix` (pure: no I/O, no clock).

Two wire formats:

* query/form (Traccar Client ≤ 8, OsmAnd, many scripts): ``id`` or ``deviceid``; ``lat`` + ``lon`` or
  ``location=lat,lon``; ``timestamp`` as epoch seconds, epoch milliseconds, ISO 8601 or ``yyyy-MM-dd HH:mm:ss``
  (UTC); ``speed`` in knots; ``bearing``/``heading``; ``altitude``; ``accuracy``; ``hdop``; ``batt`` (percent);
  ``charge``; ``alarm``; ``valid``; every other key is kept as an attribute. Sent as GET or POST, in the query
  string or as a form body.
* JSON (Traccar Client 9+): ``{"device_id", "location": {"timestamp", "coords": {"latitude", "longitude",
  "accuracy", "speed" (m/s), "heading", "altitude"}, "is_moving", "odometer", "event", "battery": {"level" 0..1,
  "is_charging"}, "activity": {"type"}, "extras": {}}}``; ``location`` may also be a list (a buffered batch).

Malformed input raises :class:`ProtocolError` naming the field; nothing here decides whether a fix is kept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

KNOT_MPS = 1852.0 / 3600.0
# Traccar's rule: an integer timestamp below 2^31 is seconds, anything larger milliseconds.
_MS_THRESHOLD = 2**31 - 1
# Fixes outside these years are not believable at all (a zeroed RTC gives 1970, an overflow gives year 50000).
MIN_YEAR, MAX_YEAR = 2000, 2100
_MIN_EPOCH = datetime(MIN_YEAR, 1, 1, tzinfo=UTC).timestamp()
_MAX_EPOCH = datetime(MAX_YEAR, 1, 1, tzinfo=UTC).timestamp()
# Python's float() also takes "nan", "inf", "1_000" and surrounding blanks; the protocol means plain decimals.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")
_INTEGER = re.compile(r"\d{1,16}")
IDENTIFIER = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
MAX_ATTRIBUTES = 40
MAX_ATTRIBUTE_CHARS = 200
# Keys with a meaning of their own; everything else becomes an attribute.
_KNOWN = frozenset({"id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing", "heading",
                    "altitude", "accuracy", "hdop", "batt", "charge", "alarm", "valid", "token"})


class ProtocolError(ValueError):
    def __init__(self, message: str, field: str, reason: str = "malformed") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.reason = reason  # counter name: malformed | out_of_range


# Bounds for decoding the batch endpoint's flat items straight into RawFix (batch.py); the parsers below check
# the same and more by hand. Finite bounds on every float also keep inf out (JSON has no NaN).
_Lat = Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)]
_Lon = Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)]
_Metres = Annotated[float, msgspec.Meta(ge=0.0, le=1e6)]
_Speed = Annotated[float, msgspec.Meta(ge=0.0, le=1000.0)]
_Bearing = Annotated[float, msgspec.Meta(ge=0.0, lt=360.0)]
_Altitude = Annotated[float, msgspec.Meta(ge=-1e5, le=1e5)]
_Pct = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]
_Id = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:\-]{1,64}$")]
_Attr = Annotated[str, msgspec.Meta(max_length=200)] | int | Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)] | bool


class RawFix(msgspec.Struct, forbid_unknown_fields=True):
    """One report as the device sent it, in SI units; ``lat``/``lon``/``at`` may be missing (see ingest).

    A msgspec Struct: the batch endpoint's well-formed flat items decode into it directly, checked in C."""

    device: _Id = msgspec.field(name="device_id")
    lat: _Lat | None = None
    lon: _Lon | None = None
    at: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    speed_mps: _Speed | None = None
    bearing: _Bearing | None = None
    altitude: _Altitude | None = None
    accuracy_m: _Metres | None = None
    battery: _Pct | None = None  # percent
    charging: bool | None = None
    alarm: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    valid: bool = True
    attributes: Annotated[dict[Annotated[str, msgspec.Meta(max_length=40)], _Attr],
                          msgspec.Meta(max_length=40)] | None = None


def number(value: str, field: str) -> float:
    if not _NUMBER.fullmatch(value):
        raise ProtocolError(f"{field} is not a number: {value[:40]!r}", field)
    v = float(value)
    if not math.isfinite(v):
        raise ProtocolError(f"{field} is out of range", field, "out_of_range")
    return v


def json_number(value: Any, field: str) -> float | None:
    if value is None:
        return None
    # bool is an int in Python, but `true` is not a coordinate.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"{field} must be a number", field)
    v = float(value)
    if not math.isfinite(v):
        raise ProtocolError(f"{field} must be finite", field, "out_of_range")
    return v


def check_lat_lon(lat: float | None, lon: float | None) -> None:
    if lat is not None and not -90.0 <= lat <= 90.0:
        raise ProtocolError(f"lat {lat} is outside -90..90", "lat", "out_of_range")
    if lon is not None and not -180.0 <= lon <= 180.0:
        raise ProtocolError(f"lon {lon} is outside -180..180", "lon", "out_of_range")


def _epoch(value: float, field: str) -> datetime:
    if value > _MS_THRESHOLD:
        value /= 1000.0
    if not _MIN_EPOCH <= value < _MAX_EPOCH:
        raise ProtocolError(f"{field} is not a believable time (years {MIN_YEAR}–{MAX_YEAR})", field, "out_of_range")
    return datetime.fromtimestamp(value, UTC)


def timestamp(value: str, field: str = "timestamp") -> datetime:
    """Epoch seconds or milliseconds, ISO 8601, or ``yyyy-MM-dd HH:mm:ss``; a time without zone is UTC."""
    value = value.strip()
    if _INTEGER.fullmatch(value):
        return _epoch(float(value), field)
    if _NUMBER.fullmatch(value):
        return _epoch(number(value, field), field)
    try:
        t = datetime.fromisoformat(value)  # also takes "yyyy-MM-dd HH:mm:ss" and a trailing Z
    except ValueError:
        raise ProtocolError(f"{field} is not a time: {value[:40]!r}", field) from None
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if not MIN_YEAR <= t.year < MAX_YEAR:
        raise ProtocolError(f"{field} is not a believable time (years {MIN_YEAR}–{MAX_YEAR})", field, "out_of_range")
    return t


def _bool(value: str) -> bool | None:
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    return None


def _attribute(value: str) -> Any:
    if _NUMBER.fullmatch(value):
        return float(value)
    b = _bool(value) if value in ("true", "false") else None
    return b if b is not None else value[:MAX_ATTRIBUTE_CHARS]


def parse_query(params: Iterable[tuple[str, str]]) -> RawFix:
    """Parse the query/form format; the first value of a repeated key wins."""
    seen: dict[str, str] = {}
    for k, v in params:
        if k not in seen:
            seen[k] = v
    device = seen.get("id") or seen.get("deviceid")
    if not device:
        raise ProtocolError("id (or deviceid) is required", "id")
    if not IDENTIFIER.fullmatch(device):
        raise ProtocolError("id must be 1–64 letters, digits or _ . : -", "id")
    fix = RawFix(device)
    if "location" in seen:
        parts = seen["location"].split(",")
        if len(parts) != 2:
            raise ProtocolError("location must be 'lat,lon'", "location")
        fix.lat, fix.lon = number(parts[0], "location"), number(parts[1], "location")
    if "lat" in seen or "lon" in seen:
        if "lat" not in seen or "lon" not in seen:
            raise ProtocolError("lat and lon come together", "lat" if "lat" not in seen else "lon")
        fix.lat, fix.lon = number(seen["lat"], "lat"), number(seen["lon"], "lon")
    check_lat_lon(fix.lat, fix.lon)
    if "timestamp" in seen:
        fix.at = timestamp(seen["timestamp"])
    if "speed" in seen:
        fix.speed_mps = _non_negative(number(seen["speed"], "speed"), "speed") * KNOT_MPS
    heading = seen.get("bearing", seen.get("heading"))
    if heading is not None:
        fix.bearing = number(heading, "bearing") % 360.0
    if "altitude" in seen:
        fix.altitude = number(seen["altitude"], "altitude")
    if "accuracy" in seen:
        fix.accuracy_m = _non_negative(number(seen["accuracy"], "accuracy"), "accuracy")
    if "batt" in seen:
        fix.battery = _percent(number(seen["batt"], "batt"), "batt")
    if "charge" in seen:
        fix.charging = _bool(seen["charge"])
    if "alarm" in seen:
        fix.alarm = seen["alarm"][:32]
    if "valid" in seen:
        fix.valid = _bool(seen["valid"]) is not False
    attrs: dict[str, Any] = {}
    if "hdop" in seen:
        attrs["hdop"] = number(seen["hdop"], "hdop")
    for k, v in seen.items():
        if k not in _KNOWN and len(attrs) < MAX_ATTRIBUTES:
            attrs[k[:40]] = _attribute(v)
    fix.attributes = attrs or None
    return fix


def _non_negative(v: float, field: str) -> float:
    if v < 0:
        raise ProtocolError(f"{field} must not be negative", field, "out_of_range")
    return v


def _percent(v: float, field: str) -> float:
    if not 0.0 <= v <= 100.0:
        raise ProtocolError(f"{field} must be 0..100", field, "out_of_range")
    return v


def parse_json(body: Any) -> list[RawFix]:
    """Parse the Traccar Client 9 JSON body; ``location`` may be one object or a list of them."""
    if not isinstance(body, Mapping):
        raise ProtocolError("the body must be a JSON object", "body")
    device = body.get("device_id")
    if not isinstance(device, str | int) or isinstance(device, bool) or not IDENTIFIER.fullmatch(str(device)):
        raise ProtocolError("device_id is required (1–64 letters, digits or _ . : -)", "device_id")
    locations = body.get("location")
    if isinstance(locations, Mapping):
        locations = [locations]
    if not isinstance(locations, list) or not locations:
        raise ProtocolError("location must be an object (or a list of them)", "location")
    return [_json_location(str(device), loc, f"location[{i}]" if len(locations) > 1 else "location")
            for i, loc in enumerate(locations)]


def _json_location(device: str, loc: Any, where: str) -> RawFix:
    if not isinstance(loc, Mapping):
        raise ProtocolError(f"{where} must be an object", where)
    fix = RawFix(device)
    ts = loc.get("timestamp")
    if ts is not None:
        if isinstance(ts, str):
            fix.at = timestamp(ts, f"{where}.timestamp")
        else:
            v = json_number(ts, f"{where}.timestamp")
            assert v is not None
            fix.at = _epoch(v, f"{where}.timestamp")
    coords = loc.get("coords")
    if coords is not None:
        if not isinstance(coords, Mapping):
            raise ProtocolError(f"{where}.coords must be an object", f"{where}.coords")
        c = f"{where}.coords"
        fix.lat = json_number(coords.get("latitude"), f"{c}.latitude")
        fix.lon = json_number(coords.get("longitude"), f"{c}.longitude")
        if (fix.lat is None) != (fix.lon is None):
            raise ProtocolError("latitude and longitude come together", f"{c}.latitude")
        check_lat_lon(fix.lat, fix.lon)
        acc = json_number(coords.get("accuracy"), f"{c}.accuracy")
        fix.accuracy_m = None if acc is None or acc < 0 else acc
        speed = json_number(coords.get("speed"), f"{c}.speed")
        fix.speed_mps = None if speed is None or speed < 0 else speed  # -1 means "unknown" on iOS and Android
        heading = json_number(coords.get("heading"), f"{c}.heading")
        fix.bearing = None if heading is None or heading < 0 else heading % 360.0
        fix.altitude = json_number(coords.get("altitude"), f"{c}.altitude")
    battery = loc.get("battery")
    if isinstance(battery, Mapping):
        level = json_number(battery.get("level"), f"{where}.battery.level")
        if level is not None and level >= 0:  # -1: unknown
            if level > 1:
                raise ProtocolError("battery.level must be 0..1", f"{where}.battery.level", "out_of_range")
            fix.battery = round(level * 100.0, 1)
        charging = battery.get("is_charging")
        fix.charging = charging if isinstance(charging, bool) else None
    attrs: dict[str, Any] = {}
    for key in ("is_moving", "odometer", "event", "mock"):
        v = loc.get(key)
        if isinstance(v, bool | int | float | str) and not (isinstance(v, float) and not math.isfinite(v)):
            attrs[key] = v[:MAX_ATTRIBUTE_CHARS] if isinstance(v, str) else v
    activity = loc.get("activity")
    if isinstance(activity, Mapping) and isinstance(activity.get("type"), str):
        attrs["activity"] = activity["type"][:40]
    extras = loc.get("extras")
    if isinstance(extras, Mapping):
        for k, v in list(extras.items())[:MAX_ATTRIBUTES]:
            if isinstance(v, bool | int | str) or (isinstance(v, float) and math.isfinite(v)):
                attrs[str(k)[:40]] = v[:MAX_ATTRIBUTE_CHARS] if isinstance(v, str) else v
        alarm = extras.get("alarm")
        if isinstance(alarm, str):
            fix.alarm = alarm[:32]
    fix.attributes = attrs or None
    return fix

