"""The live channel over a real socket: auth, snapshot then deltas, resume, visibility, and two server processes
sharing the database and Redis (an event made on one reaches a console on the other)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import websockets

from cityops.app import create_app
from cityops.runtime import Runtime
from support import World, new_case

BIN = Path(sys.executable).parent
# Same default as tests/conftest.py (not imported: several test folders have a conftest module).
REDIS_URL = os.environ.get("CITYOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(rt: Runtime) -> AsyncIterator[str]:
    app = create_app(runtime=rt, run_sweeper=False)
    port = _port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    await task


_buffered: dict[int, list[dict[str, Any]]] = {}


async def _recv(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    """The next message, unpacking the hub's batch frames."""
    queue = _buffered.setdefault(id(ws), [])
    if not queue:
        m = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        queue.extend(m["messages"] if m.get("type") == "batch" else [m])
    return dict(queue.pop(0))


async def _until(ws: Any, pred: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            m = await _recv(ws, timeout)
            if pred(m):
                return m
    return await asyncio.wait_for(loop(), timeout)


async def _connect(addr: str, token: str, topics: list[str], since: int | None = None) -> Any:
    ws = await websockets.connect(f"ws://{addr}/api/v1/ws")
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = await _recv(ws)
    assert ready["type"] == "ready"
    await ws.send(json.dumps({"type": "subscribe", "topics": topics, **({"since": since} if since else {})}))
    return ws


async def test_bad_token_is_refused(server: str, world: World) -> None:
    async with websockets.connect(f"ws://{server}/api/v1/ws") as ws:
        await ws.send(json.dumps({"type": "auth", "token": "cty_nope"}))
        m = await _recv(ws)
        assert m["type"] == "error" and m["code"] == "not_authenticated"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await _recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


async def test_snapshot_then_deltas_then_resume(server: str, world: World, client: httpx.AsyncClient) -> None:
    w = world
    first = await new_case(client, w)
    ws = await _connect(server, w.tokens["dispatcher"], ["cases"])
    snap = await _recv(ws)
    assert snap["type"] == "snapshot" and snap["topic"] == "cases"
    assert [c["case_no"] for c in snap["items"]] == [first["case_no"]]

    async with httpx.AsyncClient(base_url=f"http://{server}") as http:
        r = await http.post("/api/v1/cases", json={"lat": w.inside[0], "lon": w.inside[1], "category_code": "06010"},
                            headers=w.h("inspector"))
        assert r.status_code == 201
        second = r.json()
        ev = await _until(ws, lambda m: m["type"] == "event")
        assert ev["event"]["type"] == "case.created" and ev["event"]["case_no"] == second["case_no"]
        seen = ev["seq"]
        await ws.close()

        # While disconnected, the case is filed; on reconnect with `since` only the missed event is replayed.
        r = await http.post(f"/api/v1/cases/{second['id']}/actions", json={"action": "file"},
                            headers=w.h("shiftlead"))
        assert r.status_code == 200
    ws = await _connect(server, w.tokens["dispatcher"], ["cases"], since=seen)
    replay = await _recv(ws)
    assert replay["type"] == "event" and replay["seq"] > seen
    assert (replay["event"]["action"], replay["event"]["status"]) == ("file", "filed")
    await ws.close()


async def test_resident_sees_only_own_cases(server: str, world: World, client: httpx.AsyncClient) -> None:
    w = world
    ws = await _connect(server, w.tokens["resident"], ["cases"])
    snap = await _recv(ws)
    assert snap["items"] == []
    other = await new_case(client, w, who="resident2")
    own = await new_case(client, w, who="resident")
    ev = await _until(ws, lambda m: m["type"] == "event")
    assert ev["event"]["case_no"] == own["case_no"] != other["case_no"]
    await ws.close()


async def test_unknown_topic_names_the_field(server: str, world: World) -> None:
    ws = await _connect(server, world.tokens["dispatcher"], ["weather"])
    m = await _recv(ws)
    assert (m["type"], m["field"]) == ("error", "topics")
    await ws.close()


def _serve(db_url: str, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, CITYOPS_DATABASE_URL=db_url, CITYOPS_REDIS_URL=REDIS_URL, CITYOPS_LOG_LEVEL="WARNING")
    return subprocess.Popen([str(BIN / "cityops"), "serve", "--port", str(port), "--no-sweeper"], env=env)


async def _wait_up(port: int) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            try:
                if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"server on {port} did not start")


async def test_event_from_one_process_reaches_console_on_another(world: World, db_url: str) -> None:
    w = world
    a, b = _port(), _port()
    procs = [_serve(db_url, a), _serve(db_url, b)]
    try:
        await _wait_up(a)
        await _wait_up(b)
        ws = await _connect(f"127.0.0.1:{b}", w.tokens["commander"], ["cases", "alerts"])
        await _recv(ws)
        await _recv(ws)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{a}") as http:
            r = await http.post("/api/v1/cases", json={"lat": w.inside[0], "lon": w.inside[1],
                                                       "category_code": "06010"}, headers=w.h("inspector"))
            assert r.status_code == 201
        ev = await _until(ws, lambda m: m["type"] == "event", timeout=10)
        assert ev["event"]["type"] == "case.created" and ev["event"]["case_no"] == r.json()["case_no"]
        await ws.close()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(10)
