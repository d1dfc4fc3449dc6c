"""The one ``send_event`` path: services call it after commit.

Events reach this process's subscribers at once, and other processes through Redis pub/sub when
``CITYOPS_REDIS_URL`` is set. Each message carries the publishing process's id so that a process ignores its own
echo: local delivery never waits for a Redis round trip, and a Redis outage does not stop local consoles.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import BaseModel, TypeAdapter
from redis.asyncio import Redis

log = logging.getLogger(__name__)
REDIS_CHANNEL = "cityops:events"
ORIGIN_KEY = "_origin"


def _adapter() -> TypeAdapter[Any]:
    from cityops.realtime import events

    return TypeAdapter(events.Event)


class Bus:
    def __init__(self, redis_url: str | None = None) -> None:
        self.origin = uuid.uuid4().hex
        self._subscribers: dict[asyncio.Queue[Any], Callable[[Any], bool] | None] = {}
        self._watchers: list[Callable[[Any], None]] = []
        self._redis: Redis | None = Redis.from_url(redis_url) if redis_url else None
        self._listener: asyncio.Task[None] | None = None
        self._adapter: TypeAdapter[Any] | None = None

    @property
    def distributed(self) -> bool:
        return self._redis is not None

    def subscribe(self, maxsize: int = 1000, accept: Callable[[Any], bool] | None = None) -> asyncio.Queue[Any]:
        """A queue of the events (those ``accept`` passes, if given) for a task that consumes them."""
        q: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self._subscribers[q] = accept
        return q

    def unsubscribe(self, q: asyncio.Queue[Any]) -> None:
        self._subscribers.pop(q, None)

    def watch(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(event)`` at once on every event, for listeners that only note that something changed (drop a
        cache): nothing is queued, so nothing piles up between their uses. ``fn`` must be quick and not raise."""
        self._watchers.append(fn)

    def unwatch(self, fn: Callable[[Any], None]) -> None:
        if fn in self._watchers:
            self._watchers.remove(fn)

    def _deliver(self, event: BaseModel) -> None:
        for fn in self._watchers:
            fn(event)
        for q, accept in list(self._subscribers.items()):
            if accept is not None and not accept(event):
                continue
            if q.full():
                # A slow subscriber loses its oldest event rather than stalling the publisher.
                q.get_nowait()
            q.put_nowait(event)

    async def send_event(self, events: Iterable[BaseModel]) -> None:
        for event in events:
            self._deliver(event)
            if self._redis is not None:
                payload = event.model_dump(mode="json")
                payload[ORIGIN_KEY] = self.origin
                try:
                    await self._redis.publish(REDIS_CHANNEL, json.dumps(payload, ensure_ascii=False))
                except Exception:  # the change is committed already; a bus outage must not fail the request
                    log.exception("redis publish failed for %s", getattr(event, "type", "?"))

    async def start(self) -> None:
        """Listen to other processes' events (only with Redis)."""
        if self._redis is not None and self._listener is None:
            ready = asyncio.Event()
            self._listener = asyncio.create_task(self._listen(ready))
            await asyncio.wait_for(ready.wait(), 10)

    async def _listen(self, ready: asyncio.Event) -> None:
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(REDIS_CHANNEL)
                    ready.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        self._receive(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("redis listener failed; reconnecting")
                ready.set()
                await asyncio.sleep(1)

    def _receive(self, raw: bytes | str) -> None:
        try:
            payload = json.loads(raw)
            if payload.pop(ORIGIN_KEY, None) == self.origin:
                return
            if self._adapter is None:
                self._adapter = _adapter()
            self._deliver(self._adapter.validate_python(payload))
        except Exception:
            log.exception("dropping malformed event from redis")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
