"""Tests for the pure deadline engine; every expectation is worked out by hand in the test.

Calendar facts used (chinese-calendar 1.11.0): 2026-03-06 Fri .. 03-13 Fri is an ordinary fortnight;
Spring Festival off 02-15..02-23 with make-up Saturday 02-14; National Day off 10-01..10-07 with
make-up Sun 09-20 and Sat 10-10. Office windows 08:30–12:00 and 14:30–18:00, Asia/Shanghai.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.deadlines import (
    Deadline,
    Light,
    Limit,
    Pause,
    TimeUnit,
    WorkCalendar,
    add_limit,
    countable_seconds,
    elapsed_fraction,
    light,
    limit_seconds,
    remaining_seconds,
)
from cityops.deadlines.engine import _day_spans

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")
CAL = WorkCalendar()
H = 3600.0
UH, WH, WD, ND, MIN = (
    TimeUnit.URGENT_HOURS,
    TimeUnit.WORKING_HOURS,
    TimeUnit.WORKING_DAYS,
    TimeUnit.NATURAL_DAYS,
    TimeUnit.MINUTES,
)


def sh(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def due(
    start: datetime, value: float, unit: TimeUnit, cal: WorkCalendar = CAL, pauses: tuple[Pause, ...] = ()
) -> datetime:
    deadline = add_limit(start, Limit(value, unit), cal, pauses)
    assert deadline.due_at.utcoffset() == timedelta(0)  # always handed back in UTC
    return deadline.due_at


def test_urgent_hours_run_through_the_weekend() -> None:
    # Fri 20:00 + 48 h continuous = Sun 20:00; the weekend is not skipped.
    deadline = add_limit(sh(3, 6, 20), Limit(48, UH), CAL)
    assert deadline.due_at == sh(3, 8, 20)
    assert deadline.due_at.tzinfo is UTC
    assert deadline.provisional is False


def test_natural_days_ignore_holidays() -> None:
    # Wed 09-30 10:00 + 3 natural days = Sat 10-03 10:00, right through National Day.
    assert due(sh(9, 30, 10), 3, ND) == sh(10, 3, 10)
    # Half a natural day = 12 h: 10:00 -> 22:00.
    assert due(sh(9, 30, 10), 0.5, ND) == sh(9, 30, 22)


def test_minutes_are_continuous() -> None:
    # 10-01 23:50 (a holiday) + 15 min = 10-02 00:05.
    assert due(sh(10, 1, 23, 50), 15, MIN) == sh(10, 2, 0, 5)


def test_working_hours_skip_the_weekend() -> None:
    # Fri 16:00 + 4 WH = 2 h Fri (16:00–18:00) + 2 h Mon (08:30–10:30) -> Mon 10:30.
    assert due(sh(3, 6, 16), 4, WH) == sh(3, 9, 10, 30)


def test_working_hours_skip_the_lunch_break() -> None:
    # Tue 11:00 + 2 WH = 1 h (11:00–12:00) + 1 h (14:30–15:30) -> 15:30.
    assert due(sh(3, 10, 11), 2, WH) == sh(3, 10, 15, 30)


def test_limit_used_up_exactly_at_closing_time_ends_then() -> None:
    # Fri 16:00 + 2 WH = 16:00–18:00 -> Fri 18:00, not Mon 08:30 (earliest instant wins).
    assert due(sh(3, 6, 16), 2, WH) == sh(3, 6, 18)


def test_start_on_saturday_counts_from_monday_opening() -> None:
    # Sat 10:00: nothing countable until Mon 08:30; + 1 WH -> Mon 09:30.
    assert due(sh(3, 7, 10), 1, WH) == sh(3, 9, 9, 30)


def test_start_inside_holiday_waits_for_first_working_day() -> None:
    # Sat 10-03 is inside National Day (10-01..10-07); first working day Thu 10-08 -> 09:30.
    assert due(sh(10, 3, 10), 1, WH) == sh(10, 8, 9, 30)


def test_national_day_holiday_skipped() -> None:
    # Wed 09-30 17:00 + 3 WH = 1 h Wed (17:00–18:00) + 10-01..10-07 off + 2 h Thu 10-08 -> 10:30.
    assert due(sh(9, 30, 17), 3, WH) == sh(10, 8, 10, 30)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Fri 09-18 17:00 + 2 WH = 1 h Fri + Sat 09-19 off + 1 h on make-up Sun 09-20 -> 09:30.
        (sh(9, 18, 17), sh(9, 20, 9, 30)),
        # Fri 10-09 17:00 + 2 WH = 1 h Fri + 1 h on make-up Sat 10-10 -> 09:30.
        (sh(10, 9, 17), sh(10, 10, 9, 30)),
        # Fri 02-13 17:00 + 2 WH = 1 h Fri + 1 h on make-up Sat 02-14 -> 09:30.
        (sh(2, 13, 17), sh(2, 14, 9, 30)),
    ],
)
def test_make_up_workdays_count(start: datetime, expected: datetime) -> None:
    assert due(start, 2, WH) == expected


def test_working_days_across_a_weekend() -> None:
    # Fri 15:00 + 1 WD (24 h of working-day time) = 9 h Fri (15:00–24:00) + Sat/Sun off
    # + 15 h Mon (00:00–15:00) -> Mon 15:00.
    assert due(sh(3, 6, 15), 1, WD) == sh(3, 9, 15)


def test_working_days_across_spring_festival_2026() -> None:
    # Thu 02-12 10:00 + 5 WD = 120 h: Thu 14 h + Fri 02-13 24 h + make-up Sat 02-14 24 h
    # + (02-15..02-23 off) + Tue 02-24 24 h + Wed 02-25 24 h = 110 h, so 10 h more on Thu 02-26.
    deadline = add_limit(sh(2, 12, 10), Limit(5, WD), CAL)
    assert deadline == Deadline(due_at=sh(2, 26, 10), provisional=False)


def test_the_walk_computes_each_local_day_once_and_reuses_it() -> None:
    # What keeps deadlines cheap (how cheap is for bench/, not for tests): a walk across the Spring Festival
    # works day by day, each local day is computed once, and later deadlines over the same days reuse it.
    start, limit = sh(2, 12, 10), Limit(5, WD)
    days = (date(2026, 2, 26) - date(2026, 2, 12)).days + 1  # Thu 02-12 … Thu 02-26, both counted
    _day_spans.cache_clear()
    add_limit(start, limit, CAL)
    assert _day_spans.cache_info().misses == days
    add_limit(start, limit, CAL)
    info = _day_spans.cache_info()
    assert (info.misses, info.hits) == (days, days)


def test_pause_stops_the_clock() -> None:
    # Mon 10:00 + 4 UH with a 2 h pause 11:00–13:00 -> 14:00 + 2 h = 16:00.
    pauses = ((sh(3, 9, 11), sh(3, 9, 13)),)
    assert due(sh(3, 9, 10), 4, UH, pauses=pauses) == sh(3, 9, 16)
    assert countable_seconds(sh(3, 9, 10), sh(3, 9, 16), UH, CAL, pauses) == 4 * H


def test_pause_overlapping_lunch_only_costs_its_working_part() -> None:
    # Mon 11:00 + 2 WH, paused 11:30–15:00. Countable: 11:00–11:30 (0.5 h); 11:30–12:00 paused;
    # lunch 12:00–14:30 not countable anyway; 14:30–15:00 paused; 15:00–16:30 (1.5 h) -> 16:30.
    # (Without the pause: 11:00–12:00 + 14:30–15:30 -> 15:30, so the pause cost 1 h, not 3.5 h.)
    pauses = ((sh(3, 9, 11, 30), sh(3, 9, 15)),)
    assert due(sh(3, 9, 11), 2, WH) == sh(3, 9, 15, 30)
    assert due(sh(3, 9, 11), 2, WH, pauses=pauses) == sh(3, 9, 16, 30)


def test_pause_over_the_weekend_changes_nothing_for_working_hours() -> None:
    # Same as Fri 16:00 + 4 WH -> Mon 10:30: the pause Sat 09:00–Sun 18:00 covers no working time.
    pauses = ((sh(3, 7, 9), sh(3, 8, 18)),)
    assert due(sh(3, 6, 16), 4, WH, pauses=pauses) == sh(3, 9, 10, 30)


def test_overlapping_pauses_and_start_inside_a_pause() -> None:
    # Pauses 11:00–12:00 and 11:30–13:00 merge to 11:00–13:00 (2 h): Mon 10:00 + 4 UH -> 16:00.
    pauses = ((sh(3, 9, 11, 30), sh(3, 9, 13)), (sh(3, 9, 11), sh(3, 9, 12)))
    assert due(sh(3, 9, 10), 4, UH, pauses=pauses) == sh(3, 9, 16)
    # Starting at 11:30, inside the pause: the clock starts at 13:00; + 1 UH -> 14:00.
    assert due(sh(3, 9, 11, 30), 1, UH, pauses=pauses) == sh(3, 9, 14)


def test_reversed_pause_rejected() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        add_limit(sh(3, 9, 10), Limit(1, UH), CAL, ((sh(3, 9, 12), sh(3, 9, 11)),))


def test_override_makes_weekday_off_and_weekend_day_on() -> None:
    cal = WorkCalendar(overrides={date(2026, 3, 10): False, date(2026, 3, 14): True})
    # Mon 17:00 + 3 WH = 1 h Mon + Tue 03-10 off (override) + 2 h Wed 03-11 -> Wed 10:30.
    assert due(sh(3, 9, 17), 3, WH, cal) == sh(3, 11, 10, 30)
    # Fri 03-13 17:00 + 2 WH = 1 h Fri + 1 h on Sat 03-14 (override) -> Sat 09:30.
    assert due(sh(3, 13, 17), 2, WH, cal) == sh(3, 14, 9, 30)


def test_override_beats_statutory_holiday() -> None:
    # 10-02 staffed locally: Wed 09-30 17:00 + 3 WH = 1 h Wed + 10-01 off + 2 h Fri 10-02 -> 10:30.
    cal = WorkCalendar(overrides={date(2026, 10, 2): True})
    assert due(sh(9, 30, 17), 3, WH, cal) == sh(10, 2, 10, 30)


def test_2027_uses_weekend_rule_and_is_provisional() -> None:
    # 2027-01-08 is a Friday: 17:00 + 2 WH = 1 h Fri + weekend + 1 h Mon 01-11 -> 09:30 (guessed).
    deadline = add_limit(sh(1, 8, 17, year=2027), Limit(2, WH), CAL)
    assert deadline.due_at == sh(1, 11, 9, 30, year=2027)
    assert deadline.provisional is True


def test_crossing_into_2027_is_provisional_only_when_2027_is_consulted() -> None:
    # Thu 2026-12-31 17:00 + 1 WH ends 18:00 the same day: only 2026 consulted.
    assert add_limit(sh(12, 31, 17), Limit(1, WH), CAL).provisional is False
    # + 2 WH spills into Fri 2027-01-01, which the weekend rule guesses is a working day -> 09:30.
    deadline = add_limit(sh(12, 31, 17), Limit(2, WH), CAL)
    assert deadline == Deadline(due_at=sh(1, 1, 9, 30, year=2027), provisional=True)
    # Continuous units never consult the calendar, so they are never provisional.
    assert add_limit(sh(1, 8, 17, year=2027), Limit(2, UH), CAL).provisional is False


def test_override_in_2027_is_firm_but_later_guesses_are_not() -> None:
    # 01-01 off by override (firm); Sat 01-02 / Sun 01-03 guessed off; Mon 01-04 guessed on.
    # Thu 12-31 17:00 + 2 WH = 1 h Thu + 1 h Mon 01-04 -> 09:30, provisional via the guesses.
    cal = WorkCalendar(overrides={date(2027, 1, 1): False})
    deadline = add_limit(sh(12, 31, 17), Limit(2, WH), cal)
    assert deadline.due_at == sh(1, 4, 9, 30, year=2027)
    assert deadline.provisional is True


@pytest.mark.parametrize(
    ("elapsed_h", "fraction", "expected"),
    [
        (7.9, 0.79, Light.GREEN),  # 7.9 / 10
        (8.0, 0.8, Light.YELLOW),  # 80 % exactly turns yellow
        (9.99, 0.999, Light.YELLOW),  # 99.9 %
        (10.0, 1.0, Light.RED),  # 100 %: due now, counts as overdue
        (11.0, 1.1, Light.RED),
    ],
)
def test_light_thresholds(elapsed_h: float, fraction: float, expected: Light) -> None:
    start, limit = sh(3, 9, 0), Limit(10, UH)
    now = start + timedelta(hours=elapsed_h)
    assert elapsed_fraction(start, limit, now, CAL) == pytest.approx(fraction)
    assert light(start, limit, now, CAL) is expected
    assert remaining_seconds(start, limit, now, CAL) == pytest.approx((10 - elapsed_h) * H)


def test_light_counts_only_working_time() -> None:
    start, limit = sh(3, 6, 16), Limit(4, WH)
    # Sat 12:00: only Fri 16:00–18:00 counted = 2 h / 4 h = 50 %.
    assert light(start, limit, sh(3, 7, 12), CAL) is Light.GREEN
    # Mon 10:00: 2 h Fri + 1.5 h Mon = 3.5 h / 4 h = 87.5 %.
    assert elapsed_fraction(start, limit, sh(3, 9, 10), CAL) == 0.875
    assert light(start, limit, sh(3, 9, 10), CAL) is Light.YELLOW
    # Mon 10:30 is the deadline itself.
    assert light(start, limit, sh(3, 9, 10, 30), CAL) is Light.RED
    # Mon 15:00: 2 h Fri + 3.5 h morning + 0.5 h afternoon = 6 h -> 2 h overdue.
    assert remaining_seconds(start, limit, sh(3, 9, 15), CAL) == -2 * H


def test_light_respects_pauses_and_now_before_start() -> None:
    start, limit = sh(3, 9, 0), Limit(10, UH)
    # 10 h elapsed minus a 2 h pause = 8 h = 80 %.
    pauses = ((sh(3, 9, 2), sh(3, 9, 4)),)
    assert light(start, limit, sh(3, 9, 10), CAL, pauses) is Light.YELLOW
    assert light(start, limit, sh(3, 9, 10), CAL) is Light.RED
    assert elapsed_fraction(start, limit, sh(3, 8, 23), CAL) == 0.0
    assert light(start, limit, sh(3, 8, 23), CAL) is Light.GREEN


def test_countable_seconds_per_unit() -> None:
    # Fri 16:00 -> Mon 10:30: 2 h + 2 h working; 8 h Fri + 10.5 h Mon working-day time;
    # 8 + 48 + 10.5 = 66.5 h in all.
    start, end = sh(3, 6, 16), sh(3, 9, 10, 30)
    assert countable_seconds(start, end, WH, CAL) == 4 * H
    assert countable_seconds(start, end, WD, CAL) == 18.5 * H
    assert countable_seconds(start, end, UH, CAL) == 66.5 * H
    assert countable_seconds(end, start, UH, CAL) == 0.0


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 3, 9, 10, 0)
    limit = Limit(1, UH)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_limit(naive, limit, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        countable_seconds(sh(3, 9), naive, UH, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        light(sh(3, 9), limit, naive, CAL)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_limit(sh(3, 9), limit, CAL, ((naive, sh(3, 9, 12)),))


@pytest.mark.parametrize("value", [0, -1, math.nan, math.inf])
def test_limit_value_must_be_positive_and_finite(value: float) -> None:
    with pytest.raises(ValueError, match="limit value"):
        Limit(value, UH)


def test_limit_unit_accepts_enum_value_string() -> None:
    assert Limit(2, "working_hours").unit is WH  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Limit(2, "fortnights")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit", "seconds"),
    [
        (Limit(2, UH), 7200),
        (Limit(2, WH), 7200),
        (Limit(1.5, WD), 129600),
        (Limit(3, ND), 259200),
        (Limit(15, MIN), 900),
    ],
)
def test_limit_seconds(limit: Limit, seconds: float) -> None:
    assert limit_seconds(limit) == seconds


def test_calendar_without_working_time_fails_loudly() -> None:
    with pytest.raises(ValueError, match="no deadline"):
        add_limit(sh(3, 9, 10), Limit(1, WH), WorkCalendar(office_windows=()))


def ny(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def test_dst_spring_forward() -> None:
    cal = WorkCalendar(tz=NY, overrides={date(2026, 3, 8): True})  # staff DST Sunday
    # Natural day = 86400 s; Sun 03-08 has only 23 h, so Sat 12:00 EST + 1 day = Sun 13:00 EDT.
    assert due(ny(3, 7, 12), 1, ND, cal) == ny(3, 8, 13)
    # Working day = 86400 s of working-day time: 23 h on Sun + 1 h on Mon -> Mon 01:00 EDT.
    assert due(ny(3, 8), 1, WD, cal) == ny(3, 9, 1)
    # Fri 17:00 EST + 2 WH = 1 h Fri + 08:30–09:30 Sun (EDT) = 13:30 UTC.
    assert due(ny(3, 6, 17), 2, WH, cal) == datetime(2026, 3, 8, 13, 30, tzinfo=UTC)


def test_dst_fall_back() -> None:
    cal = WorkCalendar(tz=NY, overrides={date(2026, 11, 1): True})
    # Sun 11-01 lasts 25 h: 00:00 EDT (04:00Z) + 24 h = 04:00Z Mon = Sun 23:00 EST.
    assert due(ny(11, 1), 1, WD, cal) == ny(11, 1, 23)


def test_due_is_earliest_instant_with_full_limit() -> None:
    # add_limit is defined by countable_seconds, so check that definition on random cases.
    rng = random.Random(20260101)
    cal = WorkCalendar(overrides={date(2026, 3, 10): False, date(2026, 3, 14): True})
    for _ in range(300):
        start = sh(1, 1) + timedelta(minutes=rng.randrange(365 * 24 * 60))
        unit = rng.choice(list(TimeUnit))
        limit = Limit(rng.choice([0.25, 1, 2.5, 4, 8, 15]), unit)
        pause_from = start + timedelta(minutes=rng.randrange(-600, 3000))
        pauses = ((pause_from, pause_from + timedelta(minutes=rng.randrange(0, 2000))),)
        at = add_limit(start, limit, cal, pauses).due_at
        assert countable_seconds(start, at, unit, cal, pauses) == pytest.approx(limit_seconds(limit))
        just_before = at - timedelta(seconds=1)
        assert countable_seconds(start, just_before, unit, cal, pauses) < limit_seconds(limit)
