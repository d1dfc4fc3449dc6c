"""The deadline sweeper (督办): an overdue deadline is escalated exactly once — not before it is due, not twice on
the next pass, not twice when two server processes sweep at the same moment — and never for a suspended or
closed case. Time is driven by passing ``now`` to the service functions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from cityops.audit import service as audit_service
from cityops.audit.models import AuditEntry
from cityops.auth.service import Principal, principal_for
from cityops.case import service as case_service
from cityops.case.models import Case, CaseEvent, Escalation
from cityops.case.schemas import ActionIn, CaseCreate
from cityops.case.sweeper import sweep
from cityops.config import Settings
from cityops.runtime import Runtime
from support import World

SH = ZoneInfo("Asia/Shanghai")
# Monday 23 Nov 2026, a working day, 09:00 in the bureau's time zone (= 01:00 UTC).
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=SH)
MIN = timedelta(minutes=1)


async def _principal(rt: Runtime, w: World, who: str, now: datetime) -> Principal:
    async with rt.sessionmaker() as s:
        return await principal_for(s, w.tokens[who], now)


async def _create(rt: Runtime, w: World, now: datetime, who: str = "inspector") -> int:
    lat, lon = w.inside
    data = CaseCreate(lat=lat, lon=lon, description="路边暴露垃圾", category_code="06010")
    caller = await _principal(rt, w, who, now)
    async with rt.sessionmaker() as s:
        case, created = await case_service.create(rt, s, data=data, caller=caller, now=now)
    assert created
    return case.id


async def _act(rt: Runtime, w: World, cid: int, who: str, action: str, now: datetime, **params: Any) -> Case:
    caller = await _principal(rt, w, who, now)
    async with rt.sessionmaker() as s:
        return await case_service.act(rt, s, case_id=cid, body=ActionIn(action=action, **params), caller=caller,
                                      now=now)


async def _dispatched(rt: Runtime, w: World, dispatch_at: datetime) -> int:
    """A case reported 10 min and filed 5 min before it is dispatched to enforcement's officer."""
    cid = await _create(rt, w, dispatch_at - 10 * MIN)
    await _act(rt, w, cid, "shiftlead", "file", dispatch_at - 5 * MIN)
    await _act(rt, w, cid, "dispatcher", "dispatch", dispatch_at, department_id=w.departments["enforcement"],
               officer_id=w.users["officer"])
    return cid


async def _sweep(rt: Runtime, now: datetime) -> list[tuple[int, str]]:
    async with rt.sessionmaker() as s:
        return await sweep(rt, s, now=now)


async def _escalations(rt: Runtime, cid: int) -> tuple[list[tuple[str, int]], list[tuple[str | None, dict[str, Any]]],
                                                      int, list[str]]:
    """(escalation rows, 'escalate' timeline entries, case escalation level, audit actions) of one case."""
    async with rt.sessionmaker() as s:
        rows = [(r, lv) for r, lv in (await s.execute(
            select(Escalation.reason, Escalation.level).where(Escalation.case_id == cid).order_by(Escalation.id)))]
        events = [(role, data) for role, data in (await s.execute(
            select(CaseEvent.actor_role, CaseEvent.data)
            .where(CaseEvent.case_id == cid, CaseEvent.action == "escalate").order_by(CaseEvent.id)))]
        level = await s.scalar(select(Case.escalation_level).where(Case.id == cid))
        audit = list((await s.execute(
            select(AuditEntry.action).where(AuditEntry.entity_type == "case", AuditEntry.entity_id == str(cid),
                                            AuditEntry.action == "case.escalate"))).scalars())
    assert level is not None
    return rows, events, level, audit


async def test_overdue_arrival_is_escalated_once(rt: Runtime, world: World) -> None:
    w = world
    d = T0 + 10 * MIN  # dispatched 09:10 Shanghai = 01:10 UTC; 'arrive' is due 15 min later, 01:25 UTC
    cid = await _dispatched(rt, w, d)
    async with rt.sessionmaker() as s:
        case = await s.get(Case, cid)
        assert case is not None and case.step == "arrive" and case.step_due_at == d + 15 * MIN

    assert await _sweep(rt, d + 14 * MIN) == []  # one minute to go: nothing
    assert await _escalations(rt, cid) == ([], [], 0, [])

    reason = "step_overdue:arrive@2026-11-23T01:25:00+00:00"
    assert await _sweep(rt, d + 16 * MIN) == [(cid, reason)]
    rows, events, level, audit = await _escalations(rt, cid)
    assert rows == [(reason, 1)]
    assert events == [("system", {"reason": reason, "level": 1})]
    assert level == 1
    assert audit == ["case.escalate"]

    assert await _sweep(rt, d + 17 * MIN) == []  # the next pass finds it already escalated
    assert await _escalations(rt, cid) == (rows, events, 1, audit)


async def test_a_new_deadline_is_escalated_again_at_the_next_level(rt: Runtime, world: World) -> None:
    w = world
    d = T0 + 10 * MIN
    cid = await _dispatched(rt, w, d)
    assert len(await _sweep(rt, d + 16 * MIN)) == 1  # arrival overdue → level 1
    await _act(rt, w, cid, "officer", "accept", d + 17 * MIN)
    await _act(rt, w, cid, "officer", "arrive", d + 20 * MIN)  # feedback due 30 min later: d + 50 min
    assert await _sweep(rt, d + 49 * MIN) == []
    # d + 50 min = 09:10 + 50 min Shanghai = 10:00 Shanghai = 02:00 UTC
    feedback = "step_overdue:feedback@2026-11-23T02:00:00+00:00"
    assert await _sweep(rt, d + 51 * MIN) == [(cid, feedback)]
    rows, events, level, audit = await _escalations(rt, cid)
    assert level == 2
    assert rows == [("step_overdue:arrive@2026-11-23T01:25:00+00:00", 1), (feedback, 2)]
    assert [e[1]["level"] for e in events] == [1, 2]
    assert audit == ["case.escalate", "case.escalate"]


async def test_two_concurrent_sweepers_escalate_each_deadline_once(
    rt: Runtime, settings: Settings, world: World
) -> None:
    w = world
    d = T0 + 10 * MIN
    cids = [await _dispatched(rt, w, d + i * MIN) for i in range(5)]  # arrivals due d+15 … d+19 min
    # A sixth case dispatched later is not due yet at the sweep time.
    later = await _dispatched(rt, w, d + 20 * MIN)

    other = Runtime.create(settings)  # a second server process: its own engine and connection pool
    try:
        now = d + 30 * MIN
        async with rt.sessionmaker() as s1, other.sessionmaker() as s2:
            a, b = await asyncio.gather(sweep(rt, s1, now=now), sweep(other, s2, now=now))
    finally:
        await other.close()

    # case i's arrival is due at 01:10 + i min + 15 min UTC = 01:25 … 01:29 UTC
    expected = {(cid, f"step_overdue:arrive@2026-11-23T01:{25 + i}:00+00:00") for i, cid in enumerate(cids)}
    assert set(a) | set(b) == expected
    assert not set(a) & set(b)
    assert len(a) + len(b) == 5
    for cid in cids:
        rows, events, level, audit = await _escalations(rt, cid)
        assert (len(rows), len(events), level, len(audit)) == (1, 1, 1, 1), cid
    assert await _escalations(rt, later) == ([], [], 0, [])

    async with rt.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Escalation)) == 5
        assert (await audit_service.verify(s)).ok  # two writers, one unbroken audit chain


async def test_suspended_and_closed_cases_are_never_escalated(rt: Runtime, world: World) -> None:
    w = world
    d = T0 + 10 * MIN
    suspended = await _dispatched(rt, w, d)
    await _act(rt, w, suspended, "dispatcher", "request", d + 1 * MIN, kind="suspend", reason="等待产权单位确认")
    assert (await _act(rt, w, suspended, "shiftlead", "approve", d + 2 * MIN)).status == "suspended"

    closed = await _dispatched(rt, w, d)
    t = d
    for who, action, params in (
        ("officer", "accept", {}), ("officer", "arrive", {}),
        ("officer", "handle", {"handling": {"measure": "warning"}}), ("officer", "feed_back", {}),
        ("inspector", "check", {"passed": True}), ("shiftlead", "close", {}),
    ):
        t += MIN
        await _act(rt, w, closed, who, action, t, **params)

    # A week later both deadlines of both cases have long passed.
    assert await _sweep(rt, d + timedelta(days=7)) == []
    for cid in (suspended, closed):
        assert await _escalations(rt, cid) == ([], [], 0, [])


async def test_sweep_uses_utc_instants(rt: Runtime, world: World) -> None:
    """The same instant written in another zone gives the same answer."""
    w = world
    d = T0 + 10 * MIN
    cid = await _dispatched(rt, w, d)
    just_before = (d + 15 * MIN - timedelta(seconds=1)).astimezone(UTC)
    assert await _sweep(rt, just_before) == []
    at_due = (d + 15 * MIN).astimezone(ZoneInfo("America/New_York"))  # due means due: escalated at due_at
    assert [c for c, _ in await _sweep(rt, at_due)] == [cid]
