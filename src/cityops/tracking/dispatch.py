"""Recommendation (推荐), one-click dispatch (一键派遣) and auto-dispatch rules (自动派遣), as services.

Eligible officers: users with role officer in the case's department, or — before dispatch — in the department
the filing condition or the category names (``department_code``); all departments when neither says. Only
officers *available on duty* with a position not older than the offline timeout are ranked (see recommend.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.models import User, UserRole
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case import service as case_service
from cityops.case.models import Case
from cityops.case.schemas import ActionIn
from cityops.catalog import service as catalog_service
from cityops.catalog.models import Category, FilingCondition
from cityops.db import writing
from cityops.errors import AppError, Conflict, InvalidInput, NotFound
from cityops.org.models import Department
from cityops.runtime import Runtime
from cityops.tracking import service as tracking_service
from cityops.tracking.models import AutoDispatchRule, Device, OfficerStatusRow
from cityops.tracking.recommend import OfficerIndex, RankParams
from cityops.tracking.state import state_of
from cityops.tracking.status import ACTIVE_CASE_STATUSES, Duty, OfficerStatus, derive

log = logging.getLogger(__name__)
RANKABLE = ("filed", "dispatched")


async def eligible_departments(session: AsyncSession, case: Case) -> list[int] | None:
    if case.department_id is not None:
        return [case.department_id]
    codes: list[str] = []
    if case.condition_id is not None:
        cond = await session.get(FilingCondition, case.condition_id)
        if cond is not None and cond.department_code:
            codes.append(cond.department_code)
    if not codes and case.category_id is not None:
        cat = await session.get(Category, case.category_id)
        if cat is not None and cat.department_code:
            codes.append(cat.department_code)
    if not codes:
        return None
    ids = list((await session.execute(select(Department.id).where(Department.code.in_(codes)))).scalars())
    return ids or None


def _deadline_s(rt: Runtime, case: Case, now: datetime) -> float:
    """Time left to arrive: the whole limit before dispatch; what remains of the running arrive clock after."""
    if case.step == "arrive" and case.step_due_at is not None:
        return max(0.0, (case.step_due_at - now).total_seconds())
    return rt.settings.steps.arrive_minutes * 60.0


async def recommend(rt: Runtime, session: AsyncSession, *, case_id: int, now: datetime, limit: int = 10,
                    department_id: int | None = None) -> dict[str, Any]:
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    if case.status not in RANKABLE:
        raise Conflict(f"a {case.status} case is not waiting for an officer; recommendations are for filed or "
                       "dispatched cases", field="case_id")
    depts = [department_id] if department_id is not None else await eligible_departments(session, case)
    q = (select(User.id, User.display_name, User.department_id).join(UserRole, UserRole.user_id == User.id)
         .where(UserRole.role == Role.OFFICER.value, User.is_active.is_(True)))
    if depts is not None:
        q = q.where(User.department_id.in_(depts))
    officers = {oid: (name, dept) for oid, name, dept in (await session.execute(q)).all()}
    ids = list(officers)
    duty = {uid: Duty(d) for uid, d in (await session.execute(
        select(OfficerStatusRow.user_id, OfficerStatusRow.duty).where(OfficerStatusRow.user_id.in_(ids)))).all()}
    tasks: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    for oid, cid, case_status in (await session.execute(select(Case.officer_id, Case.id, Case.status).where(
            Case.officer_id.in_(ids), Case.status.in_(ACTIVE_CASE_STATUSES)))).all():
        if oid is not None:
            tasks[oid].append((cid, case_status))
    devices: dict[int, list[tuple[int, str]]] = {}
    for did, oid, mode in (await session.execute(select(Device.id, Device.officer_id, Device.mode).where(
            Device.officer_id.in_(ids), Device.is_active.is_(True)))).all():
        if oid is not None:
            devices.setdefault(oid, []).append((did, mode))
    cfg = rt.settings.tracking
    st = state_of(rt)
    fixes = await st.store.get_many([did for devs in devices.values() for did, _ in devs])
    index = OfficerIndex(max(16, len(ids)))
    excluded = {"off_duty": 0, "busy": 0, "no_position": 0, "offline": 0}
    now_s = now.timestamp()
    for oid in ids:
        status = derive(duty.get(oid, Duty.OFF_DUTY), tasks[oid]).status
        if status is not OfficerStatus.AVAILABLE:
            excluded["off_duty" if status is OfficerStatus.OFF_DUTY else "busy"] += 1
            continue
        best = None
        for did, mode in devices.get(oid, []):
            fix = fixes.get(did)
            if fix is not None and (best is None or fix.at > best[0].at):
                best = (fix, mode)
        if best is None:
            excluded["no_position"] += 1
            continue
        fix, mode = best
        if now_s - fix.at.timestamp() > cfg.offline_timeout_s:
            excluded["offline"] += 1
            continue
        index.upsert(oid, lat=fix.lat, lon=fix.lon, t=fix.at.timestamp(), mode=mode,
                     department_id=officers[oid][1], available=True)
    params = RankParams.of(road_factor=cfg.road_factor, mode_speeds=cfg.mode_speeds_mps,
                           deadline_s=_deadline_s(rt, case, now), online_s=cfg.online_timeout_s,
                           offline_s=cfg.offline_timeout_s, limit=limit)
    net = await st.network(session)
    target = st.network_target(net, case.lat, case.lon) if net is not None and not net.is_empty else None
    ranked = index.rank(case.lat, case.lon, now=now_s, params=params, network=net if target else None,
                        target=target)
    return {
        "case_id": case.id, "case_no": case.case_no, "department_ids": depts, "deadline_s": params.deadline_s,
        "method": "road_network" if target is not None else "straight_line", "excluded": excluded,
        "officers": [{"officer_id": r.officer_id, "display_name": officers[r.officer_id][0],
                      "department_id": officers[r.officer_id][1], "distance_m": round(r.distance_m, 1),
                      "travel_m": round(r.travel_m, 1), "eta_s": round(r.eta_s, 1),
                      "eta_minutes": round(r.eta_s / 60.0, 1), "makes_deadline": r.makes_deadline,
                      "stale": r.stale, "mode": r.mode, "fix_age_s": round(r.fix_age_s, 1)} for r in ranked],
    }


async def dispatch_to(rt: Runtime, session: AsyncSession, *, case_id: int, officer_id: int, caller: Principal,
                      now: datetime, note: str | None = None, expected_version: int | None = None) -> Case:
    """一键派遣: a filed case is dispatched to the officer's department and the officer; a case already with that
    department gets the officer assigned."""
    case = await session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    officer = await tracking_service.officer_user(session, officer_id)
    if officer.department_id is None:
        raise InvalidInput(f"officer {officer_id} belongs to no department", field="officer_id")
    previous = case.officer_id
    if case.status == "filed":
        body = ActionIn(action="dispatch", department_id=officer.department_id, officer_id=officer_id, note=note,
                        expected_version=expected_version)
    elif case.status == "dispatched":
        body = ActionIn(action="assign", officer_id=officer_id, note=note, expected_version=expected_version)
    else:
        raise Conflict(f"a {case.status} case cannot be dispatched", field="case_id")
    await session.rollback()  # end the read; act() opens its own write transaction
    case = await case_service.act(rt, session, case_id=case_id, body=body, caller=caller, now=now)
    await tracking_service.refresh_officers(rt, [officer_id] + ([previous] if previous else []), now)
    return case


# ---- auto-dispatch rules ---------------------------------------------------------------------------------------

async def set_rule(session: AsyncSession, *, category_code: str, category_kind: str | None, edition: str | None,
                   enabled: bool, require_deadline: bool, actor_id: int, now: datetime) -> AutoDispatchRule:
    async with writing(session):
        cat = await catalog_service.resolve_category(session, code=category_code, edition=edition, kind=category_kind)
        rule = await session.scalar(select(AutoDispatchRule).where(AutoDispatchRule.category_id == cat.id))
        if rule is None:
            rule = AutoDispatchRule(category_id=cat.id, created_at=now)
            session.add(rule)
        rule.enabled, rule.require_deadline, rule.created_by, rule.updated_at = enabled, require_deadline, actor_id, now
        await session.flush()
        await audit_service.append(session, now=now, actor_id=actor_id, action="auto_dispatch.rule_set",
                                   entity_type="category", entity_id=cat.id,
                                   data={"code": cat.code, "enabled": enabled, "require_deadline": require_deadline})
    return rule


async def delete_rule(session: AsyncSession, *, rule_id: int, actor_id: int, now: datetime) -> None:
    async with writing(session):
        rule = await session.get(AutoDispatchRule, rule_id)
        if rule is None:
            raise NotFound(f"no auto-dispatch rule {rule_id}", field="rule_id")
        await session.delete(rule)
        await audit_service.append(session, now=now, actor_id=actor_id, action="auto_dispatch.rule_deleted",
                                   entity_type="category", entity_id=rule.category_id, data={"rule_id": rule_id})


async def list_rules(session: AsyncSession) -> list[tuple[AutoDispatchRule, Category]]:
    rows = await session.execute(select(AutoDispatchRule, Category).join(Category,
                                 Category.id == AutoDispatchRule.category_id).order_by(AutoDispatchRule.id))
    return [(r, c) for r, c in rows.all()]


async def auto_dispatch(rt: Runtime, case_id: int, now: datetime) -> int | None:
    """Run the category's rule for a just-filed case; returns the officer dispatched to, or None."""
    async with rt.sessionmaker() as session:
        case = await session.get(Case, case_id)
        if case is None or case.status != "filed" or case.category_id is None:
            return None
        rule = await session.scalar(select(AutoDispatchRule).where(
            AutoDispatchRule.category_id == case.category_id, AutoDispatchRule.enabled.is_(True)))
        if rule is None:
            return None
        ranked = await recommend(rt, session, case_id=case_id, now=now, limit=1)
        owner = await session.get(User, rule.created_by)
        if not ranked["officers"] or owner is None:
            log.info("auto-dispatch of case %s skipped: no available officer", case_id)
            return None
        best = ranked["officers"][0]
        if rule.require_deadline and not best["makes_deadline"]:
            log.info("auto-dispatch of case %s skipped: best ETA %.0f s misses the limit", case_id, best["eta_s"])
            return None
        # The rule's owner acts, with no more rights than they hold now (a revoked dispatcher stops auto-dispatch).
        roles = owner.roles & {Role.DISPATCHER.value, Role.SHIFT_LEAD.value}
        if not roles or not owner.is_active:
            return None
        actor = Principal(owner.id, owner.username, owner.display_name, frozenset(roles), owner.department_id,
                          "session", now + timedelta(hours=1))
        note = f"自动派遣 by rule {rule.id}: {best['display_name']}, ETA {best['eta_minutes']} min"
        try:
            await dispatch_to(rt, session, case_id=case_id, officer_id=best["officer_id"], caller=actor, now=now,
                              note=note)
        except AppError as e:  # someone dispatched it meanwhile, or the case moved on: nothing to do
            log.info("auto-dispatch of case %s not done: %s", case_id, e.message)
            return None
        return int(best["officer_id"])
