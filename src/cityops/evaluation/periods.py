"""Reporting periods in the bureau's time zone: months, arbitrary date ranges, and the weeks of a month. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    """A period that cannot be read; ``field`` names the parameter."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Period:
    """Half-open [start, end) in UTC; ``label`` as people say it ("2026-10" or "2026-10-01~2026-10-15")."""

    start: datetime
    end: datetime
    label: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must be tz-aware")
        if self.end <= self.start:
            raise PeriodError("the period ends before it starts", "to")


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tz).astimezone(UTC)


def parse_month(text: str, tz: ZoneInfo, field: str = "month") -> Period:
    m = _MONTH.match(text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise PeriodError(f"month must look like 2026-10, not {text!r}", field)
    y, mo = int(m.group(1)), int(m.group(2))
    first = date(y, mo, 1)
    nxt = date(y + (mo == 12), mo % 12 + 1, 1)
    return Period(_midnight(first, tz), _midnight(nxt, tz), f"{y:04d}-{mo:02d}")


def date_range(first: date, last: date, tz: ZoneInfo) -> Period:
    """Whole days ``first`` … ``last`` inclusive, as the bureau's calendar has them."""
    if last < first:
        raise PeriodError("'to' is before 'from'", "to")
    if (last - first).days > 3660:
        raise PeriodError("a period may span at most ten years", "to")
    return Period(_midnight(first, tz), _midnight(last + timedelta(days=1), tz), f"{first}~{last}")


def previous_month(p: Period, tz: ZoneInfo) -> Period:
    first = p.start.astimezone(tz).date().replace(day=1)
    prev = (first - timedelta(days=1)).replace(day=1)
    return parse_month(f"{prev:%Y-%m}", tz)


def month_of(moment: datetime, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%Y-%m}"


@dataclass(frozen=True)
class Week:
    index: int  # 0 = the week holding the period's first day
    start: datetime  # clipped to the period
    end: datetime
    label: str  # "10-01~10-04"


def week_origin(p: Period, tz: ZoneInfo) -> datetime:
    """Monday 00:00 (local) of the week holding the period's first day; weeks are counted from here."""
    d = p.start.astimezone(tz).date()
    return _midnight(d - timedelta(days=d.weekday()), tz)


def weeks(p: Period, tz: ZoneInfo) -> list[Week]:
    """The calendar weeks (Monday first) that touch the period, clipped to it."""
    origin = week_origin(p, tz)
    out: list[Week] = []
    i = 0
    while True:
        ws = origin + timedelta(days=7 * i)
        if ws >= p.end:
            return out
        s, e = max(ws, p.start), min(ws + timedelta(days=7), p.end)
        last_day = (e - timedelta(microseconds=1)).astimezone(tz).date()
        out.append(Week(i, s, e, f"{s.astimezone(tz):%m-%d}~{last_day:%m-%d}"))
        i += 1
