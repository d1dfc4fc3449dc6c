"""Position history: batched writes, track replay and export (JSON, GeoJSON, GPX), retention."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import httpx
from sqlalchemy import func, select
from trk import Clock, register, report, settle, st

from cityops.runtime import Runtime
from cityops.tracking.lifecycle import purge
from cityops.tracking.models import Position
from support import World


async def _walk(c: httpx.AsyncClient, w: World, clock: Clock, identifier: str, n: int = 4) -> None:
    t0 = clock.now - timedelta(minutes=10)
    for i in range(n):
        await report(c, identifier, 35.001 + i * 0.0002, 113.001, t0 + timedelta(seconds=30 * i), altitude=100 + i)


async def test_fixes_are_written_in_groups(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-h", "officer")
    await _walk(tc, w, clock, "dev-h", 3)
    await settle(rt)
    async with rt.sessionmaker() as s:
        assert await s.scalar(select(func.count(Position.id))) == 3
    r = await tc.get("/api/v1/tracking/ingest/stats", headers=w.h("admin"))
    assert r.json()["history"] == {"buffered": 0, "written": 3, "overflow": 0, "failures": 0}
    assert st(rt).writer.buffer == []


async def test_track_replay_and_export(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    dev = await register(tc, w, "dev-i", "officer")
    await register(tc, w, "dev-j", "officer2")
    await _walk(tc, w, clock, "dev-i")
    await _walk(tc, w, clock, "dev-j", 2)
    await settle(rt)
    frm = (clock.now - timedelta(hours=1)).isoformat()
    r = await tc.get(f"/api/v1/tracking/devices/{dev['id']}/track", params={"from": frm}, headers=w.h("dispatcher"))
    body = r.json()
    assert body["count"] == 4 and [p["lat"] for p in body["points"]] == [35.001, 35.0012, 35.0014, 35.0016]
    r = await tc.get(f"/api/v1/tracking/officers/{w.users['officer']}/track",
                     params={"from": frm, "format": "geojson"}, headers=w.h("officer"))
    feature = r.json()["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    assert feature["geometry"]["coordinates"][0] == [113.001, 35.001]
    assert len(feature["properties"]["times"]) == 4
    r = await tc.get(f"/api/v1/tracking/devices/{dev['id']}/track", params={"from": frm, "format": "gpx"},
                     headers=w.h("dispatcher"))
    assert r.headers["content-type"].startswith("application/gpx+xml")
    ns = {"g": "http://www.topografix.com/GPX/1/1"}
    points = ET.fromstring(r.content).findall(".//g:trkpt", ns)
    assert [(p.get("lat"), p.find("g:ele", ns).text) for p in points] == [  # type: ignore[union-attr]
        ("35.0010000", "100.0"), ("35.0012000", "101.0"), ("35.0014000", "102.0"), ("35.0016000", "103.0")]
    # an officer replays only their own track; a colleague's is refused
    r = await tc.get(f"/api/v1/tracking/officers/{w.users['officer2']}/track", headers=w.h("officer"))
    assert r.status_code == 403
    r = await tc.get(f"/api/v1/tracking/devices/{dev['id']}/track", params={"from": frm, "to": frm},
                     headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "to"


async def test_retention_purges_old_history(tc: httpx.AsyncClient, world: World, rt: Runtime, clock: Clock) -> None:
    w = world
    await register(tc, w, "dev-k", "officer")
    await _walk(tc, w, clock, "dev-k", 2)
    await settle(rt)
    r = await tc.post("/api/v1/tracking/retention/purge", headers=w.h("admin"))
    assert r.json() == {"removed": 0, "retention_days": 90.0}
    # 91 days on (the test tokens would have expired: call the service the hourly task calls)
    assert await purge(rt, clock.now + timedelta(days=91)) == 2
    async with rt.sessionmaker() as s:
        assert await s.scalar(select(func.count(Position.id))) == 0

