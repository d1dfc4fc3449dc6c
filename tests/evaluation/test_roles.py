"""Indicators and composite grades of inspectors, intake and dispatchers, from a timeline driven through the API at
hand-chosen times (Beijing time, October 2026; limits: intake 10, verify 60, dispatch 10, check 60 minutes).

- A: resident report 09:00; intake sends to verify 09:05 (5 min, on time); inspector verifies 09:50 (45, on time);
  filed 09:55; dispatched 10:00 (5, on time); handled and fed back 10:30; inspector checks 11:45 (75, late).
- B: resident report 09:00; intake 09:20 (20, late); inspector2 verifies 11:00 (100, late); filed 11:05; dispatched
  11:30 (25, late) — returned by the department (approved 11:35) — dispatched again 11:40 (5, on time).
- C: inspector's own report, voided (invalid report). D: inspector's own report, filed (valid).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from evaluation.ev_support import Clock, T
from support import World, act, new_case


async def _at(c: httpx.AsyncClient, w: World, clock: Clock, when: datetime, cid: int, who: str, action: str,
              **params: Any) -> None:
    clock.now = when
    await act(c, w, cid, who, action, **params)


@pytest.fixture
async def timeline(ev_client: httpx.AsyncClient, world: World, clock: Clock) -> None:
    c, w = ev_client, world
    enf, san = w.departments["enforcement"], w.departments["sanitation"]
    clock.now = T(10, 12, 9)
    a = int((await new_case(c, w, who="resident"))["id"])
    await _at(c, w, clock, T(10, 12, 9, 5), a, "intake", "send_verify", inspector_id=w.users["inspector"])
    await _at(c, w, clock, T(10, 12, 9, 50), a, "inspector", "verify", confirmed=True)
    await _at(c, w, clock, T(10, 12, 9, 55), a, "shiftlead", "file")
    await _at(c, w, clock, T(10, 12, 10), a, "dispatcher", "dispatch", department_id=enf, officer_id=w.users["officer"])
    for i, (action, params) in enumerate([("accept", {}), ("arrive", {}), ("handle", {"handling": {
            "measure": "on_the_spot_fix"}}), ("feed_back", {})]):
        await _at(c, w, clock, T(10, 12, 10, 10 + 5 * i), a, "officer", action, **params)
    await _at(c, w, clock, T(10, 12, 11, 45), a, "inspector", "check", passed=True)

    clock.now = T(10, 13, 9)
    b = int((await new_case(c, w, who="resident"))["id"])
    await _at(c, w, clock, T(10, 13, 9, 20), b, "intake", "send_verify", inspector_id=w.users["inspector2"])
    await _at(c, w, clock, T(10, 13, 11), b, "inspector2", "verify", confirmed=True)
    await _at(c, w, clock, T(10, 13, 11, 5), b, "shiftlead", "file")
    await _at(c, w, clock, T(10, 13, 11, 30), b, "dispatcher", "dispatch", department_id=enf)
    await _at(c, w, clock, T(10, 13, 11, 32), b, "enf_staff", "request", kind="return", reason="非本部门职责")
    await _at(c, w, clock, T(10, 13, 11, 35), b, "shiftlead", "approve")
    await _at(c, w, clock, T(10, 13, 11, 40), b, "dispatcher", "dispatch", department_id=san)

    clock.now = T(10, 14, 9)
    cc = int((await new_case(c, w))["id"])
    await _at(c, w, clock, T(10, 14, 9, 10), cc, "shiftlead", "void", note="不属实")
    clock.now = T(10, 14, 10)
    d = int((await new_case(c, w))["id"])
    await _at(c, w, clock, T(10, 14, 10, 10), d, "shiftlead", "file")
    clock.now = T(11, 5)


async def _scores(c: httpx.AsyncClient, w: World, subject: str) -> dict[str, dict[str, Any]]:
    r = await c.get("/api/v1/evaluation/composite", params={"subject": subject, "month": "2026-10"},
                    headers=w.h("commander"))
    assert r.status_code == 200, r.text
    return {s["name"]: s for s in r.json()["scores"]}


async def test_dispatcher(ev_client: httpx.AsyncClient, world: World, timeline: None) -> None:
    s = (await _scores(ev_client, world, "dispatcher"))["dispatcher"]
    # Three dispatches: A and B's second on time, B's first late and returned → 2/3 and 1 − 1/3.
    assert s["counts"] == {"dispatched": 3, "timed": 3, "dispatched_on_time": 2, "returned": 1}
    parts = {p["indicator"]: p["value"] for p in s["parts"]}
    assert parts == {"on_time_dispatch_rate": pytest.approx(2 / 3), "dispatch_accuracy": pytest.approx(2 / 3)}
    assert s["score"] == pytest.approx(66.67) and s["grade"] == "C"


async def test_intake(ev_client: httpx.AsyncClient, world: World, timeline: None) -> None:
    s = (await _scores(ev_client, world, "intake"))["intake"]
    assert s["counts"] == {"registered": 2, "registered_on_time": 1, "decided": 2, "confirmed": 2}
    assert s["score"] == pytest.approx(60 * 0.5 + 40 * 1.0) and s["grade"] == "C"


async def test_inspectors(ev_client: httpx.AsyncClient, world: World, timeline: None) -> None:
    scores = await _scores(ev_client, world, "inspector")
    one = scores["inspector"]
    # Own reports C (voided) and D (filed): 1/2 valid; verified A in time; checked A late.
    assert one["counts"] == {"reports": 2, "valid_reports": 1, "verifications": 1, "verifications_on_time": 1,
                             "checks": 1, "checks_on_time": 0}
    assert one["score"] == pytest.approx(0.5 * 40 + 1.0 * 30 + 0.0 * 30) and one["grade"] == "D"
    two = scores["inspector2"]
    # No own reports: that term drops out and the late verification is all there is to judge.
    assert [p["value"] for p in two["parts"]] == [None, 0.0, None]
    assert two["score"] == 0.0 and two["grade"] == "E"
    assert list(scores) == ["inspector", "inspector2"]  # best first


async def test_departments_and_areas_are_graded(ev_client: httpx.AsyncClient, world: World, timeline: None) -> None:
    depts = await _scores(ev_client, world, "department")
    # Enforcement: A is due (its 4 working hours ran out), handled in time, not closed, not reworked; it handled
    # the most, so volume 1: 10·1 + 30·0 + 30·1 + 30·(1 − 0) = 70 → C.
    assert depts["执法大队"]["score"] == pytest.approx(70) and depts["执法大队"]["grade"] == "C"
    # Sanitation: B (returned to it) is due and untouched; nothing handled, so the rework term drops out:
    # (10·0 + 30·0 + 30·0) ÷ 70 → 0 → E.
    san = depts["环卫处"]
    assert san["score"] == 0.0 and san["grade"] == "E"
    assert [p["points"] for p in san["parts"]] == [0.0, 0.0, 0.0, None]
    grids = await _scores(ev_client, world, "grid")
    assert list(grids) == ["测试社区01网格"]


async def test_composite_refuses_an_unknown_subject(ev_client: httpx.AsyncClient, world: World) -> None:
    r = await ev_client.get("/api/v1/evaluation/composite", params={"subject": "mayor", "month": "2026-10"},
                            headers=world.h("commander"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "subject"
