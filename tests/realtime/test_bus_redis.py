"""Case events leave the process through Redis (for other server processes and the live map) and reach
in-process subscribers. Needs the Redis at CITYOPS_TEST_REDIS_URL: without it these tests fail, never skip."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from cityops.app import create_app
from cityops.config import Settings
from cityops.realtime.bus import REDIS_CHANNEL
from cityops.runtime import Runtime
from support import World, act, new_case

# The same variable and default as tests/conftest.py.
REDIS_URL = os.environ.get("CITYOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
WAIT = 5.0  # seconds; a bound on waiting, not an expectation about speed


@pytest.fixture
def settings(db_url: str) -> Settings:
    """This module's runtime publishes to Redis (the conftest default has no Redis)."""
    return Settings(database_url=db_url, redis_url=REDIS_URL, require_in_district=True)


@contextlib.asynccontextmanager
async def subscribed() -> AsyncIterator[PubSub]:
    """A confirmed subscription to the bus channel (so nothing published afterwards is missed). Used inside the
    test rather than as a fixture so that an unreachable Redis is a test failure, not a setup error."""
    redis = Redis.from_url(REDIS_URL)
    pubsub = redis.pubsub()
    try:
        await redis.ping()  # an unreachable Redis fails the test here
        await pubsub.subscribe(REDIS_CHANNEL)
        confirm = await asyncio.wait_for(pubsub.get_message(timeout=WAIT), WAIT)
        assert confirm is not None and confirm["type"] == "subscribe"
        yield pubsub
    finally:
        await pubsub.aclose()
        await redis.aclose()


async def _message(pubsub: PubSub, case_id: int, kind: str) -> dict[str, Any]:
    """The next message on the channel about this case and of this type (other runs may share the channel)."""
    async def wait() -> dict[str, Any]:
        while True:
            m = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if m is None or m["type"] != "message":
                continue
            data = json.loads(m["data"])
            if data.get("case_id") == case_id and data.get("type") == kind:
                return dict(data)

    return await asyncio.wait_for(wait(), WAIT)


async def test_case_events_are_published_to_redis(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    assert rt.settings.redis_url == REDIS_URL
    async with subscribed() as channel:
        await _walk(client, world, channel)


async def _walk(client: httpx.AsyncClient, world: World, channel: PubSub) -> None:
    case = await new_case(client, world)
    created = await _message(channel, case["id"], "case.created")
    assert created["case_no"] == case["case_no"]
    assert (created["action"], created["status"]) == ("report", "reported")
    assert world.users["inspector"] in created["audience"]["user_ids"]

    await act(client, world, case["id"], "shiftlead", "file")
    await act(client, world, case["id"], "dispatcher", "dispatch", department_id=world.departments["enforcement"],
              officer_id=world.users["officer"])
    filed = await _message(channel, case["id"], "case.transitioned")
    assert (filed["action"], filed["status"], filed["case_no"]) == ("file", "filed", case["case_no"])
    dispatched = await _message(channel, case["id"], "case.transitioned")
    assert (dispatched["action"], dispatched["status"]) == ("dispatch", "dispatched")
    assert dispatched["department_id"] == world.departments["enforcement"]
    assert dispatched["officer_id"] == world.users["officer"]
    assert dispatched["audience"]["department_ids"] == [world.departments["enforcement"]]
    assert world.users["officer"] in dispatched["audience"]["user_ids"]


async def test_in_process_subscriber_receives_the_transitions(client: httpx.AsyncClient, world: World,
                                                              rt: Runtime) -> None:
    q = rt.bus.subscribe()
    try:
        case = await new_case(client, world)
        first = await asyncio.wait_for(q.get(), WAIT)
        assert (first.type, first.case_id, first.case_no) == ("case.created", case["id"], case["case_no"])
        await act(client, world, case["id"], "shiftlead", "file")
        second = await asyncio.wait_for(q.get(), WAIT)
        assert (second.type, second.case_id, second.action, second.status) == (
            "case.transitioned", case["id"], "file", "filed")
        # A refused move publishes nothing.
        await act(client, world, case["id"], "shiftlead", "file", expect=409)
        assert q.empty()
    finally:
        rt.bus.unsubscribe(q)
    # After unsubscribing nothing more is queued.
    await act(client, world, case["id"], "shiftlead", "void", reason="重复上报")
    assert q.empty()


async def test_redis_outage_does_not_fail_the_request(world: World, db_url: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # Nothing listens on port 1: every publish fails, the case is committed anyway and local subscribers still hear.
    down = Runtime.create(Settings(database_url=db_url, redis_url="redis://127.0.0.1:1/0", require_in_district=True))
    app = create_app(runtime=down, run_sweeper=False)
    q = down.bus.subscribe()
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            with caplog.at_level(logging.ERROR, logger="cityops.realtime.bus"):
                case = await new_case(c, world)
            event = await asyncio.wait_for(q.get(), WAIT)
            assert (event.type, event.case_id) == ("case.created", case["id"])
            assert "redis publish failed for case.created" in caplog.text
            r = await c.get(f"/api/v1/cases/{case['id']}", headers=world.h("commander"))
            assert r.status_code == 200 and r.json()["status"] == "reported"
    finally:
        await down.close()
