"""The whole trip an app makes: post → token → id → get; the bureau works the case in the console; the app's next
get shows each change (no stale answer is served from the response cache)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import httpx

from open311.o311 import both, post
from open311.spec_schemas import EXTENDED_REQUESTS, REQUESTS, TOKEN_RESPONSE, UPDATES
from support import World, act

SH = ZoneInfo("Asia/Shanghai")


async def test_post_token_get_console_get(client: httpx.AsyncClient, world: World, api_key: str) -> None:
    w = world
    lat, lon = w.inside
    r = await post(client, api_key, {"service_code": "06010", "lat": str(lat), "long": str(lon),
                                     "description": "小区门口垃圾堆了三天", "attribute[condition]": "02"}, "xml")
    assert r.status_code == 200, r.text
    token = r.headers["open311-token"]
    (by_token,) = await both(client, f"tokens/{token}", TOKEN_RESPONSE, "service_requests")
    sid = by_token["service_request_id"]

    async def state() -> dict[str, object]:
        (got,) = await both(client, f"requests/{sid}", REQUESTS, "service_requests")
        # The list (cached separately) must agree with the single request.
        listed = [x for x in await both(client, "requests", REQUESTS, "service_requests")
                  if x["service_request_id"] == sid]
        assert listed == [got]
        return dict(got)

    first = await state()
    assert (first["status"], first["status_notes"], first["agency_responsible"]) == ("open", "已上报 reported", None)
    cases = (await client.get("/api/v1/cases", params={"q": sid}, headers=w.h("commander"))).json()["items"]
    cid = cases[0]["id"]

    steps = [
        ("intake", "send_verify", {"inspector_id": w.users["inspector"]}, "open", "核实中 being verified"),
        ("inspector", "verify", {"confirmed": True, "note": "属实"}, "open", "属实"),
        ("shiftlead", "file", {"condition_code": "02", "category_code": "06010"}, "open", "已立案 filed"),
        ("dispatcher", "dispatch", {"department_id": w.departments["sanitation"]}, "open", "已派遣 dispatched"),
        ("san_officer", "accept", {}, "open", "已接单 accepted"),
        ("san_officer", "arrive", {"lat": lat, "lon": lon}, "open", "已到场 on site"),
        ("san_officer", "handle", {"handling": {"measure": "on_the_spot_fix", "party_name": "王某某"}}, "open",
         "已处置 handled"),
        ("san_officer", "feed_back", {"note": "已清运"}, "open", "已清运"),
        ("inspector", "check", {"passed": True}, "open", "已核查 checked"),
        ("shiftlead", "close", {"note": "结案"}, "closed", "结案"),
    ]
    body: dict[str, object] = {}
    for who, action, params, status, notes in steps:
        body = await act(client, w, cid, who, action, **params)
        got = await state()
        assert (got["status"], got["status_notes"]) == (status, notes), action
    final = await state()
    assert final["agency_responsible"] == "环卫处"
    closed_at = body["closed_at"]
    assert isinstance(closed_at, str)
    from datetime import datetime

    # For a closed request, updated_datetime is when it was closed.
    assert final["updated_datetime"] == datetime.fromisoformat(closed_at).astimezone(SH).isoformat(timespec="seconds")
    (ext,) = await both(client, f"requests/{sid}", EXTENDED_REQUESTS, "service_requests", extensions="true")
    assert [n["type"] for n in ext["notes"]] == ["submitted"] + [s[1] for s in steps]
    assert "王某某" not in str(ext)  # the handling party stays inside
    updates = await both(client, "servicerequestupdates", UPDATES, "service_requests_updates")
    assert [u["status"] for u in updates] == ["investigating", "investigating", "action_scheduled", "in_progress",
                                              "in_progress", "in_progress", "in_progress", "in_progress",
                                              "in_progress", "fixed"]
