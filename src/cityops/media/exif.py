"""When and where a file says it was recorded: EXIF of photos (Pillow) and the tags of video containers.

Cameras write local time without a zone unless ``OffsetTimeOriginal`` is present; such a time is read in the
bureau's zone (the phone was in the district). Positions of exactly 0,0 are what many cameras write without a
fix, so they count as "no position".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from PIL import ExifTags, Image


@dataclass(frozen=True)
class Capture:
    at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    source: str | None = None  # "exif" | "container"
    camera: str | None = None


_OFFSET_RE = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def parse_offset(value: str | None) -> tzinfo | None:
    m = _OFFSET_RE.match((value or "").strip())
    if not m:
        return None
    sign = -1 if m.group(1) == "-" else 1
    delta = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    if delta > timedelta(hours=14):
        return None
    return timezone(sign * delta)


def parse_exif_time(value: Any, offset: str | None, local: tzinfo) -> datetime | None:
    """``2026:11:30 09:15:30`` (+ optional ``+08:00``) → an aware UTC datetime; junk → None."""
    if not isinstance(value, str):
        return None
    try:
        naive = datetime.strptime(value.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=parse_offset(offset) or local).astimezone(UTC)


def dms_to_degrees(dms: Any, ref: Any) -> float | None:
    """EXIF degrees/minutes/seconds rationals plus N/S/E/W → signed decimal degrees."""
    if not isinstance(dms, Sequence) or len(dms) != 3:
        return None
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if not math.isfinite(value):
        return None
    ref_s = ref.decode("ascii", "replace") if isinstance(ref, bytes) else str(ref or "")
    return -value if ref_s.strip().upper() in ("S", "W") else value


def _position(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return round(lat, 7), round(lon, 7)


def from_image(im: Image.Image, local: tzinfo) -> Capture:
    exif = im.getexif()
    if not exif:
        return Capture()
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    at = parse_exif_time(sub.get(ExifTags.Base.DateTimeOriginal), sub.get(ExifTags.Base.OffsetTimeOriginal), local)
    if at is None:
        at = parse_exif_time(exif.get(ExifTags.Base.DateTime), sub.get(ExifTags.Base.OffsetTime), local)
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat, lon = _position(dms_to_degrees(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef)),
                         dms_to_degrees(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef)))
    make, model = exif.get(ExifTags.Base.Make), exif.get(ExifTags.Base.Model)
    camera = " ".join(str(x).strip("\x00 ") for x in (make, model) if x) or None
    source = "exif" if at or lat is not None else None
    return Capture(at, lat, lon, source, camera[:100] if camera else None)


# ISO 6709 as phones write it into MP4/MOV: "+35.0050+113.0050/" or "+35.0050+113.0050+120.5/"
_ISO6709_RE = re.compile(r"^([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)")


def parse_iso6709(value: str | None) -> tuple[float | None, float | None]:
    m = _ISO6709_RE.match((value or "").strip())
    if not m:
        return None, None
    return _position(float(m.group(1)), float(m.group(2)))


def parse_container_time(value: str | None) -> datetime | None:
    """MP4 ``creation_time`` is UTC (``2026-11-30T01:15:30.000000Z``); the epoch 1904/1970 means "unset"."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return None if at.year < 1990 else at.astimezone(UTC)


def from_container(tags: Mapping[str, str]) -> Capture:
    lower = {k.lower(): v for k, v in tags.items()}
    at = parse_container_time(lower.get("creation_time") or lower.get("com.apple.quicktime.creationdate"))
    lat, lon = parse_iso6709(lower.get("location") or lower.get("com.apple.quicktime.location.iso6709"))
    make, model = lower.get("com.apple.quicktime.make") or lower.get("make"), lower.get(
        "com.apple.quicktime.model") or lower.get("model")
    camera = " ".join(x for x in (make, model) if x) or None
    source = "container" if at or lat is not None else None
    return Capture(at, lat, lon, source, camera[:100] if camera else None)
