"""Supervision flags: each finds exactly the cases the history generator planted for it, none fires on clean
history or on a clean loop driven through the API, and a supervisor's review is recorded once and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from cityops.audit import service as audit_service
from cityops.demo.history import RULES, HistoryResult, generate
from cityops.evaluation import service
from cityops.evaluation.periods import Period, parse_month
from cityops.runtime import Runtime
from evaluation.ev_support import Builder, Clock, T, after_photo
from support import World, act, new_case

END = T(11, 1)  # history of September and October 2026


async def _history(rt: Runtime, plant: bool) -> HistoryResult:
    return await generate(rt, months=2, end=END, per_month=60, seed=3, plant=plant)


async def _flags(rt: Runtime, period: Period) -> list[service.FlagView]:
    async with rt.sessionmaker() as s:
        return await service.flags(rt, s, period=period, now=END + timedelta(days=4))


async def test_each_flag_finds_its_planted_cases_and_only_those(rt: Runtime, world: World) -> None:
    h = await _history(rt, plant=True)
    assert h.period.start == T(9, 1) and h.period.end == END
    found: dict[str, set[int]] = {r: set() for r in RULES}
    for f in await _flags(rt, h.period):
        found[f.flag.rule] |= set(f.flag.case_ids)
    for rule in RULES:
        assert h.planted[rule], f"nothing planted for {rule}"
        assert found[rule] == h.planted[rule], rule
    # The slow area of this one-street world is a grid, and it is what the equity flag names.
    assert h.slow_area is not None and h.slow_area[0] == "grid"
    equity = [f for f in await _flags(rt, h.period) if f.flag.rule == "equity"]
    assert [f.flag.subject_key for f in equity] == [f"grid:{h.slow_area[1]}"]
    assert equity[0].flag.subject == "测试社区04网格"


async def test_the_repeated_voids_flag_names_place_party_and_officer(rt: Runtime, world: World) -> None:
    h = await _history(rt, plant=True)
    flags = [f for f in await _flags(rt, h.period) if f.flag.rule == "repeated_voids"]
    kinds = sorted({f.flag.subject_kind for f in flags})
    assert kinds == ["officer", "party", "place"]
    officer = next(f for f in flags if f.flag.subject_kind == "officer")
    assert officer.flag.subject == "officer2" and len(officer.flag.cases) == 6  # three a month, two months


async def test_clean_history_raises_no_flag(rt: Runtime, world: World) -> None:
    h = await _history(rt, plant=False)
    assert h.cases > 100
    assert await _flags(rt, h.period) == []
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok


async def _clean_case(rt: Runtime, c: httpx.AsyncClient, w: World, clock: Clock, **extra: Any) -> int:
    lat, lon = w.inside
    cid = int((await new_case(c, w, **extra))["id"])
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("shiftlead", "file", {}),
        ("dispatcher", "dispatch", {"department_id": w.departments["enforcement"], "officer_id": w.users["officer"]}),
        ("officer", "accept", {}), ("officer", "depart", {}),
        ("officer", "arrive", {"lat": lat, "lon": lon + 0.0001}),
        ("officer", "handle", {"lat": lat, "lon": lon, "handling": {"measure": "rectification_order",
                                                                    "party_name": "某商户"}}),
        ("officer", "feed_back", {}),
        ("inspector", "check", {"passed": True, "lat": lat, "lon": lon}),
        ("shiftlead", "close", {}),
    ]
    for who, action, params in steps:
        clock.now += timedelta(minutes=5)
        if action == "handle":
            await after_photo(rt, cid, w.users["officer"], clock.now)
        await act(c, w, cid, who, action, **params)
    return cid


async def test_a_clean_loop_through_the_api_raises_no_flag(rt: Runtime, ev_client: httpx.AsyncClient,
                                                           world: World, clock: Clock) -> None:
    clock.now = T(10, 12, 9)
    await _clean_case(rt, ev_client, world, clock)
    # Same category at the same spot again, but 13 days after the first was closed: not a recurrence.
    clock.now = T(10, 25, 9)
    await _clean_case(rt, ev_client, world, clock)
    r = await ev_client.get("/api/v1/evaluation/flags", params={"month": "2026-10"}, headers=world.h("commander"))
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == []


async def test_a_loop_closed_without_photo_or_position_is_flagged(rt: Runtime, ev_client: httpx.AsyncClient,
                                                                 world: World, clock: Clock) -> None:
    w = world
    clock.now = T(10, 12, 9)
    cid = int((await new_case(ev_client, w))["id"])
    for who, action, params in [
        ("shiftlead", "file", {}),
        ("dispatcher", "dispatch", {"department_id": w.departments["enforcement"], "officer_id": w.users["officer"]}),
        ("officer", "accept", {}), ("officer", "arrive", {}),
        ("officer", "handle", {"handling": {"measure": "on_the_spot_fix"}}),
        ("officer", "feed_back", {}), ("inspector", "check", {"passed": True}), ("shiftlead", "close", {}),
    ]:
        clock.now += timedelta(minutes=5)
        await act(ev_client, w, cid, who, action, **params)
    r = await ev_client.get("/api/v1/evaluation/flags", params={"from": "2026-10-01", "to": "2026-10-31"},
                            headers=w.h("commander"))
    flags = {f["rule"]: f for f in r.json()["flags"]}
    assert sorted(flags) == ["no_after_photo", "no_position"]
    assert [c["case_id"] for c in flags["no_position"]["cases"]] == [cid]
    assert flags["no_position"]["subject"] == "officer" and flags["no_position"]["subject_key"] == \
        f"officer:{w.users['officer']}"


async def test_a_review_is_recorded_once_and_audited(rt: Runtime, ev_client: httpx.AsyncClient, world: World,
                                                     clock: Clock) -> None:
    w = world
    h = await generate(rt, months=1, end=END, per_month=30, seed=5)
    assert h.planted["fine_without_order"]
    r = await ev_client.get("/api/v1/evaluation/flags", params={"month": "2026-10", "rule": "fine_without_order"},
                            headers=w.h("shiftlead"))
    flag = r.json()["flags"][0]
    body = {"month": "2026-10", "rule": "fine_without_order", "subject_key": flag["subject_key"],
            "decision": "referred", "note": "移交法制科核查"}
    r = await ev_client.post("/api/v1/evaluation/flags/reviews", json=body, headers=w.h("officer"))
    assert r.status_code == 403
    r = await ev_client.post("/api/v1/evaluation/flags/reviews", json=body, headers=w.h("commander"))
    assert r.status_code == 201, r.text
    assert r.json()["decision"] == "referred"
    again = await ev_client.post("/api/v1/evaluation/flags/reviews", json=body, headers=w.h("shiftlead"))
    assert again.status_code == 409 and again.json()["error"]["field"] == "subject_key"
    missing = await ev_client.post("/api/v1/evaluation/flags/reviews", json={**body, "subject_key": "officer:999999"},
                                   headers=w.h("commander"))
    assert missing.status_code == 404
    bad = await ev_client.post("/api/v1/evaluation/flags/reviews", json={**body, "decision": "ignore"},
                               headers=w.h("commander"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"
    listed = await ev_client.get("/api/v1/evaluation/flags", params={"month": "2026-10", "rule": "fine_without_order"},
                                 headers=w.h("commander"))
    assert listed.json()["flags"][0]["review"]["decision"] == "referred"
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok
        entries = await audit_service.history(s, "flag_review", 1)
    assert [e.action for e in entries] == ["evaluation.flag_reviewed"]


@pytest.mark.parametrize("params, field", [
    ({"month": "2026-13"}, "month"), ({"from": "2026-10-01"}, "month"), ({"from": "2026-10-x", "to": "2026-10-02"},
                                                                        "from"),
    ({"from": "2026-10-05", "to": "2026-10-01"}, "to"), ({"month": "2026-10", "rule": "nope"}, "rule"),
])
async def test_bad_periods_and_rules_are_refused_by_name(ev_client: httpx.AsyncClient, world: World,
                                                         params: dict[str, str], field: str) -> None:
    r = await ev_client.get("/api/v1/evaluation/flags", params=params, headers=world.h("commander"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field


def test_period_of_the_history_window_is_in_local_time() -> None:
    from cityops.demo.history import window

    p = window(END, 3, ZoneInfo("Asia/Shanghai"))
    assert p.start == T(8, 1) and p.end == END


async def test_without_the_evidence_table_timeline_attachments_count(rt: Runtime, builder: Builder,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_table(session: object, name: str) -> bool:
        return False

    monkeypatch.setattr("cityops.evaluation.flags.evidence.has_table", no_table)
    photo = await builder.case(filed_at=T(10, 5, 9), status="closed", closed_at=T(10, 5, 12),
                               events=[("arrive", T(10, 5, 10)), ("handle", T(10, 5, 11), "17")])
    bare = await builder.case(filed_at=T(10, 6, 9), status="closed", closed_at=T(10, 6, 12),
                              events=[("arrive", T(10, 6, 10)), ("handle", T(10, 6, 11))])
    found = [f for f in await _flags(rt, parse_month("2026-10", ZoneInfo("Asia/Shanghai")))
             if f.flag.rule == "no_after_photo"]
    assert [f.flag.case_ids for f in found] == [(bare,)] and photo != bare
