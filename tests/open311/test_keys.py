"""API keys: admins issue, list and revoke them with `cityops apikey`; a revoked or unknown key is refused with 403;
each key is held to its rate (429 with Retry-After), in memory or — shared by every process — in Redis."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime

import httpx
import pytest
from typer.testing import CliRunner

from cityops.app import create_app
from cityops.cli import app as cli
from cityops.config import Settings
from cityops.db import writing
from cityops.open311 import keys
from cityops.open311.ratelimit import MemoryLimiter, RedisLimiter, take
from cityops.runtime import Runtime
from open311.o311 import BASE, errors_of, post
from support import World

REDIS_URL = os.environ.get("CITYOPS_TEST_OPEN311_REDIS_URL", "redis://127.0.0.1:6379/12")


def _report(w: World) -> dict[str, str]:
    lat, lon = w.inside
    return {"service_code": "06029", "lat": str(lat), "long": str(lon), "description": "烧烤"}


async def _key(rt: Runtime, name: str, rate: int, burst: int) -> str:
    async with rt.sessionmaker() as s, writing(s):
        plain, _ = await keys.create_key(s, name=name, now=datetime.now(UTC), rate_per_minute=rate, burst=burst)
    return plain


def test_token_bucket_arithmetic() -> None:
    # Burst 3, 60 per minute = 1 per second.
    assert take(3.0, 0.0, 0.0, rate_per_second=1.0, burst=3) == (True, 2.0, 0.0)
    # Half a token left, a quarter second later: 0.75 — refused, the next one comes in 0.25 s.
    assert take(0.5, 0.0, 0.25, rate_per_second=1.0, burst=3) == (False, 0.75, 0.25)
    # A long pause refills only up to the burst.
    assert take(0.0, 0.0, 3600.0, rate_per_second=1.0, burst=3) == (True, 2.0, 0.0)


async def test_memory_limiter_refills_at_the_rate() -> None:
    now = [0.0]
    lim = MemoryLimiter(clock=lambda: now[0])
    got = [(await lim.hit("a", rate_per_minute=60, burst=2)).allowed for _ in range(3)]
    assert got == [True, True, False]
    now[0] = 0.5
    d = await lim.hit("a", rate_per_minute=60, burst=2)
    assert (d.allowed, d.retry_after) == (False, 0.5)
    now[0] = 1.0
    assert (await lim.hit("a", rate_per_minute=60, burst=2)).allowed
    assert (await lim.hit("b", rate_per_minute=60, burst=2)).allowed  # another key has its own bucket


async def test_a_key_over_its_rate_gets_429(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    slow = await _key(rt, "slowapp", rate=1, burst=3)
    other = await _key(rt, "otherapp", rate=1, burst=3)
    for _ in range(3):
        assert (await post(client, slow, _report(world))).status_code == 200
    r = await post(client, slow, _report(world), "xml")
    assert errors_of(r, 429) == ["api_key 'slowapp' is over its rate of 1 requests per minute; retry later"]
    assert int(r.headers["retry-after"]) == 60  # one token per minute, none left
    # Reads with the key count too; reads without a key are not limited per key.
    assert errors_of(await client.get(f"{BASE}/services.json", params={"api_key": slow}), 429)
    assert (await client.get(f"{BASE}/services.json")).status_code == 200
    assert (await post(client, other, _report(world))).status_code == 200


async def test_unknown_and_revoked_keys_are_refused(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    key = await _key(rt, "leaving", rate=600, burst=10)
    assert (await client.get(f"{BASE}/services.json", params={"api_key": key})).status_code == 200
    assert errors_of(await client.get(f"{BASE}/services.json", params={"api_key": "o311_nope"}), 403) == [
        "invalid api_key: unknown or revoked"]
    async with rt.sessionmaker() as s, writing(s):
        await keys.revoke_key(s, name="leaving", now=datetime.now(UTC))
    assert errors_of(await post(client, key, _report(world)), 403) == ["invalid api_key: unknown or revoked"]
    with pytest.raises(Exception, match="no API key named 'never'"):
        async with rt.sessionmaker() as s, writing(s):
            await keys.revoke_key(s, name="never", now=datetime.now(UTC))


async def test_redis_buckets_are_shared_between_processes() -> None:
    """Two limiters stand for two server processes: they draw from one bucket. Fails if Redis is down."""
    a, b = RedisLimiter(REDIS_URL), RedisLimiter(REDIS_URL)
    bucket = f"test{random.randint(10**9, 10**10)}"  # no clash with a parallel run
    try:
        got = [(await lim.hit(bucket, rate_per_minute=1, burst=3)) for lim in (a, b, a, b)]
        assert [d.allowed for d in got] == [True, True, True, False]
        assert 59 < got[3].retry_after <= 60
        assert (await b.hit(bucket + "x", rate_per_minute=1, burst=3)).allowed
    finally:
        await a._redis.delete(f"{RedisLimiter.prefix}{bucket}", f"{RedisLimiter.prefix}{bucket}x")
        await a.close()
        await b.close()


async def test_the_server_limits_through_redis_when_configured(world: World, rt: Runtime, db_url: str,
                                                               tmp_path: object) -> None:
    slow = await _key(rt, f"redis{random.randint(0, 10**9)}", rate=1, burst=2)
    redis_rt = Runtime.create(Settings(database_url=db_url, redis_url=REDIS_URL, require_in_district=True,
                                       media_dir=rt.settings.media_dir))
    app = create_app(runtime=redis_rt, run_sweeper=False)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            from cityops.open311.state import state_for

            assert isinstance(state_for(redis_rt).limiter, RedisLimiter)
            codes = [(await c.get(f"{BASE}/services.json", params={"api_key": slow})).status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            # The bucket is in Redis (not the in-process fallback).
            async with redis_rt.sessionmaker() as s:
                holder = await keys.holder_for(s, slow)
            assert holder is not None
            limiter = state_for(redis_rt).limiter
            assert isinstance(limiter, RedisLimiter)
            bucket = f"{RedisLimiter.prefix}{holder.bucket}"
            assert float(await limiter._redis.hget(bucket, "tokens")) < 1  # type: ignore[arg-type]
            await limiter._redis.delete(bucket)
    finally:
        await redis_rt.close()


def test_cli_creates_lists_and_revokes_keys(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", db_url)
    runner = CliRunner()
    made = runner.invoke(cli, ["apikey", "create", "fixmystreet", "--rate-per-minute", "120", "--burst", "30"])
    assert made.exit_code == 0, made.output
    plain = made.output.strip().splitlines()[-1]
    assert plain.startswith("o311_") and len(plain) > 30

    async def holder() -> keys.KeyHolder | None:
        rt = Runtime.create(Settings())
        try:
            keys.clear_cache()
            async with rt.sessionmaker() as s:
                return await keys.holder_for(s, plain)
        finally:
            await rt.close()

    found = asyncio.run(holder())
    assert found is not None and (found.name, found.rate_per_minute, found.burst) == ("fixmystreet", 120, 30)
    listed = runner.invoke(cli, ["apikey", "list"])
    assert "fixmystreet" in listed.output and "120/min burst 30  active" in listed.output
    assert plain not in listed.output  # the key itself is never shown again
    again = runner.invoke(cli, ["apikey", "create", "fixmystreet"])
    assert again.exit_code == 2 and "an API key named 'fixmystreet' exists" in again.output
    bad = runner.invoke(cli, ["apikey", "create", "no spaces allowed"])
    assert bad.exit_code == 2 and "key name" in bad.output
    assert runner.invoke(cli, ["apikey", "revoke", "fixmystreet"]).exit_code == 0
    assert asyncio.run(holder()) is None
    assert "revoked" in runner.invoke(cli, ["apikey", "list"]).output
