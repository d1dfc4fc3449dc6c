"""Tests for the working-day calendar: overrides > chinese-calendar schedule > weekend rule.

Expected values were checked against chinese-calendar 1.11.0 (data 2004–2026), which says for 2026:
Spring Festival off 02-15..02-23 with make-up Saturdays 02-14 and 02-28; National Day off
10-01..10-07 with make-up days Sun 09-20 and Sat 10-10; New Year off 01-01..01-03, make-up Sun 01-04.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from cityops.deadlines.calendar import (
    DEFAULT_OFFICE_WINDOWS,
    DayInfo,
    WorkCalendar,
    _official_day,
    calendar_from_overrides,
)


def test_defaults_are_shanghai_with_two_office_windows() -> None:
    cal = WorkCalendar()
    assert cal.tz == ZoneInfo("Asia/Shanghai")
    assert cal.office_windows == ((time(8, 30), time(12, 0)), (time(14, 30), time(18, 0)))
    assert cal.office_windows == DEFAULT_OFFICE_WINDOWS
    assert dict(cal.overrides) == {}


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        (date(2026, 3, 9), True),  # ordinary Monday
        (date(2026, 3, 7), False),  # ordinary Saturday
        (date(2026, 3, 8), False),  # ordinary Sunday
        (date(2026, 2, 16), False),  # Monday inside Spring Festival 02-15..02-23
        (date(2026, 2, 23), False),  # last day of Spring Festival, a Monday
        (date(2026, 2, 14), True),  # Saturday make-up workday (调休) before Spring Festival
        (date(2026, 2, 28), True),  # Saturday make-up workday after Spring Festival
        (date(2026, 10, 1), False),  # National Day, Thursday
        (date(2026, 10, 7), False),  # last day of National Day holiday, Wednesday
        (date(2026, 10, 8), True),  # first working day after National Day
        (date(2026, 9, 20), True),  # Sunday make-up workday for National Day
        (date(2026, 10, 10), True),  # Saturday make-up workday for National Day
        (date(2026, 1, 4), True),  # Sunday make-up workday for New Year
        (date(2004, 1, 1), False),  # first year of the packaged data
    ],
)
def test_official_schedule(day: date, workday: bool) -> None:
    assert WorkCalendar().day(day) == DayInfo(workday=workday, provisional=False)


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        # Beyond the data the Mon–Fri rule applies, so 2027-01-01 (a Friday and surely New Year's
        # Day off) is guessed to be a working day: exactly why the answer is marked provisional.
        (date(2027, 1, 1), True),
        (date(2027, 1, 2), False),  # Saturday
        (date(2027, 1, 4), True),  # Monday
        (date(2003, 12, 31), True),  # Wednesday before the data starts
    ],
)
def test_outside_packaged_data_falls_back_to_weekend_rule(day: date, workday: bool) -> None:
    assert WorkCalendar().day(day) == DayInfo(workday=workday, provisional=True)


def test_overrides_beat_everything() -> None:
    cal = WorkCalendar(
        overrides={
            date(2026, 3, 10): False,  # ordinary Tuesday declared a day off
            date(2026, 3, 14): True,  # ordinary Saturday staffed
            date(2026, 10, 2): True,  # statutory holiday staffed
            date(2026, 9, 20): False,  # make-up Sunday cancelled locally
            date(2027, 1, 1): False,  # bureau already knows: firm, not provisional
        }
    )
    assert cal.day(date(2026, 3, 10)) == DayInfo(workday=False, provisional=False)
    assert cal.day(date(2026, 3, 14)) == DayInfo(workday=True, provisional=False)
    assert cal.day(date(2026, 10, 2)) == DayInfo(workday=True, provisional=False)
    assert cal.day(date(2026, 9, 20)) == DayInfo(workday=False, provisional=False)
    assert cal.day(date(2027, 1, 1)) == DayInfo(workday=False, provisional=False)
    # Days without an override still follow the official schedule.
    assert cal.day(date(2026, 10, 1)) == DayInfo(workday=False, provisional=False)
    assert cal.is_workday(date(2026, 3, 14)) is True


def test_overrides_are_copied() -> None:
    source = {date(2026, 3, 10): False}
    cal = WorkCalendar(overrides=source)
    source[date(2026, 3, 10)] = True
    source[date(2026, 3, 11)] = False
    assert cal.is_workday(date(2026, 3, 10)) is False
    assert cal.is_workday(date(2026, 3, 11)) is True


def test_override_keys_must_be_plain_dates() -> None:
    with pytest.raises(TypeError, match="datetime.date"):
        WorkCalendar(overrides={datetime(2026, 3, 10, 0, 0): False})
    with pytest.raises(TypeError, match="bool"):
        WorkCalendar(overrides={date(2026, 3, 10): 0})  # type: ignore[dict-item]


def test_day_rejects_datetime() -> None:
    with pytest.raises(TypeError):
        WorkCalendar().day(datetime(2026, 3, 10, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.mark.parametrize(
    "windows",
    [
        ((time(12, 0), time(8, 30)),),  # reversed
        ((time(9, 0), time(9, 0)),),  # empty
        ((time(8, 30), time(12, 0)), (time(11, 0), time(18, 0))),  # overlapping
        ((time(14, 30), time(18, 0)), (time(8, 30), time(12, 0))),  # out of order
        ((time(8, 30, tzinfo=ZoneInfo("UTC")), time(12, 0)),),  # tz-aware wall time
    ],
)
def test_bad_office_windows_rejected(windows: tuple[tuple[time, time], ...]) -> None:
    with pytest.raises(ValueError, match="office window"):
        WorkCalendar(office_windows=windows)


def test_touching_windows_allowed() -> None:
    cal = WorkCalendar(office_windows=((time(8, 0), time(12, 0)), (time(12, 0), time(17, 0))))
    assert len(cal.office_windows) == 2


def test_tz_must_be_zoneinfo() -> None:
    with pytest.raises(TypeError, match="ZoneInfo"):
        WorkCalendar(tz="Asia/Shanghai")  # type: ignore[arg-type]


def test_calendar_from_overrides() -> None:
    tz = ZoneInfo("Asia/Urumqi")
    windows = ((time(10, 0), time(14, 0)), (time(15, 30), time(19, 30)))
    cal = calendar_from_overrides(
        [(date(2026, 3, 10), False), (date(2026, 3, 14), True), (date(2026, 3, 10), False)],
        tz=tz,
        office_windows=windows,
    )
    assert cal.tz == tz
    assert cal.office_windows == windows
    assert dict(cal.overrides) == {date(2026, 3, 10): False, date(2026, 3, 14): True}


def test_calendar_from_overrides_rejects_contradictions() -> None:
    with pytest.raises(ValueError, match="conflicting overrides for 2026-03-10"):
        calendar_from_overrides([(date(2026, 3, 10), False), (date(2026, 3, 10), True)])


def test_calendar_is_hashable_and_compares_overrides() -> None:
    plain_a, plain_b = WorkCalendar(), WorkCalendar()
    local = WorkCalendar(overrides={date(2026, 3, 10): False})
    assert plain_a == plain_b
    assert hash(plain_a) == hash(plain_b)
    assert plain_a != local
    assert len({plain_a, plain_b, local}) == 2


def test_official_lookups_are_cached() -> None:
    cal = WorkCalendar()
    day = date(2026, 5, 6)
    cal.day(day)
    hits_before = _official_day.cache_info().hits
    cal.day(day)
    assert _official_day.cache_info().hits == hits_before + 1
