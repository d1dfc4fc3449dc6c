"""Side actions of the loop: 回退 return, 延期 extension, 挂账 suspension and resume, 作废 void after dispatch, and
manual 督办 escalation. Requests wait for a shift lead's or commander's decision and freeze the case meanwhile."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from cityops.auth.service import principal_for
from cityops.case import service as case_service
from cityops.case.models import Case, Escalation
from cityops.case.schemas import ActionIn, CaseCreate
from cityops.deadlines.calendar import WorkCalendar
from cityops.deadlines.engine import Limit, add_limit
from cityops.deadlines.units import TimeUnit
from cityops.runtime import Runtime
from support import World, act, new_case

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar(tz=SH, office_windows=((time(8, 30), time(12, 0)), (time(14, 30), time(18, 0))))
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


async def _state(client: httpx.AsyncClient, w: World, cid: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _dispatched(client: httpx.AsyncClient, w: World, **extra: Any) -> int:
    cid = int((await new_case(client, w, **extra))["id"])
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    return cid


async def _refused(client: httpx.AsyncClient, w: World, cid: int, who: str, action: str, status: int,
                   **params: Any) -> dict[str, Any]:
    """The move is refused with ``status`` and the case is left exactly as it was."""
    before = await _state(client, w, cid)
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": action, **params}, headers=w.h(who))
    assert r.status_code == status, f"{who} {action}: {r.status_code} {r.text}"
    after = await _state(client, w, cid)
    assert (after["status"], after["version"], len(after["timeline"]), after["pending_request"]) == (
        before["status"], before["version"], len(before["timeline"]), before["pending_request"])
    return dict(r.json()["error"])


# --- 回退 return ----------------------------------------------------------------------------------------------

async def test_return_freezes_the_case_until_approved_then_it_can_go_elsewhere(
    client: httpx.AsyncClient, world: World
) -> None:
    w = world
    cid = await _dispatched(client, w)
    body = await act(client, w, cid, "officer", "request", kind="return", reason="不属于执法大队职责，应由环卫处处理")
    assert body["status"] == "dispatched" and body["pending_request"] == "return"
    assert body["requests"][-1]["kind"] == "return" and body["requests"][-1]["decision"] is None
    assert body["allowed_actions"] == []  # the officer waits for the decision
    lead_view = (await client.get(f"/api/v1/cases/{cid}", headers=w.h("shiftlead"))).json()
    assert lead_view["allowed_actions"] == ["approve", "reject", "escalate"]

    # While the request waits, nothing else moves the case.
    err = await _refused(client, w, cid, "officer", "accept", 409)
    assert err["code"] == "illegal_transition"
    await _refused(client, w, cid, "enf_staff", "assign", 409, officer_id=w.users["officer2"])
    await _refused(client, w, cid, "enf_staff", "request", 409, kind="suspend", reason="再申请一次")
    # Only a shift lead or commander decides.
    await _refused(client, w, cid, "dispatcher", "approve", 403)

    body = await act(client, w, cid, "shiftlead", "approve", note="同意回退")
    assert body["status"] == "filed"
    assert body["department_id"] is None and body["officer_id"] is None and body["pending_request"] is None
    assert body["case_clock"] is None and body["step_clock"] is None  # back in the dispatch queue
    assert body["requests"][-1]["decision"] == "approved"
    assert [e["action"] for e in body["timeline"]][-2:] == ["request", "approve"]
    # The enforcement officer no longer sees the case at all.
    r = await client.get(f"/api/v1/cases/{cid}", headers=w.h("officer"))
    assert r.status_code == 404

    body = await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["sanitation"],
                     officer_id=w.users["san_officer"])
    assert body["status"] == "dispatched" and body["department_id"] == w.departments["sanitation"]
    assert (await act(client, w, cid, "san_officer", "accept"))["status"] == "accepted"


async def test_department_return_rejected_keeps_the_case_with_the_department(
    client: httpx.AsyncClient, world: World
) -> None:
    w = world
    cid = await _dispatched(client, w)
    assert (await act(client, w, cid, "enf_staff", "request", kind="return", reason="非本部门"))["pending_request"] \
        == "return"
    body = await act(client, w, cid, "commander", "reject", note="属执法大队职责")
    assert body["status"] == "dispatched" and body["pending_request"] is None
    assert body["department_id"] == w.departments["enforcement"] and body["officer_id"] == w.users["officer"]
    assert body["requests"][-1]["decision"] == "rejected"
    assert (await act(client, w, cid, "officer", "accept"))["status"] == "accepted"


async def test_request_without_reason_is_422_on_reason(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = await _dispatched(client, w)
    for params in ({}, {"reason": ""}, {"reason": "   "}):
        err = await _refused(client, w, cid, "officer", "request", 422, kind="return", **params)
        assert err["field"] == "reason"
    err = await _refused(client, w, cid, "officer", "request", 422, kind="later", reason="x")
    assert err["field"] == "kind"


# --- 延期 extension -------------------------------------------------------------------------------------------

async def _case_row(rt: Runtime, cid: int) -> Case:
    async with rt.sessionmaker() as s:
        case = await s.get(Case, cid)
    assert case is not None
    return case


async def test_extension_moves_the_deadline_by_the_granted_working_hours(
    client: httpx.AsyncClient, world: World, rt: Runtime
) -> None:
    w = world
    cid = await _dispatched(client, w)
    old_due = datetime.fromisoformat((await _state(client, w, cid))["case_clock"]["due_at"])
    await _refused(client, w, cid, "dispatcher", "request", 403, kind="extend", reason="x", extra_value=2)

    body = await act(client, w, cid, "officer", "request", kind="extend", reason="需协调车辆", extra_value=2,
                     extra_unit="working_hours")
    assert body["pending_request"] == "extend"
    assert datetime.fromisoformat(body["case_clock"]["due_at"]) == old_due  # nothing moves before approval
    body = await act(client, w, cid, "shiftlead", "approve")
    expected = add_limit(old_due, Limit(2, TimeUnit.WORKING_HOURS), CAL).due_at
    assert datetime.fromisoformat(body["case_clock"]["due_at"]) == expected
    assert body["status"] == "dispatched" and body["pending_request"] is None
    assert (await _case_row(rt, cid)).extension_count == 1

    # A second extension that is rejected leaves the deadline and the count alone.
    await act(client, w, cid, "enf_staff", "request", kind="extend", reason="再延期", extra_value=8,
              extra_unit="working_hours")
    body = await act(client, w, cid, "commander", "reject")
    assert datetime.fromisoformat(body["case_clock"]["due_at"]) == expected
    assert (await _case_row(rt, cid)).extension_count == 1


async def test_extension_arithmetic_across_the_office_day(rt: Runtime, world: World) -> None:
    """Dispatched Monday 09:10 with 4 working hours: 09:10–12:00 uses 2 h 50 min, 14:30 + 1 h 10 min → due 15:40.
    Two more working hours from 15:40 fit before 18:00 → 17:40."""
    w = world
    d = datetime(2026, 11, 23, 9, 10, tzinfo=SH)
    cid = await _svc_dispatched(rt, w, d, "06010")
    assert (await _case_row(rt, cid)).due_at == datetime(2026, 11, 23, 15, 40, tzinfo=SH)
    await _svc(rt, w, cid, "officer", "request", d + MIN, kind="extend", reason="需协调车辆", extra_value=2,
               extra_unit="working_hours")
    case = await _svc(rt, w, cid, "shiftlead", "approve", d + 2 * MIN)
    assert case.due_at == datetime(2026, 11, 23, 17, 40, tzinfo=SH)
    # Three more: 17:40–18:00 is 20 min; Tuesday 08:30 + 2 h 40 min → 11:10.
    await _svc(rt, w, cid, "officer", "request", d + 3 * MIN, kind="extend", reason="再延", extra_value=3,
               extra_unit="working_hours")
    case = await _svc(rt, w, cid, "shiftlead", "approve", d + 4 * MIN)
    assert case.due_at == datetime(2026, 11, 24, 11, 10, tzinfo=SH)
    assert case.extension_count == 2


# --- 挂账 suspension ------------------------------------------------------------------------------------------

async def _svc(rt: Runtime, w: World, cid: int, who: str, action: str, now: datetime, **params: Any) -> Case:
    async with rt.sessionmaker() as s:
        caller = await principal_for(s, w.tokens[who], now)
        return await case_service.act(rt, s, case_id=cid, body=ActionIn(action=action, **params), caller=caller,
                                      now=now)


async def _svc_dispatched(rt: Runtime, w: World, d: datetime, category_code: str) -> int:
    """Reported 10 min and filed 5 min before ``d``, dispatched at ``d`` to enforcement's officer."""
    lat, lon = w.inside
    async with rt.sessionmaker() as s:
        caller = await principal_for(s, w.tokens["inspector"], d - 10 * MIN)
        case, _ = await case_service.create(
            rt, s, data=CaseCreate(lat=lat, lon=lon, description="人行道上乱停车", category_code=category_code),
            caller=caller, now=d - 10 * MIN)
    await _svc(rt, w, case.id, "shiftlead", "file", d - 5 * MIN)
    await _svc(rt, w, case.id, "dispatcher", "dispatch", d, department_id=w.departments["enforcement"],
               officer_id=w.users["officer"])
    return case.id


async def test_suspension_pauses_both_clocks_and_resume_pushes_them_by_the_pause(
    client: httpx.AsyncClient, rt: Runtime, world: World
) -> None:
    w = world
    d = datetime(2026, 11, 23, 9, 10, tzinfo=SH)
    # 09009 机动车乱停放: 3 urgent (continuous) hours, so the case deadline is d + 3 h.
    cid = await _svc_dispatched(rt, w, d, "09009")
    await _svc(rt, w, cid, "officer", "accept", d + 2 * MIN)
    case = await _case_row(rt, cid)
    assert case.due_at == d + 3 * HOUR and case.step == "arrive" and case.step_due_at == d + 15 * MIN

    await _svc(rt, w, cid, "enf_staff", "request", d + 4 * MIN, kind="suspend", reason="车主联系不上，待交警拖移")
    t0 = d + 5 * MIN
    case = await _svc(rt, w, cid, "shiftlead", "approve", t0)
    assert case.status == "suspended"

    r = await client.get(f"/api/v1/cases/{cid}/clocks", headers=w.h("commander"))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "suspended"
    assert body["case_clock"]["light"] == "paused" and body["step_clock"]["light"] == "paused"
    assert body["allowed_actions"] == ["resume"]  # a suspended case cannot even be escalated
    await act(client, w, cid, "officer", "arrive", expect=409)
    await act(client, w, cid, "commander", "escalate", expect=409)

    # Resume one hour later. Left at t0 = d + 5 min: arrival (d + 15) − (d + 5) = 10 min; case (d + 3 h) − (d + 5 min)
    # = 2 h 55 min. Both count on from t0 + 1 h.
    case = await _svc(rt, w, cid, "dispatcher", "resume", t0 + HOUR)
    assert case.status == "accepted"  # where it was when suspended
    assert case.step_due_at == d + 15 * MIN + HOUR  # t0 + 1 h + 10 min = d + 75 min
    assert case.due_at == d + 3 * HOUR + HOUR  # t0 + 1 h + 2 h 55 min = d + 4 h
    assert case_service.pauses_of(case) == [(t0, t0 + HOUR)]
    assert (await _state(client, w, cid))["status"] == "accepted"
    assert (await act(client, w, cid, "officer", "arrive"))["status"] == "on_scene"


async def test_suspend_a_filed_case_and_resume_it_over_http(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = int((await new_case(client, w))["id"])
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "officer", "request", expect=404, kind="suspend", reason="x")  # not theirs yet
    await act(client, w, cid, "dispatcher", "request", kind="suspend", reason="待施工结束")
    assert (await act(client, w, cid, "commander", "approve"))["status"] == "suspended"
    await act(client, w, cid, "dispatcher", "dispatch", expect=409, department_id=w.departments["enforcement"])
    await act(client, w, cid, "intake", "resume", expect=403)
    body = await act(client, w, cid, "shiftlead", "resume")
    assert body["status"] == "filed" and "dispatch" in body["allowed_actions"]


# --- 作废 void after dispatch ---------------------------------------------------------------------------------

async def test_void_after_dispatch_needs_an_approved_request(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = await _dispatched(client, w)
    await _refused(client, w, cid, "shiftlead", "void", 409)  # direct 作废 is only for cases not yet dispatched
    await _refused(client, w, cid, "officer", "request", 403, kind="void", reason="重复上报")  # not the officer's call
    await act(client, w, cid, "enf_staff", "request", kind="void", reason="与 2026112300003 重复")
    body = await act(client, w, cid, "commander", "approve")
    assert body["status"] == "voided"
    assert body["case_clock"] is None and body["step_clock"] is None
    assert body["allowed_actions"] == []
    await _refused(client, w, cid, "commander", "escalate", 409)


# --- 督办 manual escalation -----------------------------------------------------------------------------------

async def test_commander_escalates_manually_officer_cannot(
    client: httpx.AsyncClient, world: World, rt: Runtime
) -> None:
    w = world
    cid = await _dispatched(client, w)
    err = await _refused(client, w, cid, "officer", "escalate", 403)
    assert err["code"] == "forbidden"
    body = await act(client, w, cid, "commander", "escalate", note="请尽快到场")
    assert body["escalation_level"] == 1 and body["status"] == "dispatched"
    body = await act(client, w, cid, "shiftlead", "escalate", note="再次督办")
    assert body["escalation_level"] == 2
    entries = [e for e in body["timeline"] if e["action"] == "escalate"]
    assert [(e["actor_role"], e["note"], e["data"]["level"]) for e in entries] == [
        ("commander", "请尽快到场", 1), ("shift_lead", "再次督办", 2)]
    async with rt.sessionmaker() as s:
        rows = (await s.execute(select(Escalation.level, Escalation.by_user_id, Escalation.note)
                                .where(Escalation.case_id == cid).order_by(Escalation.id))).all()
    assert [tuple(r) for r in rows] == [(1, w.users["commander"], "请尽快到场"), (2, w.users["shiftlead"], "再次督办")]
