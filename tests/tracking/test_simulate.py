"""`cityops simulate` against the app: officers sign on, get devices, wander the streets reporting over the OsmAnd
endpoint, and one works a dispatched case end to end — the arrival comes from its fixes, not from a button."""

from __future__ import annotations

import random

import httpx
from trk import Clock, settle, st

from cityops.demo.district import generate_district
from cityops.runtime import Runtime
from cityops.tracking import simulate
from support import PASSWORD, World, act, new_case


async def test_simulated_officer_works_a_case(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    roads = generate_district(center_lat=35.01, center_lon=113.01, cols=6, rows=4, cell_m=150).roads
    r = await tc.post("/api/v1/geo/import?layer=road", json=roads, headers=w.h("admin"))
    assert r.status_code == 200, r.text
    net = await simulate.road_network(tc)
    rng = random.Random(3)
    officers = await simulate.prepare(tc, officers=3, password=PASSWORD, rng=rng, net=net)
    assert [(o.username, o.mode) for o in officers] == [("officer", "car"), ("officer2", "bike"),
                                                        ("san_officer", "walk")]
    sim = simulate.Simulation(tc, net, officers, rng=rng, act=True, speedup=3.0, clock=clock)
    for _ in range(3):
        clock.advance(seconds=5)
        assert await sim.step(5.0) == [200, 200, 200]
    await settle(rt)
    r = await tc.get("/api/v1/tracking/officers", headers=w.h("dispatcher"))
    assert {o["username"]: (o["status"], o["connectivity"]) for o in r.json()} == {
        "officer": ("available", "online"), "officer2": ("available", "online"), "san_officer": ("available", "online")}
    cid = int((await new_case(tc, w, lat=35.008, lon=113.008, category_code="09001"))["id"])
    await act(tc, w, cid, "shiftlead", "file")
    await act(tc, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    statuses = ["dispatched"]
    for _ in range(80):
        clock.advance(seconds=5)
        await sim.step(5.0)
        case = (await tc.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))).json()
        if statuses[-1] != case["status"]:
            statuses.append(case["status"])
        if case["status"] == "fed_back":
            break
    assert statuses == ["dispatched", "accepted", "en_route", "on_scene", "fed_back"]
    arrive = next(e for e in case["timeline"] if e["action"] == "arrive")
    assert arrive["actor_role"] == "device" and arrive["data"]["source"] == "position"
    assert arrive["data"]["distance_m"] <= 50.0
    assert st(rt).counters["accepted"] == sum(o.sent for o in officers)  # nothing the simulator sent was refused
