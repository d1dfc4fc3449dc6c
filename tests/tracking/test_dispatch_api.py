"""Recommendation, one-click dispatch and auto-dispatch over HTTP. The world's case sits at 35.005 N 113.005 E;
officers stand due north of it, so distances are degrees of latitude × 111,195 m."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
from trk import Clock, duty, register, report, settle

from cityops.runtime import Runtime
from support import World, act, new_case

M = 111_195.08  # metres per degree of latitude
STREET = "09001"  # 无照经营游商: the enforcement brigade's


async def _filed(c: httpx.AsyncClient, w: World, code: str = STREET) -> int:
    cid = int((await new_case(c, w, category_code=code))["id"])
    await act(c, w, cid, "shiftlead", "file")
    return cid


async def _fleet(c: httpx.AsyncClient, w: World, clock: Clock) -> None:
    """officer walks 0.01° north (1,112 m); officer2 drives 0.02° north (2,224 m); san_officer is next door."""
    lat, lon = w.inside
    await register(c, w, "walker", "officer")
    await register(c, w, "car-7", "officer2", kind="vehicle")
    await register(c, w, "sweeper", "san_officer")
    for name in ("officer", "officer2", "san_officer"):
        await duty(c, w, name)
    t = clock.now - timedelta(seconds=10)
    await report(c, "walker", lat + 0.01, lon, t)
    await report(c, "car-7", lat + 0.02, lon, t)
    await report(c, "sweeper", lat + 0.0001, lon, t)


async def _recommend(c: httpx.AsyncClient, w: World, cid: int, who: str = "dispatcher", expect: int = 200,
                     **params: Any) -> dict[str, Any]:
    r = await c.get(f"/api/v1/tracking/cases/{cid}/recommendations", params=params, headers=w.h(who))
    assert r.status_code == expect, r.text
    return dict(r.json())


async def test_ranking_of_the_eligible_department(tc: httpx.AsyncClient, world: World, clock: Clock) -> None:
    w = world
    await _fleet(tc, w, clock)
    cid = await _filed(tc, w)
    body = await _recommend(tc, w, cid)
    assert body["method"] == "straight_line" and body["deadline_s"] == 900.0
    assert body["department_ids"] == [w.departments["enforcement"]]  # from the category; sanitation left out
    got = [(o["officer_id"], o["mode"], o["distance_m"], o["eta_s"], o["makes_deadline"]) for o in body["officers"]]
    # car: 2,223.9 m × 1.3 ÷ 8.3 m/s = 348.3 s; on foot: 1,112.0 m × 1.3 ÷ 1.4 m/s = 1,032.5 s > 900 s
    assert got == [(w.users["officer2"], "car", round(0.02 * M, 1), round(0.02 * M * 1.3 / 8.3, 1), True),
                   (w.users["officer"], "walk", round(0.01 * M, 1), round(0.01 * M * 1.3 / 1.4, 1), False)]
    assert body["officers"][0]["eta_minutes"] == 5.8
    await duty(tc, w, "officer2", "busy")
    body = await _recommend(tc, w, cid)
    assert [o["officer_id"] for o in body["officers"]] == [w.users["officer"]]
    assert body["excluded"] == {"off_duty": 0, "busy": 1, "no_position": 0, "offline": 0}
    clock.advance(minutes=11)  # every fix is now older than the offline timeout
    assert (await _recommend(tc, w, cid))["excluded"] == {"off_duty": 0, "busy": 1, "no_position": 0, "offline": 1}
    garbage = await _filed(tc, w, "06010")  # 暴露垃圾: sanitation's
    assert (await _recommend(tc, w, garbage))["department_ids"] == [w.departments["sanitation"]]


async def test_one_click_dispatch_then_the_officer_is_assigned(tc: httpx.AsyncClient, world: World, rt: Runtime,
                                                               clock: Clock) -> None:
    w = world
    await _fleet(tc, w, clock)
    cid = await _filed(tc, w)
    r = await tc.post(f"/api/v1/tracking/cases/{cid}/dispatch", json={"officer_id": w.users["officer2"]},
                      headers=w.h("dispatcher"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["officer_id"], r.json()["department_id"]) == (
        "dispatched", w.users["officer2"], w.departments["enforcement"])
    await settle(rt)
    body = await _recommend(tc, w, cid)  # a dispatched case can be re-assigned: officer2 is busy with it now
    assert [o["officer_id"] for o in body["officers"]] == [w.users["officer"]]
    assert body["excluded"]["busy"] == 1 and body["deadline_s"] == 900.0  # the arrive clock has not moved
    clock.advance(minutes=5)
    assert (await _recommend(tc, w, cid))["deadline_s"] == 600.0
    r = await tc.post(f"/api/v1/tracking/cases/{cid}/dispatch", json={"officer_id": w.users["officer"]},
                      headers=w.h("dispatcher"))
    assert r.json()["officer_id"] == w.users["officer"]  # re-assigned
    await settle(rt)
    r = await tc.get("/api/v1/tracking/officers", headers=w.h("dispatcher"))
    status = {o["id"]: o["status"] for o in r.json()}
    assert (status[w.users["officer"]], status[w.users["officer2"]]) == ("assigned", "available")


async def test_refusals(tc: httpx.AsyncClient, world: World, clock: Clock) -> None:
    w = world
    reported = int((await new_case(tc, w, category_code=STREET))["id"])
    await _recommend(tc, w, reported, expect=409)  # not filed yet
    cid = await _filed(tc, w)
    await _recommend(tc, w, cid, who="officer", expect=403)
    await _recommend(tc, w, 99999, expect=404)
    r = await tc.post(f"/api/v1/tracking/cases/{cid}/dispatch", json={"officer_id": w.users["dispatcher"]},
                      headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "officer_id"
    r = await tc.post(f"/api/v1/tracking/cases/{cid}/dispatch", json={"officer_id": w.users["officer"]},
                      headers=w.h("inspector"))
    assert r.status_code == 403
    detail = (await tc.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))).json()
    assert detail["status"] == "filed"


async def test_auto_dispatch_rule(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await _fleet(tc, w, clock)
    r = await tc.put("/api/v1/tracking/auto-dispatch-rules", json={"category_code": STREET}, headers=w.h("dispatcher"))
    assert r.status_code == 200, r.text
    assert (r.json()["category_code"], r.json()["enabled"], r.json()["require_deadline"]) == (STREET, True, True)
    cid = await _filed(tc, w)
    await settle(rt)
    case = (await tc.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))).json()
    assert (case["status"], case["officer_id"]) == ("dispatched", w.users["officer2"])
    entry = case["timeline"][-1]
    assert entry["action"] == "dispatch" and entry["actor_id"] == w.users["dispatcher"]
    assert entry["note"].startswith("自动派遣")
    # Nobody left who makes 15 minutes (the walker needs 17.2): the case waits for a dispatcher.
    cid2 = await _filed(tc, w)
    await settle(rt)
    assert (await tc.get(f"/api/v1/cases/{cid2}", headers=w.h("commander"))).json()["status"] == "filed"
    assert math.isclose(0.01 * M * 1.3 / 1.4 / 60, 17.2, abs_tol=0.05)
    r = await tc.get("/api/v1/tracking/auto-dispatch-rules", headers=w.h("commander"))
    rule_id = r.json()[0]["id"]
    r = await tc.delete(f"/api/v1/tracking/auto-dispatch-rules/{rule_id}", headers=w.h("dispatcher"))
    assert r.status_code == 204
    r = await tc.put("/api/v1/tracking/auto-dispatch-rules", json={"category_code": "99999"},
                     headers=w.h("dispatcher"))
    assert r.status_code in (404, 422) and r.json()["error"]["field"]


def _river_roads(lat0: float, lon0: float) -> dict[str, Any]:
    """A river north of the case: the south road carries the case, the north road is across, one bridge 1 km east."""
    kx = M * math.cos(math.radians(lat0))

    def ll(x: float, y: float) -> list[float]:
        return [lon0 + x / kx, lat0 + y / M]

    def seg(code: str, a: list[float], b: list[float]) -> dict[str, Any]:
        return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [a, b]},
                "properties": {"layer": "road", "code": code, "name": code}}

    return {"type": "FeatureCollection", "features": [
        seg("S1", ll(-1000, 0), ll(0, 0)), seg("S2", ll(0, 0), ll(1000, 0)), seg("N1", ll(-1000, 100), ll(1000, 100)),
        seg("B1", ll(1000, 0), ll(1000, 100))]}


async def test_road_network_time_when_a_street_graph_is_loaded(tc: httpx.AsyncClient, world: World,
                                                                clock: Clock) -> None:
    w = world
    lat, lon = w.inside
    r = await tc.post("/api/v1/geo/import?layer=road", json=_river_roads(lat, lon), headers=w.h("admin"))
    assert r.status_code == 200, r.text
    kx = M * math.cos(math.radians(lat))
    await register(tc, w, "across", "officer")
    await register(tc, w, "west", "officer2")
    for name in ("officer", "officer2"):
        await duty(tc, w, name)
    t = clock.now - timedelta(seconds=5)
    await report(tc, "across", lat + 100 / M, lon, t)  # 100 m away, across the river
    await report(tc, "west", lat, lon - 500 / kx, t)  # 500 m away along the same road
    body = await _recommend(tc, w, await _filed(tc, w))
    assert body["method"] == "road_network"
    assert [(o["officer_id"], round(o["travel_m"])) for o in body["officers"]] == [
        (w.users["officer2"], 500), (w.users["officer"], 2100)]
    assert [o["makes_deadline"] for o in body["officers"]] == [True, False]  # 2,100 m on foot: 25 min
