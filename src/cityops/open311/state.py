"""What the Open311 adapter keeps per runtime: rate limiter, service catalog, response cache.

The cache holds finished response bodies of the read calls. Every case change publishes an event on the bus
(after commit); the cache listens, and any ``case.*`` event starts a new generation, so a cached body is never
served after a change made through this process — or through another one, when the bus carries events between
processes (Redis). As a safety net for writes that publish nothing, no body lives longer than ``TTL_SECONDS``.
A body computed from data read before a change is not stored (its generation is stale), so a slow reader cannot
put old data back.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cityops.open311.ratelimit import Limiter, make_limiter
from cityops.open311.servicetypes import ServiceCatalog
from cityops.realtime.bus import Bus
from cityops.runtime import Runtime
from cityops.singleflight import SingleFlight

TTL_SECONDS = 2.0
MAX_ENTRIES = 2048


class ResponseCache:
    def __init__(self, bus: Bus, ttl: float = TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self._bus = bus
        bus.watch(self._on_event)
        self._entries: dict[Hashable, tuple[float, int, bytes]] = {}
        self._flights: SingleFlight[Hashable, bytes] = SingleFlight()
        self.generation = 0
        self.ttl = ttl
        self.max_entries = max_entries

    def _on_event(self, event: Any) -> None:
        if str(getattr(event, "type", "")).startswith("case."):
            self.generation += 1
            self._entries.clear()

    def current(self) -> int:
        """The generation to remember before reading the database for a body."""
        return self.generation

    def get(self, key: Hashable) -> bytes | None:
        hit = self._entries.get(key)
        if hit is None or hit[1] != self.generation or hit[0] < time.monotonic():
            return None
        return hit[2]

    def put(self, key: Hashable, generation: int, body: bytes) -> None:
        if generation != self.generation:
            return
        if len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 4]:
                del self._entries[old]
        self._entries[key] = (time.monotonic() + self.ttl, generation, body)

    async def get_or_compute(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached body, or one computation shared by everyone asking for the same key meanwhile: when an
        entry expires under load, N concurrent requests must not all run the same queries."""
        body = self.get(key)
        if body is not None:
            return body
        return await self._flights.run(key, lambda: self._compute(key, compute))

    async def _compute(self, key: Hashable, compute: Callable[[], Awaitable[bytes]]) -> bytes:
        generation = self.current()
        body = await compute()
        self.put(key, generation, body)
        return body

    def clear(self) -> None:
        self._entries.clear()

    def close(self) -> None:
        self._bus.unwatch(self._on_event)


class Open311State:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cache = ResponseCache(rt.bus)
        self.limiter: Limiter = make_limiter(rt.settings.redis_url)
        self._catalog: ServiceCatalog | None = None

    async def catalog(self, session: AsyncSession | None = None) -> ServiceCatalog:
        source = await self.rt.catalog(session)
        if self._catalog is None or self._catalog.source is not source:
            self._catalog = ServiceCatalog(source)
        return self._catalog

    async def close(self) -> None:
        self.cache.close()
        await self.limiter.close()


def state_for(rt: Runtime) -> Open311State:
    """The adapter's state, created on first use and closed with the runtime (``Runtime.services``)."""
    st = rt.services.get("open311")
    if st is None:
        st = rt.services["open311"] = Open311State(rt)
    assert isinstance(st, Open311State)
    return st
