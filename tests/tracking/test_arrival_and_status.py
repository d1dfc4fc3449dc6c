"""Arrival by position, the manual on-scene flag, and officer status (CAD) driven by duty, the case workflow and
the age of the last fix."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from trk import Clock, duty, register, report, settle

from cityops.realtime.events import OfficerStatusChanged
from cityops.runtime import Runtime
from support import World, act, new_case

# At 35.005 N one degree of latitude is 111,195 m: 0.00027° ≈ 30.0 m, 0.0018° ≈ 200.2 m, 0.0045° ≈ 500.4 m.
NEAR, FAR, VERY_FAR = 0.00027, 0.0018, 0.0045


async def _case(c: httpx.AsyncClient, w: World) -> int:
    return int((await new_case(c, w))["id"])


async def _dispatched(c: httpx.AsyncClient, w: World, officer: str = "officer") -> int:
    cid = await _case(c, w)
    await act(c, w, cid, "shiftlead", "file")
    await act(c, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users[officer])
    return cid


async def _detail(c: httpx.AsyncClient, w: World, cid: int) -> dict[str, Any]:
    r = await c.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))
    return dict(r.json())


async def _officer(c: httpx.AsyncClient, w: World, name: str) -> dict[str, Any]:
    r = await c.get("/api/v1/tracking/officers", headers=w.h("dispatcher"))
    return next(o for o in r.json() if o["id"] == w.users[name])


async def test_arrival_within_radius_moves_case_on_scene_with_the_fix_as_evidence(
        tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    dev = await register(tc, w, "imei-1", "officer")
    await duty(tc, w, "officer")
    cid = await _dispatched(tc, w)
    await act(tc, w, cid, "officer", "accept")
    await act(tc, w, cid, "officer", "depart")
    lat, lon = w.inside
    await report(tc, "imei-1", lat + FAR, lon, clock.now - timedelta(seconds=20))
    assert (await _detail(tc, w, cid))["status"] == "en_route"  # 200 m away: not there yet
    await report(tc, "imei-1", lat + NEAR, lon, clock.now - timedelta(seconds=2), accuracy=6)
    case = await _detail(tc, w, cid)
    assert case["status"] == "on_scene" and case["step_clock"]["name"] == "feedback"
    entry = case["timeline"][-1]
    assert (entry["action"], entry["actor_id"], entry["actor_role"]) == ("arrive", w.users["officer"], "device")
    data = entry["data"]
    assert data["source"] == "position" and data["far_from_case"] is False and abs(data["distance_m"] - 30.0) < 0.2
    ev = data["evidence"]
    assert (ev["kind"], ev["device_id"], ev["lat"], ev["accuracy_m"]) == ("fix", dev["id"], lat + NEAR, 6.0)
    assert ev["at"] == (clock.now - timedelta(seconds=2)).isoformat()
    await settle(rt)
    officer = await _officer(tc, w, "officer")
    assert (officer["status"], officer["case_id"]) == ("on_scene", cid)
    # Further fixes on scene do not act again.
    await report(tc, "imei-1", lat, lon, clock.now - timedelta(seconds=1))
    assert len((await _detail(tc, w, cid))["timeline"]) == len(case["timeline"])


async def test_no_arrival_before_accept_nor_for_another_officer(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                                 clock: Clock) -> None:
    w = world
    await register(tc, w, "imei-2", "officer2")
    await register(tc, w, "imei-3", "officer")
    cid = await _dispatched(tc, w, "officer")
    lat, lon = w.inside
    await report(tc, "imei-3", lat, lon, clock.now - timedelta(seconds=10))  # dispatched, not accepted yet
    await act(tc, w, cid, "officer", "accept")
    await report(tc, "imei-2", lat, lon, clock.now - timedelta(seconds=5))  # a colleague standing there
    assert (await _detail(tc, w, cid))["status"] == "accepted"
    await report(tc, "imei-3", lat, lon + 0.0001, clock.now - timedelta(seconds=1))  # ≈ 9 m: arrived
    assert (await _detail(tc, w, cid))["status"] == "on_scene"


async def test_manual_arrival_far_from_the_case_is_allowed_but_flagged(tc: httpx.AsyncClient, world: World) -> None:
    w = world
    lat, lon = w.inside
    cid = await _dispatched(tc, w)
    await act(tc, w, cid, "officer", "accept")
    body = await act(tc, w, cid, "officer", "arrive", lat=lat + VERY_FAR, lon=lon)
    data = body["timeline"][-1]["data"]
    assert body["status"] == "on_scene"
    assert data["source"] == "manual" and data["far_from_case"] is True and abs(data["distance_m"] - 500.4) < 0.2
    cid2 = await _dispatched(tc, w, "officer2")
    await act(tc, w, cid2, "officer2", "accept")
    body = await act(tc, w, cid2, "officer2", "arrive", lat=lat + NEAR, lon=lon)
    assert body["timeline"][-1]["data"]["far_from_case"] is False


async def test_status_follows_duty_and_the_case_workflow(tc: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    w = world
    q = rt.bus.subscribe()
    assert (await _officer(tc, w, "officer"))["status"] == "off_duty"  # never signed on
    assert (await duty(tc, w, "officer"))["status"] == "available"
    cid = await _dispatched(tc, w)
    seen = []
    for action, params, expected in [(None, {}, "assigned"), ("accept", {}, "assigned"), ("depart", {}, "en_route"),
                                     ("arrive", {}, "on_scene"),
                                     ("handle", {"handling": {"measure": "warning"}}, "busy"),
                                     ("feed_back", {}, "available")]:
        if action:
            await act(tc, w, cid, "officer", action, **params)
        await settle(rt)
        o = await _officer(tc, w, "officer")
        seen.append((o["status"], o["case_id"]))
        assert o["status"] == expected, (action, o)
    assert seen[0] == ("assigned", cid) and seen[-1] == ("available", None)
    assert (await duty(tc, w, "officer", "busy"))["status"] == "busy"
    assert (await duty(tc, w, "officer", "off_duty"))["status"] == "off_duty"
    await asyncio.sleep(0)
    changes = []
    while not q.empty():
        ev = q.get_nowait()
        if isinstance(ev, OfficerStatusChanged) and ev.officer_id == w.users["officer"]:
            changes.append((ev.previous, ev.status))
    rt.bus.unsubscribe(q)
    assert changes == [("off_duty", "available"), ("available", "assigned"), ("assigned", "en_route"),
                       ("en_route", "on_scene"), ("on_scene", "busy"), ("busy", "available"),
                       ("available", "busy"), ("busy", "off_duty")]


async def test_duty_may_be_set_by_the_officer_their_department_or_dispatch_only(tc: httpx.AsyncClient,
                                                                                  world: World) -> None:
    w = world
    url = f"/api/v1/tracking/officers/{w.users['officer']}/duty"
    for who, status in (("officer2", 403), ("san_staff", 403), ("enf_staff", 200), ("dispatcher", 200),
                        ("resident", 403)):
        r = await tc.put(url, json={"duty": "on_duty"}, headers=w.h(who))
        assert r.status_code == status, (who, r.text)
    r = await tc.put(url, json={"duty": "napping"}, headers=w.h("officer"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "duty"


async def test_connectivity_from_the_age_of_the_last_fix(tc: httpx.AsyncClient, world: World, clock: Clock) -> None:
    w = world
    await register(tc, w, "imei-4", "officer")
    assert (await _officer(tc, w, "officer"))["connectivity"] == "offline"  # never seen
    await report(tc, "imei-4", 35.01, 113.01, clock.now)
    assert (await _officer(tc, w, "officer"))["connectivity"] == "online"
    clock.advance(minutes=5)  # older than 2 min, younger than 10 min
    assert (await _officer(tc, w, "officer"))["connectivity"] == "unknown"
    clock.advance(minutes=6)
    o = await _officer(tc, w, "officer")
    assert o["connectivity"] == "offline" and o["position"]["age_s"] == 660.0
