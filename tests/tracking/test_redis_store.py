"""The latest-position store in Redis GEO (real Redis, database 14): two server processes — two runtimes on one
database — agree on where each device is, a late older fix never overwrites a newer one, and the drop counters
add up across processes. Fails (never skips) when Redis does not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from trk import TRACKING_REDIS_URL

from cityops.config import Settings
from cityops.db import utcnow
from cityops.runtime import Runtime
from cityops.tracking import service as tracking_service
from cityops.tracking.ingest import ingest
from cityops.tracking.lifecycle import Tracker
from cityops.tracking.osmand import RawFix
from cityops.tracking.schemas import DeviceCreate
from cityops.tracking.state import state_of
from cityops.tracking.store import GEO_KEY, RedisGeoStore
from support import World


@pytest.fixture
async def pair(db_url: str, world: World) -> AsyncIterator[tuple[Runtime, Runtime]]:
    r = Redis.from_url(TRACKING_REDIS_URL)
    await r.flushdb()
    await r.aclose()
    one, two = (Runtime.create(Settings(database_url=db_url, redis_url=TRACKING_REDIS_URL)) for _ in range(2))
    yield one, two
    for rt in (one, two):
        await state_of(rt).close()
        await rt.close()


async def test_two_processes_agree_on_latest_positions(pair: tuple[Runtime, Runtime], world: World) -> None:
    one, two = pair
    now = utcnow().replace(microsecond=0)
    async with one.sessionmaker() as s:
        dev = await tracking_service.create_device(one, s, data=DeviceCreate(identifier="r-1", name="r-1",
                                                   officer_id=world.users["officer"]), actor_id=1, now=now)
    assert isinstance(state_of(one).store, RedisGeoStore)
    await ingest(one, [RawFix("r-1", 35.0050, 113.0050, now - timedelta(seconds=5), accuracy_m=5.0)], caller=None,
                 now=now)
    assert await state_of(two).store.get(dev.id) is None  # not flushed yet: at most one tick behind
    await Tracker(one).tick()
    seen = await state_of(two).store.get(dev.id)
    assert seen is not None and (seen.lat, seen.lon, seen.officer_id) == (35.0050, 113.0050, world.users["officer"])
    assert [f.device_id for f in await state_of(two).store.all()] == [dev.id]
    near = await state_of(two).store.near(35.0051, 113.0050, 50)  # type: ignore[attr-defined]
    assert [d for d, _ in near] == [dev.id] and 10.5 < near[0][1] < 11.7  # ≈ 11.1 m
    assert await state_of(two).store.near(35.0100, 113.0050, 50) == []  # type: ignore[attr-defined]
    # Process two takes a newer fix; process one then flushes an older one it had buffered: the newer stays.
    await ingest(two, [RawFix("r-1", 35.0060, 113.0050, now - timedelta(seconds=1))], caller=None, now=now)
    await Tracker(two).tick()
    state_of(one).store.put(type(seen)(dev.id, seen.officer_id, 35.0055, 113.005, now - timedelta(seconds=3)))
    await Tracker(one).tick()
    final = await state_of(one).store.get(dev.id)
    assert final is not None and final.lat == 35.0060
    r = Redis.from_url(TRACKING_REDIS_URL)
    try:
        assert await r.zcard(GEO_KEY) == 1
    finally:
        await r.aclose()


async def test_counters_add_up_across_processes(pair: tuple[Runtime, Runtime], world: World) -> None:
    one, two = pair
    now = datetime.now(UTC).replace(microsecond=0)
    async with one.sessionmaker() as s:
        await tracking_service.create_device(one, s, data=DeviceCreate(identifier="r-2", name="r-2"), actor_id=1,
                                             now=now)
    await ingest(one, [RawFix("r-2", 35.0, 113.0, now), RawFix("nobody", 35.0, 113.0, now)], caller=None, now=now)
    await ingest(two, [RawFix("r-2", 35.0, 113.0, now + timedelta(hours=2))], caller=None, now=now)
    for rt in (one, two):
        await Tracker(rt).tick()
    totals = await state_of(two).counter_totals()
    assert totals == {"accepted": 1, "rejected.unknown_device": 1, "dropped.future": 1}
