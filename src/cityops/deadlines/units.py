"""Time units of a filing standard (立案标准) and how to read them from a bureau's spreadsheet."""

from __future__ import annotations

from enum import StrEnum


class TimeUnit(StrEnum):
    """How a time limit counts.

    - ``urgent_hours`` 紧急工作时: continuous clock hours, nights and holidays included.
    - ``working_hours`` 工作时: only time inside the configured office windows of working days.
    - ``working_days`` 工作日: only time falling on working days (whole days), 24 h each.
    - ``natural_days`` 自然日: continuous days of 24 h.
    - ``minutes``: continuous minutes; used for step limits such as "15 minutes to arrive".
    """

    URGENT_HOURS = "urgent_hours"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"
    NATURAL_DAYS = "natural_days"
    MINUTES = "minutes"


_ALIASES: dict[str, TimeUnit] = {
    "紧急工作时": TimeUnit.URGENT_HOURS,
    "紧急小时": TimeUnit.URGENT_HOURS,
    "urgent hours": TimeUnit.URGENT_HOURS,
    "工作时": TimeUnit.WORKING_HOURS,
    "工作小时": TimeUnit.WORKING_HOURS,
    "working hours": TimeUnit.WORKING_HOURS,
    "工作日": TimeUnit.WORKING_DAYS,
    "working days": TimeUnit.WORKING_DAYS,
    "自然日": TimeUnit.NATURAL_DAYS,
    "natural days": TimeUnit.NATURAL_DAYS,
    "天": TimeUnit.NATURAL_DAYS,
    "分钟": TimeUnit.MINUTES,
}


def parse_unit(text: str) -> TimeUnit:
    """Read a unit written in English (``working_hours``) or Chinese (``工作时``).

    Raises ``ValueError`` listing the accepted names, so import errors can tell the user what to write.
    """
    key = text.strip()
    lowered = key.lower()
    for unit in TimeUnit:
        if lowered == unit.value:
            return unit
    found = _ALIASES.get(key) or _ALIASES.get(lowered.replace("_", " "))
    if found is None:
        accepted = ", ".join([u.value for u in TimeUnit] + ["紧急工作时", "工作时", "工作日", "自然日", "分钟"])
        raise ValueError(f"unknown time unit {text!r}; use one of: {accepted}")
    return found
