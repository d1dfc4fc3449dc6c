"""Reporting a case (信息收集) and listing cases: bad input is refused with the field named and nothing stored,
retries with an Idempotency-Key never make a second case, case numbers are unique and sortable, each role sees
only the cases (and phone numbers) it should, and the list filters do what they say."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from cityops.auth import service as auth_service
from cityops.auth.service import principal_for
from cityops.case import service as case_service
from cityops.case.schemas import CaseCreate
from cityops.config import Settings
from cityops.db import writing
from cityops.runtime import Runtime
from support import World, act, new_case

SH = ZoneInfo("Asia/Shanghai")
URL = "/api/v1/cases"


def _body(w: World, **extra: Any) -> dict[str, Any]:
    lat, lon = w.inside
    return {"lat": lat, "lon": lon, "description": "路边暴露垃圾", "category_code": "06010", **extra}


async def _total(client: httpx.AsyncClient, w: World) -> int:
    r = await client.get(URL, headers=w.h("commander"))
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


async def _ids(client: httpx.AsyncClient, w: World, who: str = "commander", **query: Any) -> list[int]:
    r = await client.get(URL, params=query, headers=w.h(who))
    assert r.status_code == 200, r.text
    body = r.json()
    ids = [int(c["id"]) for c in body["items"]]
    assert body["total"] == len(ids)  # every test list here fits on one page
    return ids


# --- refused reports -----------------------------------------------------------------------------------------

def _bad_bodies(w: World) -> list[tuple[str, dict[str, Any], str]]:
    lat, lon = w.inside
    base = _body(w)
    return [
        ("outside the district", {**base, "lat": w.outside[0], "lon": w.outside[1]}, "lat"),
        ("unknown category", {**base, "category_code": "99999"}, "category_code"),
        ("class instead of subclass", {**base, "category_code": "06"}, "category_code"),
        ("condition without category", {"lat": lat, "lon": lon, "condition_code": "01"}, "category_code"),
        ("unknown filing condition", {**base, "condition_code": "77"}, "condition_code"),
        ("lat not a number", {**base, "lat": "abc"}, "lat"),
        ("lat above 90", {**base, "lat": 91}, "lat"),
        ("lat NaN", {**base, "lat": "NaN"}, "lat"),
        ("lat nan", {**base, "lat": "nan"}, "lat"),
        ("lon Infinity", {**base, "lon": "Infinity"}, "lon"),
        ("lon -inf", {**base, "lon": "-inf"}, "lon"),
        ("lat missing", {"lon": lon, "description": "x"}, "lat"),
        ("unknown field", {**base, "priority": "high"}, "priority"),
        ("phone with letters", {**base, "reporter_phone": "138abcd5678"}, "reporter_phone"),
        ("description too long", {**base, "description": "垃" * 4001}, "description"),
        ("unknown channel", {**base, "channel": "carrier-pigeon"}, "channel"),
    ]


async def test_bad_reports_are_422_naming_the_field_and_store_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    w = world
    await new_case(client, w)
    assert await _total(client, w) == 1
    for label, body, field in _bad_bodies(w):
        r = await client.post(URL, json=body, headers=w.h("inspector"))
        assert r.status_code == 422, (label, r.status_code, r.text)
        err = r.json()["error"]
        assert err["field"] == field, (label, err)
        assert err["message"], label
        assert await _total(client, w) == 1, label
    # The limit itself is allowed: exactly 4000 characters.
    r = await client.post(URL, json=_body(w, description="垃" * 4000), headers=w.h("inspector"))
    assert r.status_code == 201 and len(r.json()["description"]) == 4000
    assert await _total(client, w) == 2


async def test_html_in_the_description_is_kept_verbatim_as_text(client: httpx.AsyncClient, world: World) -> None:
    w = world
    text = '<script>alert("x")</script><b>井盖</b> & <img src=x onerror=alert(1)>'
    created = await new_case(client, w, who="resident", description=text)
    assert created["description"] == text
    body = (await client.get(f"{URL}/{created['id']}", headers=w.h("commander"))).json()
    assert body["description"] == text
    assert body["timeline"][0]["action"] == "report" and body["timeline"][0]["note"] == text
    assert body["title"] == "暴露垃圾"  # the category's name, not the markup


# --- Idempotency-Key -----------------------------------------------------------------------------------------

async def test_same_key_same_body_returns_the_first_case(client: httpx.AsyncClient, world: World) -> None:
    w = world
    headers = {**w.h("resident"), "Idempotency-Key": "app-7f3a-0001"}
    first = await client.post(URL, json=_body(w), headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = await client.post(URL, json=_body(w), headers=headers)
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["case_no"] == first.json()["case_no"]
    assert again.headers["Location"] == f"{URL}/{first.json()['id']}"
    assert await _total(client, w) == 1

    # The same key with another body is a client bug: refused, nothing stored.
    r = await client.post(URL, json=_body(w, description="另一处垃圾"), headers=headers)
    assert r.status_code == 409 and r.json()["error"]["field"] == "Idempotency-Key"
    assert await _total(client, w) == 1

    # Keys belong to a user: another user's identical key makes their own case.
    other = await client.post(URL, json=_body(w), headers={**w.h("resident2"), "Idempotency-Key": "app-7f3a-0001"})
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    assert await _total(client, w) == 2

    r = await client.post(URL, json=_body(w), headers={**w.h("resident"), "Idempotency-Key": "k" * 129})
    assert r.status_code == 422 and r.json()["error"]["field"] == "Idempotency-Key"
    assert await _total(client, w) == 2


async def test_concurrent_retries_with_one_key_make_one_case(client: httpx.AsyncClient, world: World) -> None:
    w = world
    headers = {**w.h("resident"), "Idempotency-Key": "retry-storm"}
    responses = await asyncio.gather(*(client.post(URL, json=_body(w), headers=headers) for _ in range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 200, 201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _total(client, w) == 1


# --- case numbers --------------------------------------------------------------------------------------------

async def test_case_numbers_are_day_plus_sequence(client: httpx.AsyncClient, world: World) -> None:
    w = world
    made = [await new_case(client, w) for _ in range(3)]
    nos = [c["case_no"] for c in made]
    for c in made:
        assert re.fullmatch(r"\d{13}", c["case_no"])
        local_day = datetime.fromisoformat(c["created_at"]).astimezone(SH)
        assert c["case_no"][:8] == f"{local_day:%Y%m%d}"
    # the first three of the day (assuming the test does not straddle midnight in Shanghai)
    assert [n[8:] for n in nos] == ["00001", "00002", "00003"]
    assert sorted(nos) == nos  # sorting by number is sorting by arrival


async def test_concurrent_reports_get_distinct_numbers(client: httpx.AsyncClient, world: World) -> None:
    w = world
    responses = await asyncio.gather(*(client.post(URL, json=_body(w), headers=w.h("inspector")) for _ in range(6)))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses if r.status_code != 201]
    nos = sorted(r.json()["case_no"] for r in responses)
    day = nos[0][:8]
    assert nos == [f"{day}{n:05d}" for n in range(1, 7)]


async def test_numbers_follow_the_local_day(rt: Runtime, world: World) -> None:
    w = world

    async def make(now: datetime) -> str:
        async with rt.sessionmaker() as s:
            caller = await principal_for(s, w.tokens["inspector"], now)
            case, _ = await case_service.create(rt, s, data=CaseCreate(**_body(w)), caller=caller, now=now)
        return case.case_no

    # 2026-11-23 15:59 UTC is 23:59 in Shanghai; 16:01 UTC is already 00:01 on the 24th there.
    assert await make(datetime(2026, 11, 23, 15, 58, tzinfo=UTC)) == "2026112300001"
    assert await make(datetime(2026, 11, 23, 15, 59, tzinfo=UTC)) == "2026112300002"
    assert await make(datetime(2026, 11, 23, 16, 1, tzinfo=UTC)) == "2026112400001"
    assert await make(datetime(2026, 11, 24, 1, 0, tzinfo=UTC)) == "2026112400002"


async def test_two_server_processes_number_the_first_reports_of_a_day_distinctly(
    rt: Runtime, settings: Settings, world: World
) -> None:
    w = world
    other = Runtime.create(settings)  # a second server process: own engine, own pool, own in-process queues

    async def make(runtime: Runtime, now: datetime, i: int) -> str:
        async with runtime.sessionmaker() as s:
            caller = await principal_for(s, w.tokens["inspector"], now)
            case, _ = await case_service.create(runtime, s, data=CaseCreate(**_body(w, description=f"第{i}处")),
                                                caller=caller, now=now)
        return case.case_no

    try:
        for runtime in (rt, other):  # warm both processes' caches so their writes really overlap
            async with runtime.sessionmaker() as s:
                await runtime.area_index(s)
                await runtime.calendar(s)
        for d in range(1, 6):  # five fresh days: each day's first reports race for the day's counter
            day = datetime(2026, 11, d, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai on 1 … 5 November
            nos = await asyncio.gather(*(make(rt if i % 2 else other, day, i) for i in range(4)))
            assert sorted(nos) == [f"202611{d:02d}{n:05d}" for n in range(1, 5)]
    finally:
        await other.close()


# --- visibility ----------------------------------------------------------------------------------------------

async def test_residents_see_only_their_own_cases(client: httpx.AsyncClient, world: World) -> None:
    w = world
    mine = await new_case(client, w, who="resident", reporter_phone="13812345678")
    theirs = await new_case(client, w, who="resident2")
    assert await _ids(client, w, "resident") == [mine["id"]]
    assert await _ids(client, w, "resident2") == [theirs["id"]]
    r = await client.get(f"{URL}/{theirs['id']}", headers=w.h("resident"))
    assert r.status_code == 404
    # "not yours" looks exactly like "does not exist"
    assert r.json()["error"]["code"] == (await client.get(f"{URL}/999999", headers=w.h("resident"))).json()[
        "error"]["code"]
    await act(client, w, theirs["id"], "resident", "evaluate", expect=404, satisfaction="satisfied")


async def test_officers_see_only_their_departments_cases(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "shiftlead", "file")
    assert await _ids(client, w, "officer") == []  # filed, not yet anybody's
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"])
    for who in ("san_officer", "san_staff"):
        assert await _ids(client, w, who) == [], who
        assert (await client.get(f"{URL}/{cid}", headers=w.h(who))).status_code == 404, who
        assert (await client.get(f"{URL}/{cid}/clocks", headers=w.h(who))).status_code == 404, who
    for who in ("officer", "officer2", "enf_staff"):
        assert await _ids(client, w, who) == [cid], who


async def _device_token(rt: Runtime, w: World, officer: str) -> str:
    from cityops.auth.models import User

    async with rt.sessionmaker() as s, writing(s):
        user = await s.get(User, w.users[officer])
        assert user is not None
        token, _ = await auth_service.issue_token(s, user=user, kind="device", now=datetime.now(UTC),
                                                  ttl=timedelta(days=1), label="执法记录仪")
    return token


async def test_reporter_phone_full_for_reporter_masked_for_staff_absent_for_others(
    client: httpx.AsyncClient, world: World, rt: Runtime
) -> None:
    w = world
    cid = (await new_case(client, w, who="resident", reporter_phone="13812345678", reporter_name="张三"))["id"]
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])

    async def seen(headers: dict[str, str]) -> tuple[str | None, str | None, str | None]:
        detail = (await client.get(f"{URL}/{cid}", headers=headers)).json()
        listed = (await client.get(URL, headers=headers)).json()["items"]
        assert [c["id"] for c in listed] == [cid]
        assert listed[0]["reporter_phone"] == detail["reporter_phone"]
        return detail["reporter_phone"], listed[0]["reporter_phone"], detail["reporter_name"]

    assert await seen(w.h("resident")) == ("13812345678", "13812345678", "张三")
    for staff in ("commander", "dispatcher", "officer", "enf_staff"):
        assert await seen(w.h(staff)) == ("138****5678", "138****5678", "张三"), staff
    device = {"Authorization": f"Bearer {await _device_token(rt, w, 'officer')}"}
    assert await seen(device) == (None, None, None)  # the officer's body camera gets no personal data


# --- list filters --------------------------------------------------------------------------------------------

async def test_list_filters(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    w = world
    enf = w.departments["enforcement"]
    reported = (await new_case(client, w, who="resident", description="小区门口井盖缺失"))["id"]
    filed = (await new_case(client, w, who="intake", channel="hotline", address="人民路 12 号"))["id"]
    await act(client, w, filed, "shiftlead", "file")
    parked = (await new_case(client, w, category_code="09009", description="人行道上乱停车"))["id"]
    await act(client, w, parked, "shiftlead", "file")
    await act(client, w, parked, "dispatcher", "dispatch", department_id=enf)

    assert sorted(await _ids(client, w, status=["reported", "filed"])) == sorted([reported, filed])
    assert await _ids(client, w, status="dispatched") == [parked]
    assert await _ids(client, w, status="closed") == []
    assert await _ids(client, w, department_id=enf) == [parked]
    assert await _ids(client, w, channel="public") == [reported]
    assert await _ids(client, w, channel="hotline") == [filed]
    assert await _ids(client, w, category_code="09009") == [parked]
    assert await _ids(client, w, category_code="06010") == [filed, reported]  # newest first
    assert await _ids(client, w, q="井盖") == [reported]
    assert await _ids(client, w, q="人民路") == [filed]
    parked_no = (await client.get(f"{URL}/{parked}", headers=w.h("commander"))).json()["case_no"]
    assert await _ids(client, w, q=parked_no) == [parked]
    assert await _ids(client, w, q="没有这种问题") == []
    # Filters combine.
    assert await _ids(client, w, status=["reported", "dispatched"], category_code="06010") == [reported]

    # A case reported ten days ago and never filed: its 1-working-hour filing clock ran out long ago.
    now = datetime.now(UTC)
    async with rt.sessionmaker() as s:
        caller = await principal_for(s, w.tokens["inspector"], now - timedelta(days=10))
        old, _ = await case_service.create(rt, s, data=CaseCreate(**_body(w, description="旧案")), caller=caller,
                                           now=now - timedelta(days=10))
    assert await _ids(client, w, overdue="true") == [old.id]
    assert await _ids(client, w, overdue="false") == [old.id, parked, filed, reported]


async def test_pagination(client: httpx.AsyncClient, world: World) -> None:
    w = world
    ids = [(await new_case(client, w))["id"] for _ in range(5)]
    newest_first = ids[::-1]
    seen: list[int] = []
    for page, expected_len in ((1, 2), (2, 2), (3, 1), (4, 0)):  # 5 cases, 2 per page: 2 + 2 + 1, then nothing
        r = await client.get(URL, params={"page": page, "page_size": 2}, headers=w.h("commander"))
        body = r.json()
        assert (body["total"], body["page"], body["page_size"], len(body["items"])) == (5, page, 2, expected_len)
        seen += [c["id"] for c in body["items"]]
    assert seen == newest_first


@pytest.mark.parametrize(("query", "field"), [
    ({"status": "lost"}, "status"),
    ({"status": ["filed", "lost"]}, "status"),
    ({"page_size": 500}, "page_size"),
    ({"page_size": 0}, "page_size"),
    ({"page": 0}, "page"),
    ({"department_id": "enforcement"}, "department_id"),
    ({"overdue": "maybe"}, "overdue"),
    ({"created_from": "2026-11-30T08:00:00"}, "created_from"),
])
async def test_bad_list_queries_are_422_naming_the_parameter(
    client: httpx.AsyncClient, world: World, query: dict[str, Any], field: str
) -> None:
    r = await client.get(URL, params=query, headers=world.h("commander"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
