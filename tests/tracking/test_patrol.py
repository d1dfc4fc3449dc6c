"""Patrol assignments, coverage computed from the track, and the road-segment state layer (路段治理状态).

Roads over the world's 2 × 2 grids (0.01° squares from 35.00 N 113.00 E): H1 runs east along 35.005 N through
grid 01, H2 continues through grid 02; V1 runs north along 113.005 E through grid 01, V2 along 113.015 E through
grid 04. At 35° N, 0.01° of longitude is 910.9 m and 0.01° of latitude 1,112.0 m."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from trk import Clock, register, report, settle

from cityops.runtime import Runtime
from cityops.tracking import patrol_service
from support import World, new_case


def _roads() -> dict[str, Any]:
    def seg(code: str, a: tuple[float, float], b: tuple[float, float]) -> dict[str, Any]:
        return {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[a[1], a[0]], [b[1], b[0]]]},
                "properties": {"layer": "road", "code": code, "name": code}}

    return {"type": "FeatureCollection", "features": [
        seg("H1", (35.005, 113.000), (35.005, 113.010)), seg("H2", (35.005, 113.010), (35.005, 113.020)),
        seg("V1", (35.000, 113.005), (35.010, 113.005)), seg("V2", (35.010, 113.015), (35.020, 113.015))]}


async def _setup(c: httpx.AsyncClient, w: World, clock: Clock) -> dict[str, int]:
    r = await c.post("/api/v1/geo/import?layer=road", json=_roads(), headers=w.h("admin"))
    assert r.status_code == 200, r.text
    r = await c.get("/api/v1/geo/layers/road")
    ids = {f["properties"]["code"]: f["id"] for f in r.json()["features"]}
    await register(c, w, "patrol-1", "officer")
    t0 = clock.now - timedelta(minutes=40)
    for i in range(5):  # north along V1 for 445 m, then the phone is off for 10 minutes
        await report(c, "patrol-1", 35.000 + 0.001 * i, 113.005, t0 + timedelta(seconds=60 * i))
    t1 = t0 + timedelta(minutes=15)
    for j in range(10):  # east along H1 from its west end to 113.009 E (820 m of its 911 m)
        await report(c, "patrol-1", 35.005, 113.000 + 0.001 * j, t1 + timedelta(seconds=60 * j))
    return ids


async def test_coverage_of_an_assignment(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    ids = await _setup(tc, w, clock)
    await settle(rt)
    body = {"officer_id": w.users["officer"], "starts_at": (clock.now - timedelta(hours=1)).isoformat(),
            "ends_at": (clock.now + timedelta(hours=7)).isoformat(), "grid_ids": [w.grids["41080200100101"]],
            "segment_ids": [ids["H2"]], "note": "早班"}
    r = await tc.post("/api/v1/tracking/patrols", json=body, headers=w.h("enf_staff"))
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    r = await tc.get(f"/api/v1/tracking/patrols/{pid}/coverage", headers=w.h("officer"))
    cov = r.json()
    shares = {s["code"]: s["share"] for s in cov["segments"]}
    assert sorted(shares) == ["H1", "H2", "V1"]  # grid 01 brings H1 and V1 (running through it), H2 explicit
    # H1: 820 m walked + 25 m of GPS margin = 845 of 911 m; V1: 445 + 25 m, and H1's 50 m-wide corridor crosses it
    assert shares["H1"] == pytest.approx(845.0 / 910.9, abs=0.003)
    assert shares["V1"] == pytest.approx((444.8 + 25 + 50) / 1112.0, abs=0.003)
    assert shares["H2"] == 0.0
    assert (cov["traversed"], cov["assigned"], cov["coverage"], cov["fixes"]) == (1, 3, 0.333, 15)
    r = await tc.get("/api/v1/tracking/patrols", headers=w.h("officer"))
    assert [p["id"] for p in r.json()] == [pid]
    r = await tc.get("/api/v1/tracking/patrols", headers=w.h("officer2"))
    assert r.json() == []  # another officer's shift is not theirs to see
    r = await tc.get(f"/api/v1/tracking/patrols/{pid}/coverage", headers=w.h("officer2"))
    assert r.status_code == 404


async def test_patrol_assignment_refusals(tc: httpx.AsyncClient, world: World, clock: Clock) -> None:
    w = world
    start = clock.now.isoformat()
    cases = [
        ({"officer_id": w.users["officer"], "starts_at": start, "ends_at": start, "grid_ids": [w.grids[
            "41080200100101"]]}, 422, "ends_at"),
        ({"officer_id": w.users["officer"], "starts_at": start,
          "ends_at": (clock.now + timedelta(hours=2)).isoformat()}, 422, "segment_ids"),
        ({"officer_id": w.users["officer"], "starts_at": start, "ends_at": (clock.now + timedelta(hours=2)).isoformat(),
          "segment_ids": [9999]}, 422, "segment_ids"),
        ({"officer_id": w.users["dispatcher"], "starts_at": start,
          "ends_at": (clock.now + timedelta(hours=2)).isoformat(), "grid_ids": [w.grids["41080200100101"]]},
         422, "officer_id"),
    ]
    for body, status, field in cases:
        r = await tc.post("/api/v1/tracking/patrols", json=body, headers=w.h("dispatcher"))
        assert (r.status_code, r.json()["error"]["field"]) == (status, field), body
    body = {"officer_id": w.users["officer"], "starts_at": start,
            "ends_at": (clock.now + timedelta(hours=2)).isoformat(), "grid_ids": [w.grids["41080200100101"]]}
    r = await tc.post("/api/v1/tracking/patrols", json=body, headers=w.h("san_staff"))  # not their officer
    assert r.status_code == 403


async def test_road_segment_state_layer(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    ids = await _setup(tc, w, clock)
    await new_case(tc, w, lat=35.005, lon=113.015)  # on H2
    await settle(rt)
    r = await tc.get("/api/v1/tracking/road-segments/state", headers=w.h("commander"))
    assert r.status_code == 200
    props = {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}
    assert {k: (p["state"], p["open_cases"], p["overdue_cases"]) for k, p in props.items()} == {
        "H1": ("ok", 0, 0), "H2": ("open_cases", 1, 0), "V1": ("ok", 0, 0), "V2": ("unpatrolled", 0, 0)}
    # last patrolled: H1 at the last fix on it (113.009 E, 9 minutes after the second walk began)
    assert props["H1"]["last_patrolled_at"] == (clock.now - timedelta(minutes=25) + timedelta(minutes=9)).isoformat()
    assert props["H1"]["last_officer_id"] == w.users["officer"]
    # Three days later: the case missed its filing deadline, nobody has patrolled since.
    async with rt.sessionmaker() as s:
        later = await patrol_service.segment_states(rt, s, now=clock.now + timedelta(days=3), stale_hours=24)
    states = {f["properties"]["code"]: f["properties"]["state"] for f in later["features"]}
    assert states == {"H1": "unpatrolled", "H2": "overdue", "V1": "unpatrolled", "V2": "unpatrolled"}
    assert ids["H1"] in {f["id"] for f in later["features"]}
