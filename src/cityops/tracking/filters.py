"""Fix filters, as Traccar's: accuracy, impossible jumps, duplicates, timestamps too far ahead or behind (pure).

A dropped fix is answered 200 (the phone must not resend it) and counted under its reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from cityops.geo.index import EARTH_RADIUS_M


class Drop(StrEnum):
    INVALID = "invalid"  # the device itself flagged the fix invalid (valid=false)
    NO_FIX = "no_fix"  # no coordinates and no earlier position to reuse
    ACCURACY = "accuracy"
    SPEED = "speed"  # impossible jump from the last accepted fix
    DUPLICATE = "duplicate"
    FUTURE = "future"
    PAST = "past"


@dataclass(frozen=True, slots=True)
class Limits:
    accuracy_m: float
    max_speed_mps: float
    future_s: float
    past_s: float
    # A jump is judged only against a recent fix; after a long gap any place is possible.
    jump_window_s: float = 600.0
    # After this many consecutive jump drops the *last accepted* fix is presumed to be the glitch.
    jump_reset: int = 3


@dataclass(frozen=True, slots=True)
class Last:
    """What the filters remember of a device: its newest accepted fix and the run of jump drops since."""

    t: float
    lat: float
    lon: float
    jumps: int = 0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Equirectangular distance: within 0.1 % of great-circle at city scale, and cheap on the ingest path."""
    k = math.pi / 180.0
    x = (lon2 - lon1) * k * math.cos((lat1 + lat2) * 0.5 * k)
    y = (lat2 - lat1) * k
    return EARTH_RADIUS_M * math.sqrt(x * x + y * y)


def evaluate(last: Last | None, t: float, lat: float, lon: float, accuracy_m: float | None, valid: bool,
             now: float, limits: Limits) -> tuple[Drop | None, Last | None]:
    """Decide one fix at epoch ``t``; returns (reason to drop or None, what to remember next)."""
    if not valid:
        return Drop.INVALID, last
    if t > now + limits.future_s:
        return Drop.FUTURE, last
    if t < now - limits.past_s:
        return Drop.PAST, last
    if accuracy_m is not None and accuracy_m > limits.accuracy_m:
        return Drop.ACCURACY, last
    if last is None:
        return None, Last(t, lat, lon)
    if t == last.t:
        return Drop.DUPLICATE, last
    if t < last.t:
        # A buffered fix arriving late: history takes it, the latest position stays.
        return None, last
    dt = t - last.t
    recent = dt <= limits.jump_window_s and last.jumps < limits.jump_reset
    if recent and distance_m(last.lat, last.lon, lat, lon) > limits.max_speed_mps * dt:
        return Drop.SPEED, Last(last.t, last.lat, last.lon, last.jumps + 1)
    return None, Last(t, lat, lon)
