"""Pure deadline arithmetic: how much countable time has passed, and when a limit runs out.

Nothing here reads the clock or does I/O; ``now`` is always passed in, so every answer is
reproducible in tests and in audits of why a case turned red.

Model: each :class:`TimeUnit` defines which instants are *countable*. A limit of ``value`` units is
``limit_seconds`` of countable time (hours x 3600, days x 86400, minutes x 60); pauses (挂账) remove
instants from the countable set. :func:`add_limit` finds the earliest instant at which exactly that
much countable time has elapsed, so ``countable_seconds(start, add_limit(...).due_at) == limit_seconds``
always holds and the traffic light flips to RED exactly at ``due_at``.

Because a working day counts as 86400 real seconds, a working day shortened to 23 h by a DST switch
contributes 23 h and the deadline spills one hour into the next working day; zones without DST
(Asia/Shanghai) never see this.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TypeAlias

from cityops.deadlines.calendar import WorkCalendar
from cityops.deadlines.units import TimeUnit

__all__ = [
    "MAX_WALK_DAYS",
    "RED_AT",
    "YELLOW_AT",
    "Deadline",
    "Light",
    "Limit",
    "Pause",
    "add_limit",
    "countable_seconds",
    "elapsed_fraction",
    "light",
    "limit_seconds",
    "remaining_seconds",
]

Pause: TypeAlias = tuple[datetime, datetime]
_Span: TypeAlias = tuple[datetime, datetime]

# Ten years of calendar days: far beyond any filing-standard limit, yet bounded so a calendar with
# no working time at all fails loudly instead of hanging a request.
MAX_WALK_DAYS = 3660
YELLOW_AT = 0.8
RED_AT = 1.0

_CONTINUOUS = frozenset({TimeUnit.URGENT_HOURS, TimeUnit.NATURAL_DAYS, TimeUnit.MINUTES})
_SECONDS_PER_UNIT: dict[TimeUnit, int] = {
    TimeUnit.URGENT_HOURS: 3600,
    TimeUnit.WORKING_HOURS: 3600,
    TimeUnit.WORKING_DAYS: 86400,
    TimeUnit.NATURAL_DAYS: 86400,
    TimeUnit.MINUTES: 60,
}
# Stands in for "no end" when walking continuous time; only ever compared, never added to.
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Limit:
    """A time limit from a filing standard, e.g. ``Limit(2, TimeUnit.WORKING_HOURS)``."""

    value: float
    unit: TimeUnit

    def __post_init__(self) -> None:
        # Accept the enum's string value too: limits often arrive straight from JSON or a spreadsheet.
        object.__setattr__(self, "unit", TimeUnit(self.unit))
        if isinstance(self.value, bool) or not math.isfinite(self.value) or self.value <= 0:
            raise ValueError(f"limit value must be a finite number > 0, got {self.value!r}")


@dataclass(frozen=True, slots=True)
class Deadline:
    """When a limit runs out (UTC), and whether any day consulted was a weekend-rule guess."""

    due_at: datetime
    provisional: bool


class Light(StrEnum):
    """Traffic light shown on a case: < 80 % used, < 100 % used, overdue."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def limit_seconds(limit: Limit) -> float:
    """Countable seconds a limit allows (hours x 3600, days x 86400, minutes x 60)."""
    return limit.value * _SECONDS_PER_UNIT[limit.unit]


def _utc(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC)


def _merge_pauses(pauses: Iterable[Pause]) -> list[_Span]:
    spans: list[_Span] = []
    for begin, end in pauses:
        b, e = _utc(begin, "pause start"), _utc(end, "pause end")
        if e < b:
            raise ValueError(f"pause ends ({end.isoformat()}) before it starts ({begin.isoformat()})")
        spans.append((b, e))
    spans.sort()
    merged: list[_Span] = []
    for b, e in spans:
        if merged and b <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((b, e))
    return merged


def _minus_pauses(begin: datetime, end: datetime, pauses: Sequence[_Span]) -> Iterator[_Span]:
    """Yield the parts of [begin, end) not covered by the (sorted, merged) pauses."""
    cursor = begin
    for p_begin, p_end in pauses:
        if p_end <= cursor:
            continue
        if p_begin >= end:
            break
        if p_begin > cursor:
            yield cursor, p_begin
        cursor = p_end
        if cursor >= end:
            return
    if cursor < end:
        yield cursor, end


def _local_instant(day: date, at: time, cal: WorkCalendar) -> datetime:
    # fold=0 resolves ambiguous/nonexistent DST wall times the way zoneinfo does by default; the
    # important property is that the same (day, time) always maps to the same instant, so day
    # boundaries computed from either side agree and days tile the timeline without gaps.
    return datetime.combine(day, at, tzinfo=cal.tz).astimezone(UTC)


@lru_cache(maxsize=16384)
def _day_spans(cal: WorkCalendar, day: date, unit: TimeUnit) -> tuple[tuple[_Span, ...], bool]:
    """Countable UTC spans of one local day for a day-based unit, plus the day's provisional flag."""
    info = cal.day(day)
    if not info.workday:
        return (), info.provisional
    day_begin = _local_instant(day, time(0), cal)
    day_end = _local_instant(day + timedelta(days=1), time(0), cal)
    if unit is TimeUnit.WORKING_DAYS:
        return ((day_begin, day_end),), info.provisional
    spans: list[_Span] = []
    for w_begin, w_end in cal.office_windows:
        # Clamp so a window touching a DST gap can never produce a reversed or out-of-day span.
        b = min(max(_local_instant(day, w_begin, cal), day_begin), day_end)
        e = min(max(_local_instant(day, w_end, cal), b), day_end)
        if e > b:
            spans.append((b, e))
    return tuple(spans), info.provisional


def _walk(
    start: datetime, end: datetime | None, unit: TimeUnit, cal: WorkCalendar, pauses: Sequence[_Span]
) -> Iterator[tuple[bool, list[_Span]]]:
    """Yield, in time order, ``(provisional, countable spans)`` chunks from ``start`` up to ``end``.

    Continuous units produce one chunk. Day-based units produce one chunk per local day; with no
    ``end`` the walk stops after ``MAX_WALK_DAYS`` days.
    """
    if unit in _CONTINUOUS:
        yield False, list(_minus_pauses(start, end if end is not None else _FAR_FUTURE, pauses))
        return
    day = start.astimezone(cal.tz).date()
    last = day + timedelta(days=MAX_WALK_DAYS - 1) if end is None else end.astimezone(cal.tz).date()
    while day <= last:
        spans, provisional = _day_spans(cal, day, unit)
        chunk: list[_Span] = []
        for b, e in spans:
            b = max(b, start)
            if end is not None:
                e = min(e, end)
            if e > b:
                chunk.extend(_minus_pauses(b, e, pauses))
        yield provisional, chunk
        day += timedelta(days=1)


def countable_seconds(
    start: datetime, end: datetime, unit: TimeUnit, cal: WorkCalendar, pauses: Iterable[Pause] = ()
) -> float:
    """Seconds of ``unit``-countable time in [start, end) outside the pauses; 0 if ``end <= start``."""
    s, e = _utc(start, "start"), _utc(end, "end")
    merged = _merge_pauses(pauses)
    if e <= s:
        return 0.0
    return sum(
        (span_end - span_begin).total_seconds()
        for _, chunk in _walk(s, e, unit, cal, merged)
        for span_begin, span_end in chunk
    )


def add_limit(start: datetime, limit: Limit, cal: WorkCalendar, pauses: Iterable[Pause] = ()) -> Deadline:
    """Earliest instant at which ``limit`` of countable time has elapsed since ``start``.

    Ending exactly at the close of a window yields that close (Friday 16:00 + 2 working hours is
    Friday 18:00, not Monday 08:30). Raises ``ValueError`` if no such instant exists within
    ``MAX_WALK_DAYS`` local days, e.g. a calendar with no office windows.
    """
    s = _utc(start, "start")
    merged = _merge_pauses(pauses)
    needed = limit_seconds(limit)
    provisional = False
    for day_provisional, chunk in _walk(s, None, limit.unit, cal, merged):
        provisional = provisional or day_provisional
        for span_begin, span_end in chunk:
            length = (span_end - span_begin).total_seconds()
            if needed <= length:
                try:
                    due_at = span_begin + timedelta(seconds=needed)
                except OverflowError:
                    raise ValueError(f"limit {limit.value} {limit.unit.value} runs past year 9999") from None
                return Deadline(due_at=due_at, provisional=provisional)
            needed -= length
    raise ValueError(
        f"no deadline for {limit.value} {limit.unit.value} within {MAX_WALK_DAYS} days of "
        f"{start.isoformat()}: the calendar has (almost) no countable time"
    )


def elapsed_fraction(
    start: datetime, limit: Limit, now: datetime, cal: WorkCalendar, pauses: Iterable[Pause] = ()
) -> float:
    """Share of the limit used up at ``now`` (0.0 before start, 1.0 at the deadline, > 1 overdue)."""
    return countable_seconds(start, now, limit.unit, cal, pauses) / limit_seconds(limit)


def remaining_seconds(
    start: datetime, limit: Limit, now: datetime, cal: WorkCalendar, pauses: Iterable[Pause] = ()
) -> float:
    """Countable seconds left at ``now``; negative by the overdue amount once past the deadline."""
    return limit_seconds(limit) - countable_seconds(start, now, limit.unit, cal, pauses)


def light(
    start: datetime, limit: Limit, now: datetime, cal: WorkCalendar, pauses: Iterable[Pause] = ()
) -> Light:
    """GREEN below 80 % of the limit used, YELLOW below 100 %, RED at or past the deadline."""
    fraction = elapsed_fraction(start, limit, now, cal, pauses)
    if fraction < YELLOW_AT:
        return Light.GREEN
    if fraction < RED_AT:
        return Light.YELLOW
    return Light.RED
