"""Deadline engine: working calendars, time units and pure deadline arithmetic (时限计算)."""

from __future__ import annotations

from cityops.deadlines.calendar import (
    DEFAULT_OFFICE_WINDOWS,
    DEFAULT_TZ,
    DayInfo,
    WorkCalendar,
    calendar_from_overrides,
)
from cityops.deadlines.engine import (
    MAX_WALK_DAYS,
    RED_AT,
    YELLOW_AT,
    Deadline,
    Light,
    Limit,
    Pause,
    add_limit,
    countable_seconds,
    elapsed_fraction,
    light,
    limit_seconds,
    remaining_seconds,
)
from cityops.deadlines.units import TimeUnit, parse_unit

__all__ = [
    "DEFAULT_OFFICE_WINDOWS",
    "DEFAULT_TZ",
    "MAX_WALK_DAYS",
    "RED_AT",
    "YELLOW_AT",
    "DayInfo",
    "Deadline",
    "Light",
    "Limit",
    "Pause",
    "TimeUnit",
    "WorkCalendar",
    "add_limit",
    "calendar_from_overrides",
    "countable_seconds",
    "elapsed_fraction",
    "light",
    "limit_seconds",
    "parse_unit",
    "remaining_seconds",
]
