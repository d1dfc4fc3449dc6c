"""Satisfaction survey: the month's call-back list of phone-reported cases (drawn once, reproducible), recording
calls, single-use rating links for portal / Open311 reporters — and the answers counted in the satisfaction rate."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from cityops.audit import service as audit_service
from cityops.evaluation.models import SurveyResponse
from cityops.runtime import Runtime
from evaluation.ev_support import Builder, Clock, T
from support import World


@pytest.fixture
async def closed(builder: Builder, clock: Clock) -> dict[str, list[int]]:
    """October: 12 closed hotline cases, 2 closed public, 1 closed Open311, 1 hotline already rated, 1 open."""
    out: dict[str, list[int]] = {"hotline": [], "public": [], "open311": []}
    for i in range(12):
        out["hotline"].append(await builder.case(filed_at=T(10, 2 + i, 9), status="closed", channel="hotline",
                                                 closed_at=T(10, 2 + i, 12), reporter_phone="13912345678",
                                                 reporter_name="王先生"))
    for ch in ("public", "public", "open311"):
        out[ch].append(await builder.case(filed_at=T(10, 20, 9), status="closed", channel=ch,
                                          closed_at=T(10, 20, 12)))
    await builder.case(filed_at=T(10, 21, 9), status="evaluated", channel="hotline", closed_at=T(10, 21, 12),
                       satisfaction="satisfied")
    await builder.case(filed_at=T(10, 22, 9), status="dispatched", channel="hotline")
    clock.now = T(11, 3, 10)
    return out


async def test_callback_list_is_drawn_once(ev_client: httpx.AsyncClient, world: World,
                                           closed: dict[str, list[int]]) -> None:
    c, w = ev_client, world
    r = await c.post("/api/v1/evaluation/survey/callbacks/sample", params={"month": "2026-10"}, headers=w.h("intake"))
    assert r.status_code == 201, r.text
    first = r.json()
    # 12 unrated closed hotline cases: 20 % is 3, the minimum is 5.
    assert first["drawn_now"] and len(first["items"]) == 5
    assert {i["case_id"] for i in first["items"]} <= set(closed["hotline"])
    assert first["items"][0]["reporter_phone"] == "13912345678"  # the operator dials it
    again = await c.post("/api/v1/evaluation/survey/callbacks/sample", params={"month": "2026-10"},
                         headers=w.h("shiftlead"))
    assert again.status_code == 200 and not again.json()["drawn_now"]
    assert again.json()["items"] == first["items"]
    r = await c.post("/api/v1/evaluation/survey/callbacks/sample", params={"month": "2026-10"},
                     headers=w.h("officer"))
    assert r.status_code == 403


async def test_recording_calls_feeds_the_satisfaction_rate(ev_client: httpx.AsyncClient, world: World,
                                                           closed: dict[str, list[int]], rt: Runtime) -> None:
    c, w = ev_client, world
    items = (await c.post("/api/v1/evaluation/survey/callbacks/sample", params={"month": "2026-10"},
                          headers=w.h("intake"))).json()["items"]
    url = "/api/v1/evaluation/survey/callbacks/{}"
    bad = await c.post(url.format(items[0]["id"]), json={"outcome": "reached"}, headers=w.h("intake"))
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "satisfaction"
    r = await c.post(url.format(items[0]["id"]), json={"outcome": "unreachable", "note": "无人接听"},
                     headers=w.h("intake"))
    assert r.status_code == 200 and r.json()["status"] == "unreachable" and r.json()["attempts"] == 1
    r = await c.post(url.format(items[0]["id"]), json={"outcome": "reached", "satisfaction": "basically_satisfied"},
                     headers=w.h("intake"))
    assert r.json()["status"] == "reached" and r.json()["attempts"] == 2
    r = await c.post(url.format(items[0]["id"]), json={"outcome": "declined"}, headers=w.h("intake"))
    assert r.status_code == 409
    await c.post(url.format(items[1]["id"]), json={"outcome": "reached", "satisfaction": "dissatisfied"},
                 headers=w.h("intake"))
    await c.post(url.format(items[2]["id"]), json={"outcome": "declined"}, headers=w.h("intake"))
    assert (await c.post(url.format(999999), json={"outcome": "declined"}, headers=w.h("intake"))).status_code == 404
    ind = (await c.get("/api/v1/evaluation/indicators", params={"month": "2026-10"},
                       headers=w.h("commander"))).json()["total"]
    # Rated: the one evaluated case (满意) and two call-backs (基本满意, 不满意) → 2 of 3.
    assert ind["counts"]["rated"] == 3 and ind["values"]["satisfaction_rate"] == pytest.approx(2 / 3)
    async with rt.sessionmaker() as s:
        assert (await audit_service.verify(s)).ok


async def test_rating_links_are_single_use(ev_client: httpx.AsyncClient, world: World,
                                           closed: dict[str, list[int]], rt: Runtime) -> None:
    c, w = ev_client, world
    r = await c.post("/api/v1/evaluation/survey/links", json={"month": "2026-10"}, headers=w.h("intake"))
    assert r.status_code == 201, r.text
    links = r.json()
    assert sorted(ln["case_id"] for ln in links) == sorted(closed["public"] + closed["open311"])
    assert {ln["channel"] for ln in links} == {"portal", "open311"}
    # Issuing again gives nothing new while those links are live.
    assert (await c.post("/api/v1/evaluation/survey/links", json={"month": "2026-10"},
                         headers=w.h("intake"))).json() == []
    path = links[0]["path"]
    seen = await c.get(path)  # no login: the link is the credential
    assert seen.status_code == 200 and seen.json()["answered"] is False
    assert (await c.post(path, json={"satisfaction": "so-so"})).status_code == 422
    ok = await c.post(path, json={"satisfaction": "satisfied", "comment": "处理很快"})
    assert ok.status_code == 201 and ok.json()["channel"] == links[0]["channel"]
    assert (await c.post(path, json={"satisfaction": "dissatisfied"})).status_code == 409
    assert (await c.get("/api/v1/evaluation/survey/answer/not-a-token")).status_code == 404
    async with rt.sessionmaker() as s:
        got = (await s.execute(select(SurveyResponse.case_id, SurveyResponse.comment))).all()
    assert got == [(links[0]["case_id"], "处理很快")]


async def test_links_expire(ev_client: httpx.AsyncClient, world: World, closed: dict[str, list[int]],
                            clock: Clock) -> None:
    links = (await ev_client.post("/api/v1/evaluation/survey/links", json={"month": "2026-10"},
                                  headers=world.h("intake"))).json()
    clock.now = T(12, 31)  # more than 30 days later
    r = await ev_client.post(links[0]["path"], json={"satisfaction": "satisfied"})
    assert r.status_code == 404 and r.json()["error"]["field"] == "token"
