"""Over real sockets: the dedicated OsmAnd port (a phone set to just ``http://host:5055``) and the field app's
WebSocket stream."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
import uvicorn
import websockets
from trk import Clock, register, settle, st

from cityops.app import create_app
from cityops.runtime import Runtime
from support import World


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def live(rt: Runtime, clock: Clock) -> AsyncIterator[tuple[str, int]]:
    """The app on a real port, with the dedicated OsmAnd port turned on (it is off unless configured)."""
    rt.clock = clock
    osmand_port = _port()
    rt.settings.osmand_port = osmand_port
    rt.settings.osmand_host = "127.0.0.1"
    app = create_app(runtime=rt, run_sweeper=False)
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}", osmand_port
    srv.should_exit = True
    await task


async def test_dedicated_osmand_port_takes_traccar_client_at_root(live: tuple[str, int], world: World,
                                                                  rt: Runtime, clock: Clock) -> None:
    base, osmand_port = live
    w = world
    async with httpx.AsyncClient(base_url=f"http://{base}") as api:
        await register(api, w, "359881234567890", "officer")
    t = int((clock.now - timedelta(seconds=3)).timestamp())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{osmand_port}") as phone:
        r = await phone.post(f"/?id=359881234567890&timestamp={t}&lat=35.004&lon=113.006&speed=0&batt=88")
        assert (r.status_code, r.content) == (200, b"")
        r = await phone.post("/", content=json.dumps({"device_id": "359881234567890", "location": {
            "timestamp": t + 1, "coords": {"latitude": 35.0041, "longitude": 113.006}}}).encode(),
            headers={"Content-Type": "application/json"})
        assert r.status_code == 200
        r = await phone.get("/?id=stranger&lat=35&lon=113")
        assert r.status_code == 400
    await settle(rt)
    assert st(rt).writer.written == 2
    fix = await st(rt).store.get(1)
    assert fix is not None and (fix.lat, fix.battery) == (35.0041, None)


async def test_field_app_websocket_stream(live: tuple[str, int], world: World, rt: Runtime, clock: Clock) -> None:
    base, _ = live
    w = world
    async with httpx.AsyncClient(base_url=f"http://{base}") as api:
        await register(api, w, "field-1", "officer")
        await register(api, w, "field-2", "officer2")
        r = await api.post(f"/api/v1/users/{w.users['officer']}/device-tokens", json={"label": "field"},
                           headers=w.h("admin"))
        token = r.json()["access_token"]
    t = (clock.now - timedelta(seconds=5)).isoformat()
    async with websockets.connect(f"ws://{base}/api/v1/tracking/stream?token={token}") as ws:
        await ws.send(json.dumps([{"device_id": "field-1", "lat": 35.002, "lon": 113.002, "at": t},
                                  {"device_id": "field-2", "lat": 35.002, "lon": 113.002, "at": t}]))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (ack["type"], ack["seq"], ack["accepted"], ack["rejected"]) == ("ack", 1, 1, {"bad_token": 1})
        await ws.send("not json")
        err = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert (err["type"], err["seq"], err["code"]) == ("error", 2, "malformed")
    async with websockets.connect(f"ws://{base}/api/v1/tracking/stream?token=cty_wrong") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def _next(ws: websockets.ClientConnection, pending: list[dict[str, object]]) -> dict[str, object]:
    if not pending:
        m = json.loads(await asyncio.wait_for(ws.recv(), 5))
        pending.extend(m["messages"] if m.get("type") == "batch" else [m])
    return pending.pop(0)


async def test_console_map_gets_positions_snapshot_then_updates(live: tuple[str, int], world: World, rt: Runtime,
                                                                clock: Clock) -> None:
    base, _ = live
    w = world
    async with httpx.AsyncClient(base_url=f"http://{base}") as api:
        dev = await register(api, w, "map-1", "officer")
        r = await api.put(f"/api/v1/tracking/officers/{w.users['officer']}/duty", json={"on_duty": True},
                          headers=w.h("officer"))
        assert r.json()["duty"] == "on_duty"
        t = int((clock.now - timedelta(seconds=20)).timestamp())
        await api.get(f"/api/v1/osmand?id=map-1&lat=35.003&lon=113.004&timestamp={t}&bearing=90")
        await settle(rt)
        async with websockets.connect(f"ws://{base}/api/v1/ws") as ws:
            pending: list[dict[str, object]] = []
            await ws.send(json.dumps({"type": "auth", "token": w.tokens["dispatcher"]}))
            assert (await _next(ws, pending))["type"] == "ready"
            await ws.send(json.dumps({"type": "subscribe", "topics": ["positions"]}))
            snap = await _next(ws, pending)
            assert snap["type"] == "snapshot" and snap["topic"] == "positions"
            [item] = snap["items"]  # type: ignore[misc]
            assert (item["officer_id"], item["officer_name"], item["status"], item["lat"], item["bearing"]) == (
                w.users["officer"], "officer", "available", 35.003, 90.0)
            await api.get(f"/api/v1/osmand?id=map-1&lat=35.0031&lon=113.004&timestamp={t + 10}")
            while True:  # the position event comes with the next tick (≤ 1 s)
                m = await _next(ws, pending)
                if m["type"] == "event" and m["event"]["type"] == "position.updated":  # type: ignore[index]
                    break
            ev = m["event"]
            assert (ev["device_id"], ev["officer_id"], ev["lat"]) == (dev["id"], w.users["officer"], 35.0031)  # type: ignore[index]
