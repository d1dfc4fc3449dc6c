"""Officer status as a CAD keeps it (pure): duty is the officer's own setting, status follows from duty and the
officer's open tasks, connectivity from the age of the last fix.

    off_duty 下班 · available 待命 · assigned 已派 · en_route 在途 · on_scene 到场 · busy 忙碌
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Duty(StrEnum):
    OFF_DUTY = "off_duty"
    ON_DUTY = "on_duty"
    BUSY = "busy"  # on duty but not to be dispatched (meal, training, paperwork)


class OfficerStatus(StrEnum):
    OFF_DUTY = "off_duty"
    AVAILABLE = "available"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    BUSY = "busy"


class Connectivity(StrEnum):
    ONLINE = "online"
    UNKNOWN = "unknown"
    OFFLINE = "offline"


# Case status of an officer's task → the officer's status; the strongest task wins.
TASK_STATUS: dict[str, OfficerStatus] = {
    "dispatched": OfficerStatus.ASSIGNED,
    "accepted": OfficerStatus.ASSIGNED,
    "en_route": OfficerStatus.EN_ROUTE,
    "on_scene": OfficerStatus.ON_SCENE,
    "handled": OfficerStatus.BUSY,  # done on site, writing the feedback
}
_RANK = {OfficerStatus.ON_SCENE: 4, OfficerStatus.EN_ROUTE: 3, OfficerStatus.ASSIGNED: 2, OfficerStatus.BUSY: 1}
ACTIVE_CASE_STATUSES = tuple(TASK_STATUS)


@dataclass(frozen=True)
class Derived:
    status: OfficerStatus
    case_id: int | None


def derive(duty: Duty, tasks: Iterable[tuple[int, str]]) -> Derived:
    """``tasks`` are (case id, case status) of the officer's open cases; the lowest case id breaks ties.

    A task outranks the duty setting: an officer who took a case is working it, whatever they signed.
    """
    best: tuple[int, int] | None = None
    best_status = None
    for case_id, case_status in sorted(tasks):
        s = TASK_STATUS.get(case_status)
        if s is None:
            continue
        if best is None or _RANK[s] > best[0]:
            best, best_status = (_RANK[s], case_id), s
    if best is not None and best_status is not None:
        return Derived(best_status, best[1])
    if duty is Duty.OFF_DUTY:
        return Derived(OfficerStatus.OFF_DUTY, None)
    if duty is Duty.BUSY:
        return Derived(OfficerStatus.BUSY, None)
    return Derived(OfficerStatus.AVAILABLE, None)


def connectivity(age_s: float | None, *, online_s: float, offline_s: float) -> Connectivity:
    """Online while the last fix is fresh, unknown for a while after, offline when old or never seen."""
    if age_s is None or age_s > offline_s:
        return Connectivity.OFFLINE
    return Connectivity.ONLINE if age_s <= online_s else Connectivity.UNKNOWN
