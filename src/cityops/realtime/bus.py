"""The one ``send_event`` path: called by services after commit; in-process fan-out, plus Redis when configured."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from redis.asyncio import Redis

from cityops.realtime.events import Event

log = logging.getLogger(__name__)
REDIS_CHANNEL = "cityops:events"


class Bus:
    def __init__(self, redis_url: str | None = None) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._redis: Redis | None = Redis.from_url(redis_url) if redis_url else None

    def subscribe(self, maxsize: int = 1000) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(q)

    async def send_event(self, events: Iterable[Event]) -> None:
        for event in events:
            for q in list(self._subscribers):
                if q.full():
                    # A slow subscriber loses its oldest event rather than stalling the publisher.
                    q.get_nowait()
                q.put_nowait(event)
            if self._redis is not None:
                try:
                    await self._redis.publish(REDIS_CHANNEL, event.model_dump_json())
                except Exception:  # the case is committed already; a bus outage must not fail the request
                    log.exception("redis publish failed for %s", event.type)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
