"""Which days are working days, and when the office is open, for one bureau.

Sources, strongest first:

1. the bureau's own overrides (a district may declare an extra day off, or staff a weekend);
2. the State Council holiday schedule as packaged by ``chinese-calendar`` (statutory holidays and
   the make-up working days, 调休, that come with them);
3. outside that package's data (it only knows 2004–2026) the plain Mon–Fri rule. Such answers are
   flagged ``provisional`` so the UI can warn that a deadline may move once the year's schedule is
   published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

__all__ = [
    "DEFAULT_OFFICE_WINDOWS",
    "DEFAULT_TZ",
    "DayInfo",
    "WorkCalendar",
    "calendar_from_overrides",
]

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_OFFICE_WINDOWS: tuple[tuple[time, time], ...] = (
    (time(8, 30), time(12, 0)),
    (time(14, 30), time(18, 0)),
)


@dataclass(frozen=True, slots=True)
class DayInfo:
    """Whether a local calendar day counts as a working day.

    ``provisional`` is True when the answer is a guess (weekend rule) because the official schedule
    for that year is not in the packaged data.
    """

    workday: bool
    provisional: bool


# chinese_calendar re-scans its whole holiday table on every call (to find the supported year range),
# so memoising is worth far more than the memory: deadlines walk the same few weeks over and over.
@lru_cache(maxsize=32768)
def _official_day(d: date) -> DayInfo:
    try:
        workday = bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return DayInfo(workday=d.weekday() < 5, provisional=True)
    return DayInfo(workday=workday, provisional=False)


def _check_windows(windows: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    result: list[tuple[time, time]] = []
    for start, end in windows:
        if start.tzinfo is not None or end.tzinfo is not None:
            # Windows are wall-clock times in the calendar's tz; a tz here would be ambiguous.
            raise ValueError(f"office window {start}–{end} must use naive local times")
        if not start < end:
            raise ValueError(f"office window {start}–{end} must start before it ends (no overnight windows)")
        if result and start < result[-1][1]:
            raise ValueError(f"office window {start}–{end} overlaps or precedes the previous window")
        result.append((start, end))
    return tuple(result)


def _check_overrides(overrides: Mapping[date, bool]) -> dict[date, bool]:
    copied: dict[date, bool] = {}
    for day, workday in overrides.items():
        # datetime is a date subclass but never equals a date, so such a key would silently never match.
        if isinstance(day, datetime) or not isinstance(day, date):
            raise TypeError(f"override key {day!r} must be a datetime.date")
        if not isinstance(workday, bool):
            raise TypeError(f"override for {day} must be a bool, got {workday!r}")
        copied[day] = workday
    return copied


@dataclass(frozen=True)
class WorkCalendar:
    """A bureau's working calendar: time zone, office hours and local day overrides.

    ``overrides`` maps a date to True (working day) or False (day off) and beats every other source.
    The mapping is copied on construction, so later edits to the caller's dict have no effect.
    The calendar is hashable (overrides are left out of the hash but not out of equality), which lets
    the engine memoise per-day results keyed by calendar.
    """

    tz: ZoneInfo = DEFAULT_TZ
    office_windows: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_WINDOWS
    overrides: Mapping[date, bool] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tz, ZoneInfo):
            raise TypeError(f"tz must be a zoneinfo.ZoneInfo, got {self.tz!r}")
        object.__setattr__(self, "office_windows", _check_windows(self.office_windows))
        object.__setattr__(self, "overrides", _check_overrides(self.overrides))

    def day(self, d: date) -> DayInfo:
        """Classify local date ``d``; overrides first, then the official schedule, then Mon–Fri."""
        if isinstance(d, datetime):
            raise TypeError("day() takes a local date; convert the datetime with .astimezone(tz).date()")
        override = self.overrides.get(d)
        if override is not None:
            # The bureau has decided, so the answer is firm even for years without official data.
            return DayInfo(workday=override, provisional=False)
        return _official_day(d)

    def is_workday(self, d: date) -> bool:
        """Shorthand for ``self.day(d).workday``."""
        return self.day(d).workday


def calendar_from_overrides(
    overrides: Iterable[tuple[date, bool]],
    *,
    tz: ZoneInfo = DEFAULT_TZ,
    office_windows: tuple[tuple[time, time], ...] = DEFAULT_OFFICE_WINDOWS,
) -> WorkCalendar:
    """Build a calendar from ``(date, is_workday)`` rows, e.g. read from a bureau's spreadsheet.

    Repeating a date with the same value is tolerated; contradicting rows raise ``ValueError`` since
    silently picking one would make a deadline depend on row order.
    """
    table: dict[date, bool] = {}
    for day, workday in overrides:
        previous = table.get(day)
        if previous is not None and previous != workday:
            raise ValueError(f"conflicting overrides for {day}: both working day and day off")
        table[day] = workday
    return WorkCalendar(tz=tz, office_windows=office_windows, overrides=table)
