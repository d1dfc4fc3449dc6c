"""GET requests with the spec's filters and defaults, the extensions (paging, updated_*), FixMyStreet's updates,
and what a member of the public can never read (who reported, their phone and e-mail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from cityops.case.models import Case
from cityops.open311.state import state_for
from cityops.runtime import Runtime
from open311.o311 import BASE, both, errors_of, post
from open311.spec_schemas import EXTENDED_REQUESTS, REQUESTS, UPDATES
from support import World, act

SH = ZoneInfo("Asia/Shanghai")


async def _make(client: httpx.AsyncClient, w: World, key: str, n: int = 1, code: str = "06010",
                **extra: Any) -> list[str]:
    lat, lon = w.inside
    ids = []
    for i in range(n):
        form = {"service_code": code, "lat": str(lat), "long": str(lon), "description": f"第{i}处", **extra}
        if code == "06010":
            form.setdefault("attribute[condition]", "01")
        r = await post(client, key, form)
        assert r.status_code == 200, r.text
        ids.append(r.json()[0]["service_request_id"])
    return ids


async def _set(rt: Runtime, sid: str, **values: datetime) -> None:
    """Move a case in time (test setup), and drop cached answers: this write bypasses the services."""
    async with rt.sessionmaker() as s:
        await s.execute(update(Case).where(Case.case_no == sid).values(**values))
        await s.commit()
    state_for(rt).cache.clear()


async def _ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [r["service_request_id"] for r in await both(client, "requests", REQUESTS, "service_requests", **params)]


async def _case_id(client: httpx.AsyncClient, w: World, sid: str) -> int:
    r = await client.get("/api/v1/cases", params={"q": sid}, headers=w.h("commander"))
    return int(r.json()["items"][0]["id"])


async def test_dates_default_to_the_last_90_days_and_span_at_most_90(client: httpx.AsyncClient, world: World,
                                                                     api_key: str, rt: Runtime) -> None:
    old, mid, new = await _make(client, world, api_key, 3)
    now = datetime.now(UTC)
    await _set(rt, old, created_at=now - timedelta(days=100))
    await _set(rt, mid, created_at=now - timedelta(days=60))
    assert await _ids(client) == [new, mid]  # newest first; the 100-day-old one is outside the default window
    w3c = {"start_date": (now - timedelta(days=120)).isoformat(), "end_date": (now - timedelta(days=95)).isoformat()}
    assert await _ids(client, **w3c) == [old]
    # start_date alone: that day and the 90 after it; end_date alone: the 90 days before it.
    assert await _ids(client, start_date=(now - timedelta(days=101)).isoformat()) == [mid, old]
    assert await _ids(client, end_date=(now - timedelta(days=50)).isoformat()) == [mid, old]
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}
    assert errors_of(await client.get(f"{BASE}/requests.json", params=too_long), 400) == [
        "start_date to end_date may not span more than 90 days"]
    backwards = {"start_date": "2026-02-01T00:00:00+08:00", "end_date": "2026-01-01T00:00:00+08:00"}
    assert errors_of(await client.get(f"{BASE}/requests.xml", params=backwards), 400) == [
        "end_date is before start_date"]
    # Exactly 90 days is allowed.
    assert await _ids(client, start_date="2026-01-01T00:00:00Z", end_date="2026-04-01T00:00:00Z") == []


async def test_service_request_id_overrides_every_other_filter(client: httpx.AsyncClient, world: World,
                                                               api_key: str, rt: Runtime) -> None:
    old, new = await _make(client, world, api_key, 2)
    await _set(rt, old, created_at=datetime.now(UTC) - timedelta(days=400))
    got = await _ids(client, service_request_id=f"{old},{new},2000010100001", status="closed",
                     service_code="06029", start_date="2026-01-01T00:00:00Z")
    assert sorted(got) == sorted([old, new])  # an unknown id is simply not found
    assert errors_of(await client.get(f"{BASE}/requests.json", params={"service_request_id": "1;DROP"}), 400) == [
        "service_request_id '1;DROP' is not a request id"]


async def test_service_code_and_status_filters(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    w = world
    (garbage,) = await _make(client, w, api_key)
    (bbq,) = await _make(client, w, api_key, code="06029")
    (voided,) = await _make(client, w, api_key)
    await act(client, w, await _case_id(client, w, voided), "shiftlead", "void", note="重复上报")
    assert await _ids(client, service_code="06029") == [bbq]
    assert await _ids(client, service_code="06029,06010") == [voided, bbq, garbage]
    assert await _ids(client, service_code=["06029", "06010"]) == [voided, bbq, garbage]  # repeated, too
    assert await _ids(client, status="closed") == [voided]  # 作废 voided counts as closed
    assert await _ids(client, status="open") == [bbq, garbage]
    assert await _ids(client, status="open,closed") == [voided, bbq, garbage]
    assert errors_of(await client.get(f"{BASE}/requests.json", params={"service_code": "99999"}), 400) == [
        "service_code '99999' is not one of this endpoint's services"]
    one = (await both(client, f"requests/{voided}", REQUESTS, "service_requests"))[0]
    assert (one["status"], one["status_notes"]) == ("closed", "重复上报")


async def test_updated_after_and_before(client: httpx.AsyncClient, world: World, api_key: str, rt: Runtime) -> None:
    a, b, c = await _make(client, world, api_key, 3)
    base = datetime(2026, 11, 1, 8, 0, tzinfo=SH)
    for sid, hours in ((a, 1), (b, 5), (c, 9)):
        await _set(rt, sid, updated_at=base + timedelta(hours=hours))
    after = (base + timedelta(hours=2)).isoformat()
    before = (base + timedelta(hours=6)).isoformat()
    assert await _ids(client, updated_after=after) == [c, b]
    assert await _ids(client, updated_after=after, updated_before=before) == [b]
    assert await _ids(client, updated_before=before) == [b, a]
    got = (await both(client, f"requests/{b}", REQUESTS, "service_requests"))[0]
    assert got["updated_datetime"] == "2026-11-01T13:00:00+08:00"
    assert errors_of(await client.get(f"{BASE}/requests.json", params={"updated_after": before,
                                                                       "updated_before": after}), 400) == [
        "updated_before is before updated_after"]


async def test_pages(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    ids = list(reversed(await _make(client, world, api_key, 5)))  # newest first
    pages = [await _ids(client, page_size="2", page=str(p)) for p in (1, 2, 3, 4)]
    assert pages == [ids[0:2], ids[2:4], ids[4:5], []]
    for bad in ({"page_size": "1001"}, {"page_size": "0"}, {"page": "-1"}, {"page": "x"}):
        assert errors_of(await client.get(f"{BASE}/requests.json", params=bad), 400)


async def test_after_dispatch_agency_deadline_and_notes(client: httpx.AsyncClient, world: World,
                                                        api_key: str) -> None:
    w = world
    (sid,) = await _make(client, w, api_key)
    cid = await _case_id(client, w, sid)
    await act(client, w, cid, "shiftlead", "file")
    case = await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["sanitation"],
                     note="请环卫处尽快清理")
    got = (await both(client, f"requests/{sid}", EXTENDED_REQUESTS, "service_requests", extensions="true"))[0]
    assert got["status"] == "open"
    assert got["agency_responsible"] == "环卫处"
    due = datetime.fromisoformat(case["case_clock"]["due_at"])
    assert got["expected_datetime"] == due.astimezone(SH).isoformat(timespec="seconds")
    assert got["status_notes"] == "请环卫处尽快清理"
    assert got["extended_attributes"]["detailed_status"] == "dispatched"
    assert [n["type"] for n in got["notes"]] == ["submitted", "file", "dispatch"]
    assert got["notes"][2]["description"] == "已派遣 dispatched: 请环卫处尽快清理"


async def test_no_personal_data_is_published(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    w = world
    form = {"first_name": "三", "last_name": "张", "phone": "13912345678", "email": "zhang.san@example.org",
            "account_id": "acct-42", "device_id": "device-42",
            "description": "门口垃圾，联系我 13812345678 或 li.si@example.com，身份证 410802199001011234"}
    (sid,) = await _make(client, w, api_key, **form)
    cid = await _case_id(client, w, sid)
    await act(client, w, cid, "intake", "send_verify", inspector_id=w.users["inspector"],
              note="已联系 13700001111")
    bodies = []
    for fmt in ("json", "xml"):
        for path, params in (("requests", {}), ("requests", {"extensions": "true"}), (f"requests/{sid}", {}),
                             (f"requests/{sid}", {"extensions": "true"}), ("servicerequestupdates", {})):
            r = await client.get(f"{BASE}/{path}.{fmt}", params=params)
            assert r.status_code == 200
            bodies.append(r.text)
    for text in bodies:
        for secret in ("张三", "13912345678", "zhang.san", "acct-42", "device-42", "13812345678", "li.si",
                       "199001011234", "13700001111", "inspector"):
            assert secret not in text, (secret, text[:300])
    got = (await both(client, f"requests/{sid}", REQUESTS, "service_requests"))[0]
    assert got["description"] == "门口垃圾，联系我 138****5678 或 l***@example.com，身份证 410802********1234"
    assert got["status_notes"] == "已联系 137****1111"


async def test_fixmystreet_updates_list_each_public_change(client: httpx.AsyncClient, world: World,
                                                           api_key: str) -> None:
    w = world
    (sid,) = await _make(client, w, api_key)
    cid = await _case_id(client, w, sid)
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "commander", "escalate", note="领导督办")  # internal: not an update
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"])
    body = await both(client, "servicerequestupdates", UPDATES, "service_requests_updates")
    assert [(u["service_request_id"], u["status"], u["external_status_code"]) for u in body] == [
        (sid, "action_scheduled", "filed"), (sid, "in_progress", "dispatched")]
    assert all("督办" not in u["description"] for u in body)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await both(client, "servicerequestupdates", UPDATES, "service_requests_updates", start_date=later) == []


async def test_extensions_must_be_a_boolean(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    (sid,) = await _make(client, world, api_key)
    for path in ("requests", f"requests/{sid}"):
        assert errors_of(await client.get(f"{BASE}/{path}.json", params={"extensions": "maybe"}), 400) == [
            "extensions must be true or false"]
    plain = (await client.get(f"{BASE}/requests/{sid}.json", params={"extensions": "false"})).json()[0]
    assert "extended_attributes" not in plain
