"""Per-key token buckets: ``burst`` requests at once, refilled at ``rate_per_minute``.

In memory by default (one bucket per key per process). With ``settings.redis_url`` set the buckets live in Redis,
updated by one Lua script so that every server process draws from the same bucket. If Redis fails, the process
falls back to its own bucket rather than refusing every request or letting every request through.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until one request would be allowed; 0 when allowed


def take(tokens: float, last: float, now: float, *, rate_per_second: float, burst: int) -> tuple[bool, float, float]:
    """One draw from a bucket holding ``tokens`` at time ``last``: (allowed, tokens left, retry after). Pure."""
    tokens = min(float(burst), tokens + max(0.0, now - last) * rate_per_second)
    if tokens >= 1.0:
        return True, tokens - 1.0, 0.0
    return False, tokens, (1.0 - tokens) / rate_per_second


class MemoryLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._clock = clock

    async def hit(self, bucket: str, *, rate_per_minute: int, burst: int) -> Decision:
        now = self._clock()
        tokens, last = self._buckets.get(bucket, (float(burst), now))
        ok, left, retry = take(tokens, last, now, rate_per_second=rate_per_minute / 60.0, burst=burst)
        self._buckets[bucket] = (left, now)
        return Decision(ok, retry)

    async def close(self) -> None:
        return None


# KEYS[1] bucket; ARGV rate per second, burst. Redis' own clock, so the processes need not agree on the time.
_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry)}
"""


class RedisLimiter:
    prefix = "cityops:open311:bucket:"

    def __init__(self, url: str) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._script = self._redis.register_script(_SCRIPT)
        self._fallback = MemoryLimiter()

    async def hit(self, bucket: str, *, rate_per_minute: int, burst: int) -> Decision:
        try:
            allowed, retry = await self._script(keys=[f"{self.prefix}{bucket}"],
                                                args=[rate_per_minute / 60.0, burst])
        except Exception:  # Redis down: limit per process instead of failing the request
            log.exception("open311 rate limiter: redis unavailable, using the in-process bucket")
            return await self._fallback.hit(bucket, rate_per_minute=rate_per_minute, burst=burst)
        return Decision(bool(int(allowed)), float(retry))

    async def close(self) -> None:
        await self._redis.aclose()


Limiter = MemoryLimiter | RedisLimiter


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
