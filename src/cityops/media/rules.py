"""Evidence rules, pure: who may attach in which role, and when a file's own place/time disagrees with the case.

A disagreement is flagged, never refused: a photo with a wrong camera clock is still evidence, but a reviewer
must see that its EXIF says it was taken somewhere (or sometime) else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class EvidenceRole(StrEnum):
    BEFORE = "before"  # 处置前: the problem as found
    DURING = "during"  # 处置中: the enforcement as it happened (全过程记录)
    AFTER = "after"  # 处置后: the result
    RESIDENT_PHOTO = "resident_photo"  # 公众上报照片
    AUDIO_NOTE = "audio_note"  # 语音说明


# Which kinds of file each role takes.
ROLE_KINDS: dict[EvidenceRole, frozenset[str]] = {
    EvidenceRole.BEFORE: frozenset({"image", "video"}),
    EvidenceRole.DURING: frozenset({"image", "video", "audio"}),
    EvidenceRole.AFTER: frozenset({"image", "video"}),
    EvidenceRole.RESIDENT_PHOTO: frozenset({"image"}),
    EvidenceRole.AUDIO_NOTE: frozenset({"audio"}),
}


class Flag(StrEnum):
    EXIF_PLACE_FAR = "exif_place_far"  # the file's GPS is far from the case
    EXIF_TIME_OUTSIDE_CASE = "exif_time_outside_case"  # recorded long before the report, or after the attach
    EXIF_DEVICE_TIME_MISMATCH = "exif_device_time_mismatch"  # the file's clock and the device's report differ
    EXIF_DEVICE_PLACE_MISMATCH = "exif_device_place_mismatch"  # the file's GPS and the device's position differ
    DEVICE_PLACE_FAR = "device_place_far"  # the device says it was far from the case
    DEVICE_TIME_OUTSIDE_CASE = "device_time_outside_case"  # the device's time is before the report or in future


EARTH_RADIUS_M = 6_371_008.8


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance; plenty for "is it within a few hundred metres"."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Observed:
    """What the file and the device claim, next to what the case says."""

    case_lat: float
    case_lon: float
    reported_at: datetime  # the case's report time
    attached_at: datetime  # now
    file_at: datetime | None = None
    file_lat: float | None = None
    file_lon: float | None = None
    device_at: datetime | None = None
    device_lat: float | None = None
    device_lon: float | None = None


def _outside(at: datetime, o: Observed, slack: timedelta) -> bool:
    return at < o.reported_at - slack or at > o.attached_at + slack


def _pos(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    return (lat, lon) if lat is not None and lon is not None else None


def disagreements(o: Observed, *, place_limit_m: float, time_limit: timedelta) -> list[Flag]:
    """Flags, in a fixed order, for every claim further than the limits from the case or from each other."""

    def far(a: tuple[float, float], b: tuple[float, float]) -> bool:
        return distance_m(a[0], a[1], b[0], b[1]) > place_limit_m

    case_pos = (o.case_lat, o.case_lon)
    file_pos, device_pos = _pos(o.file_lat, o.file_lon), _pos(o.device_lat, o.device_lon)
    flags: list[Flag] = []
    if file_pos and far(file_pos, case_pos):
        flags.append(Flag.EXIF_PLACE_FAR)
    if o.file_at is not None and _outside(o.file_at, o, time_limit):
        flags.append(Flag.EXIF_TIME_OUTSIDE_CASE)
    if o.file_at is not None and o.device_at is not None and abs(o.file_at - o.device_at) > time_limit:
        flags.append(Flag.EXIF_DEVICE_TIME_MISMATCH)
    if file_pos and device_pos and far(file_pos, device_pos):
        flags.append(Flag.EXIF_DEVICE_PLACE_MISMATCH)
    if device_pos and far(device_pos, case_pos):
        flags.append(Flag.DEVICE_PLACE_FAR)
    if o.device_at is not None and _outside(o.device_at, o, time_limit):
        flags.append(Flag.DEVICE_TIME_OUTSIDE_CASE)
    return flags
