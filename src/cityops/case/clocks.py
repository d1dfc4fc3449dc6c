"""The two clocks of a case, pure: the case deadline (from the filing condition, starting at dispatch) and the
step clock (file within 1 working hour, arrive within 15 min, feed back within 30 min, check within 1 working hour).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cityops.config import StepLimits
from cityops.deadlines.calendar import WorkCalendar
from cityops.deadlines.engine import Limit, Pause, add_limit, countable_seconds, limit_seconds
from cityops.deadlines.units import TimeUnit

STEPS = ("file", "arrive", "feedback", "check")


def step_limit(step: str, limits: StepLimits) -> Limit:
    return {
        "file": Limit(limits.file_working_hours, TimeUnit.WORKING_HOURS),
        "arrive": Limit(limits.arrive_minutes, TimeUnit.MINUTES),
        "feedback": Limit(limits.feedback_minutes, TimeUnit.MINUTES),
        "check": Limit(limits.check_working_hours, TimeUnit.WORKING_HOURS),
    }[step]


@dataclass(frozen=True)
class ClockState:
    light: str  # green | yellow | red | paused
    remaining_seconds: float | None


def state(
    *, start: datetime, due_at: datetime, unit: TimeUnit, now: datetime, cal: WorkCalendar,
    pauses: list[Pause], suspended: bool,
) -> ClockState:
    """Traffic light from the share of the budget used; the budget is measured start → due_at, so extensions
    and shifts after a suspension are already in it."""
    budget = countable_seconds(start, due_at, unit, cal, pauses)
    used = countable_seconds(start, now, unit, cal, pauses)
    remaining = budget - used
    if suspended:
        return ClockState("paused", remaining)
    if budget <= 0 or used >= budget:
        return ClockState("red", remaining)
    return ClockState("green" if used < 0.8 * budget else "yellow", remaining)


def shift_after_pause(
    *, due_at: datetime, unit: TimeUnit, paused_at: datetime, resumed_at: datetime, cal: WorkCalendar
) -> tuple[datetime, bool]:
    """New due time after a 挂账 suspension: what was left of the budget when the clock stopped, counted on from
    the moment it runs again. A case already overdue when suspended stays due at its old time."""
    left = countable_seconds(paused_at, due_at, unit, cal)
    if left <= 0:
        return due_at, False
    per_unit = limit_seconds(Limit(1, unit))
    d = add_limit(resumed_at, Limit(left / per_unit, unit), cal)
    return d.due_at, d.provisional


def extend(*, due_at: datetime, extra: Limit, cal: WorkCalendar) -> tuple[datetime, bool]:
    """延期: the approved extra time is added after the current deadline, counted in its own unit."""
    d = add_limit(due_at, extra, cal)
    return d.due_at, d.provisional
