"""The hub without sockets: conflation of positions for a lagging client, and a slow client not stalling others."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from cityops.auth.service import Principal
from cityops.realtime.hub import Client, Hub, may_see

FAR = datetime(2100, 1, 1, tzinfo=UTC)


def principal(roles: set[str], user_id: int = 1, department_id: int | None = None) -> Principal:
    return Principal(user_id, "u", "u", frozenset(roles), department_id, "session", FAR)


def unbatch(m: dict[str, Any] | str) -> list[dict[str, Any]]:
    d = json.loads(m) if isinstance(m, str) else m
    return list(d["messages"]) if d.get("type") == "batch" else [d]


def position(device: int, n: int) -> dict[str, Any]:
    return {"type": "position.updated", "device_id": device, "n": n, "audience": {"user_ids": [], "department_ids": []}}


async def test_lagging_client_gets_latest_position_per_device() -> None:
    hub = Hub()
    received: list[dict[str, Any]] = []
    gate = asyncio.Event()

    async def slow_send(m: dict[str, Any] | str) -> None:
        await gate.wait()
        received.extend(unbatch(m))

    c = Client(principal({"dispatcher"}), slow_send, topics={"positions"})
    hub.clients.add(c)
    sender = asyncio.create_task(hub.serve(c, window=0))
    hub.publish(position(7, 0))
    await asyncio.sleep(0)  # the sender takes the first message and blocks in send
    for n in range(1, 101):  # 100 more fixes of device 7 and one of device 8 while the client is stuck
        hub.publish(position(7, n))
    hub.publish(position(8, 1))
    gate.set()
    await asyncio.sleep(0.05)
    sender.cancel()
    got = [(m["event"]["device_id"], m["event"]["n"]) for m in received]
    # first fix sent before the stall, then only the latest of device 7 and the one of device 8
    assert got == [(7, 0), (7, 100), (8, 1)]


async def test_slow_client_does_not_stall_a_fast_one() -> None:
    hub = Hub()
    fast: list[int] = []
    never = asyncio.Event()

    async def stuck(_: dict[str, Any] | str) -> None:
        await never.wait()

    async def quick(m: dict[str, Any] | str) -> None:
        fast.extend(one["seq"] for one in unbatch(m))

    slow_c = Client(principal({"dispatcher"}), stuck, topics={"cases"})
    fast_c = Client(principal({"dispatcher"}), quick, topics={"cases"})
    hub.clients |= {slow_c, fast_c}
    tasks = [asyncio.create_task(hub.serve(slow_c, window=0)), asyncio.create_task(hub.serve(fast_c, window=0))]
    for i in range(1000):
        hub.publish({"type": "case.transitioned", "case_id": i, "audience": {}})
        if i % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    for t in tasks:
        t.cancel()
    assert fast == list(range(1, 1001))
    assert slow_c.overflowed  # the stuck one will be told to resync instead of growing without bound


def test_visibility() -> None:
    ev = {"type": "case.created", "audience": {"user_ids": [5], "department_ids": [3]}}
    assert may_see(principal({"dispatcher"}, 1), ev)
    assert may_see(principal({"resident"}, 5), ev)
    assert not may_see(principal({"resident"}, 6), ev)
    assert may_see(principal({"officer"}, 9, department_id=3), ev)
    assert not may_see(principal({"officer"}, 9, department_id=4), ev)


async def test_messages_within_the_window_share_one_frame() -> None:
    hub = Hub()
    frames: list[Any] = []

    async def send(m: dict[str, Any] | str) -> None:
        frames.append(json.loads(m) if isinstance(m, str) else m)

    c = Client(principal({"dispatcher"}), send, topics={"cases"})
    hub.clients.add(c)
    sender = asyncio.create_task(hub.serve(c, window=0.05))
    for i in range(3):
        hub.publish({"type": "case.created", "case_id": i, "audience": {}})
    await asyncio.sleep(0.2)
    sender.cancel()
    assert len(frames) == 1 and frames[0]["type"] == "batch"
    assert [m["event"]["case_id"] for m in frames[0]["messages"]] == [0, 1, 2]
