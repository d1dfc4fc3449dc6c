"""The resident's private follow link and the anonymised public map."""

from __future__ import annotations

import httpx

from support import World, act, new_case


async def _close(client: httpx.AsyncClient, w: World, cid: int) -> None:
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    for a, p in (("accept", {}), ("arrive", {}), ("handle", {"handling": {"measure": "on_the_spot_fix"}}),
                 ("feed_back", {})):
        await act(client, w, cid, "officer", a, **p)
    await act(client, w, cid, "inspector", "check", passed=True)
    await act(client, w, cid, "shiftlead", "close")


async def test_follow_link_shows_progress_without_personal_data(client: httpx.AsyncClient, world: World) -> None:
    w = world
    case = await new_case(client, w, who="resident", reporter_phone="13812345678", description="我家门口的垃圾")
    code = case["follow_code"]
    assert code and len(code) >= 12
    # Only the reporter gets the code back.
    staff_view = (await client.get(f"/api/v1/cases/{case['id']}", headers=w.h("dispatcher"))).json()
    assert staff_view["follow_code"] is None

    r = await client.get(f"/api/v1/public/follow/{code}")  # no token at all
    assert r.status_code == 200
    body = r.json()
    assert (body["case_no"], body["status"], body["can_rate"]) == (case["case_no"], "reported", False)
    text = r.text
    for secret in ("13812345678", "我家门口的垃圾", "resident"):
        assert secret not in text
    await _close(client, w, case["id"])
    body = (await client.get(f"/api/v1/public/follow/{code}")).json()
    assert body["status"] == "closed" and body["can_rate"] is True
    assert [e["action"] for e in body["timeline"]] == ["report", "file", "dispatch", "arrive", "handle", "close"]

    rated = await client.post(f"/api/v1/public/follow/{code}/rating", json={"satisfaction": "basically_satisfied"})
    assert rated.status_code == 200 and rated.json()["satisfaction"] == "basically_satisfied"
    again = await client.post(f"/api/v1/public/follow/{code}/rating", json={"satisfaction": "satisfied"})
    assert again.status_code == 409  # rated once


async def test_unknown_code_and_bad_rating(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get("/api/v1/public/follow/not-a-real-code-xx")).status_code == 404
    case = await new_case(client, world, who="resident")
    r = await client.post(f"/api/v1/public/follow/{case['follow_code']}/rating", json={"satisfaction": "great"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "satisfaction"
    r = await client.post(f"/api/v1/public/follow/{case['follow_code']}/rating", json={"satisfaction": "satisfied"})
    assert r.status_code == 409  # not closed yet


async def test_public_map_is_anonymised_and_rounded(client: httpx.AsyncClient, world: World) -> None:
    w = world
    case = await new_case(client, w, who="resident", reporter_phone="13812345678", description="秘密描述")
    voided = await new_case(client, w)
    await act(client, w, voided["id"], "shiftlead", "void")
    r = await client.get("/api/v1/public/cases")
    assert r.status_code == 200
    items = r.json()
    assert [i["case_no"] for i in items] == [case["case_no"]]  # the voided one is not shown
    item = items[0]
    assert (item["lat"], item["lon"]) == (round(w.inside[0], 3), round(w.inside[1], 3))
    assert item["state"] == "open"
    assert "13812345678" not in r.text and "秘密描述" not in r.text
