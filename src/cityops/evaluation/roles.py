"""Indicators of the people in the loop, per user, from the case timeline: inspectors (监督员), intake (受理员)
and dispatchers (派遣员). Officers are judged on their cases (indicators.py grouped by officer).

Each query aggregates in SQL by the acting user; the step limits are clock minutes from the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cityops.case.models import Case, CaseEvent, CaseRequest
from cityops.evaluation.config import ROLE_INDICATORS, RoleLimits
from cityops.evaluation.formulas import ratio
from cityops.evaluation.indicators import _ts
from cityops.evaluation.periods import Period
from cityops.evaluation.sqlfn import flag, seconds_between

ROLE_SUBJECTS = tuple(ROLE_INDICATORS)


@dataclass(frozen=True)
class RoleRow:
    user_id: int
    cases: int  # how many acts the person is judged on
    values: dict[str, float | None]
    counts: dict[str, int]


def _in(period: Period, col: Any) -> list[Any]:
    return [col >= _ts("p_start", period.start), col < _ts("p_end", period.end)]


async def _step_timeliness(session: AsyncSession, period: Period, *, action: str, role: str, after: tuple[str, ...],
                           limit_s: float) -> dict[int, tuple[int, int]]:
    """Per actor: (acts with a known start, acts within ``limit_s`` of the latest ``after`` entry before them)."""
    e, s = aliased(CaseEvent), aliased(CaseEvent)
    pairs = (select(e.actor_id.label("u"), e.id.label("eid"), e.at.label("e_at"), func.max(s.at).label("s_at"))
             .join(s, and_(s.case_id == e.case_id, s.action.in_(after), s.id < e.id))
             .where(e.action == action, e.actor_role == role, *_in(period, e.at))
             .group_by(e.id, e.actor_id, e.at).subquery())
    q = (select(pairs.c.u, func.count(), func.sum(flag(seconds_between(pairs.c.e_at, pairs.c.s_at) <= limit_s)))
         .group_by(pairs.c.u))
    return {u: (int(n), int(ok or 0)) for u, n, ok in (await session.execute(q)).all() if u is not None}


async def inspectors(session: AsyncSession, period: Period, limits: RoleLimits) -> list[RoleRow]:
    reports: dict[int, tuple[int, int]] = {u: (int(n), int(v or 0)) for u, n, v in (await session.execute(
        select(Case.reporter_id, func.count(), func.sum(flag(Case.filed_at.isnot(None))))
        .where(Case.channel == "inspector", Case.reporter_id.isnot(None), *_in(period, Case.created_at))
        .group_by(Case.reporter_id))).all() if u is not None}
    verify = await _step_timeliness(session, period, action="verify", role="inspector", after=("send_verify",),
                                    limit_s=limits.verify_minutes * 60)
    check = await _step_timeliness(session, period, action="check", role="inspector", after=("feed_back",),
                                   limit_s=limits.check_minutes * 60)
    out = []
    for u in sorted(set(reports) | set(verify) | set(check)):
        r, v, c = reports.get(u, (0, 0)), verify.get(u, (0, 0)), check.get(u, (0, 0))
        out.append(RoleRow(u, r[0] + v[0] + c[0], {
            "valid_report_rate": ratio(r[1], r[0]),
            "on_time_verify_rate": ratio(v[1], v[0]),
            "on_time_check_rate": ratio(c[1], c[0]),
        }, {"reports": r[0], "valid_reports": r[1], "verifications": v[0], "verifications_on_time": v[1],
            "checks": c[0], "checks_on_time": c[1]}))
    return out


async def intake(session: AsyncSession, period: Period, limits: RoleLimits) -> list[RoleRow]:
    e = CaseEvent
    decided = or_(Case.filed_at.isnot(None), Case.status == "voided")
    q = (select(e.actor_id, func.count(),
                func.sum(flag(seconds_between(e.at, Case.created_at) <= limits.intake_minutes * 60)),
                func.sum(flag(decided)), func.sum(flag(Case.filed_at.isnot(None))))
         .join(Case, Case.id == e.case_id)
         .where(e.action == "send_verify", e.actor_role == "intake", e.actor_id.isnot(None), *_in(period, e.at))
         .group_by(e.actor_id))
    out = []
    for u, n, on_time, dec, filed in (await session.execute(q)).all():
        if u is None:
            continue
        n, on_time, dec, filed = int(n), int(on_time or 0), int(dec or 0), int(filed or 0)
        out.append(RoleRow(u, n, {"on_time_register_rate": ratio(on_time, n), "confirmed_rate": ratio(filed, dec)},
                           {"registered": n, "registered_on_time": on_time, "decided": dec, "confirmed": filed}))
    return out


async def dispatchers(session: AsyncSession, period: Period, limits: RoleLimits) -> list[RoleRow]:
    timely = await _step_timeliness(session, period, action="dispatch", role="dispatcher",
                                    after=("file", "approve", "resume"), limit_s=limits.dispatch_minutes * 60)
    e = CaseEvent
    returned = exists().where(CaseRequest.case_id == e.case_id, CaseRequest.kind == "return",
                              CaseRequest.decision == "approved", CaseRequest.requested_at > e.at)
    q = (select(e.actor_id, func.count(), func.sum(flag(returned)))
         .where(e.action == "dispatch", e.actor_role == "dispatcher", e.actor_id.isnot(None), *_in(period, e.at))
         .group_by(e.actor_id))
    out = []
    for u, n, back in (await session.execute(q)).all():
        if u is None:
            continue
        n, back = int(n), int(back or 0)
        t = timely.get(u, (0, 0))
        out.append(RoleRow(u, n, {"on_time_dispatch_rate": ratio(t[1], t[0]),
                                  "dispatch_accuracy": None if n == 0 else 1.0 - back / n},
                           {"dispatched": n, "timed": t[0], "dispatched_on_time": t[1], "returned": back}))
    return out


async def role_rows(session: AsyncSession, role: str, period: Period, limits: RoleLimits) -> list[RoleRow]:
    from cityops.evaluation.indicators import no_jit

    await no_jit(session)
    fn = {"inspector": inspectors, "intake": intake, "dispatcher": dispatchers}[role]
    return await fn(session, period, limits)
