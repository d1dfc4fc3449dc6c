"""WebSocket hub: consoles subscribe to topics, get a snapshot, then deltas; they resume after a reconnect.

- Topics: ``cases`` (case.*), ``alerts`` (escalations and other alerts), ``positions`` (position.* / officer.*).
- Every event gets a per-process sequence number and is kept in a ring buffer; a client that reconnects with
  ``since`` gets what it missed if still buffered, else a fresh snapshot.
- Each client has its own sender task and queue, so a slow console never stalls the others; positions are
  conflated per key (latest wins) while a client lags, other events are queued (a client that overflows its
  queue is told to resync and gets a new snapshot).
- Visibility: supervisors see all; other users see events whose audience names them or their department.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from cityops.auth.roles import Role
from cityops.auth.service import Principal

log = logging.getLogger(__name__)
TOPICS = ("cases", "alerts", "positions")
WIDE = frozenset({Role.INSPECTOR, Role.INTAKE, Role.SHIFT_LEAD, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})
RING_SIZE = 5000
CLIENT_QUEUE = 500
# Messages for one client are coalesced for this long into one frame: at 500 consoles × 100 events/s one frame per
# message is 50,000 frames/s, more than one core can write; batching bounds it by consoles ÷ window.
BATCH_WINDOW_SECONDS = 0.02
SNAPSHOT_TTL_SECONDS = 2.0

Provider = Callable[[Principal], Awaitable[list[dict[str, Any]]]]


def topics_of(event_type: str) -> tuple[str, ...]:
    if event_type == "case.escalated":
        return ("cases", "alerts")
    if event_type.startswith(("case.", "evidence.")):
        return ("cases",)
    if event_type.startswith(("position.", "officer.", "device.")):
        return ("positions",)
    return ("alerts",)


def conflation_key(event: dict[str, Any]) -> str | None:
    """Position-like events about the same device/officer replace each other while a client lags."""
    if not event.get("type", "").startswith(("position.", "officer.")):
        return None
    for k in ("device_id", "officer_id", "user_id"):
        if event.get(k) is not None:
            return f"{event['type']}:{event[k]}"
    return None


def may_see(p: Principal, event: dict[str, Any]) -> bool:
    if p.roles & WIDE:
        return True
    audience = event.get("audience") or {}
    who = p.user_id
    if who in audience.get("user_ids", []):
        return True
    return p.department_id is not None and p.department_id in audience.get("department_ids", [])


Message = dict[str, Any] | str  # a str is already-encoded JSON (encoded once per event, sent to every client)


@dataclass(eq=False)  # identity semantics: clients live in a set
class Client:
    principal: Principal
    send: Callable[[Message], Awaitable[None]]
    topics: set[str] = field(default_factory=set)
    queue: deque[Message] = field(default_factory=deque)
    conflated: dict[str, Message] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False

    def offer(self, message: Message, key: str | None) -> None:
        if key is not None:
            self.conflated.pop(key, None)  # re-insert: keeps delivery order roughly by recency
            self.conflated[key] = message
        elif len(self.queue) >= CLIENT_QUEUE:
            self.overflowed = True
        else:
            self.queue.append(message)
        self.wake.set()

    def take(self) -> list[Message]:
        out = list(self.queue)
        self.queue.clear()
        out += self.conflated.values()
        self.conflated.clear()
        self.wake.clear()
        return out


class Hub:
    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.ring: deque[tuple[int, dict[str, Any]]] = deque(maxlen=RING_SIZE)
        self.providers: dict[str, Provider] = {}
        self._seq = itertools.count(1)
        self.seq = 0
        self._snapshots: dict[tuple[Any, ...], tuple[float, int, list[dict[str, Any]]]] = {}
        self._pump: asyncio.Task[None] | None = None

    def register(self, topic: str, provider: Provider) -> None:
        self.providers[topic] = provider

    def start(self, queue: asyncio.Queue[Any]) -> None:
        self._pump = asyncio.create_task(self._run(queue))

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _run(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            event = await queue.get()
            self.publish(event.model_dump(mode="json") if isinstance(event, BaseModel) else dict(event))

    def publish(self, event: dict[str, Any]) -> None:
        self.seq = next(self._seq)
        self.ring.append((self.seq, event))
        topics = topics_of(str(event.get("type", "")))
        key = conflation_key(event)
        encoded: dict[str, str] = {}
        for c in list(self.clients):
            for t in topics:
                if t in c.topics and may_see(c.principal, event):
                    text = encoded.get(t)
                    if text is None:
                        # ts: when this process published it (epoch s), so a client can measure its lag.
                        text = encoded[t] = json.dumps({"type": "event", "seq": self.seq, "topic": t,
                                                        "ts": round(time.time(), 4), "event": event},
                                                       ensure_ascii=False)
                    c.offer(text, key)

    def missed(self, since: int, topic: str, p: Principal) -> list[dict[str, Any]] | None:
        """Events after ``since`` for a resuming client, or None when the buffer no longer reaches back."""
        if since > self.seq:
            return None  # a sequence from another process or an earlier life of this one
        if self.ring and self.ring[0][0] > since + 1:
            return None
        return [{"type": "event", "seq": s, "topic": topic, "event": e} for s, e in self.ring
                if s > since and topic in topics_of(str(e.get("type", ""))) and may_see(p, e)]

    async def snapshot(self, topic: str, p: Principal) -> dict[str, Any]:
        """Initial state of a topic. Consoles that see the same thing share one computation for a moment: a wall of
        500 consoles reconnecting after a restart must not compute 500 identical snapshots. The snapshot says at
        which sequence it was taken; the caller replays what came after (``missed``)."""
        wide = bool(p.roles & WIDE)
        key = (topic, frozenset(p.roles), p.department_id, None if wide else p.user_id)
        hit = self._snapshots.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < SNAPSHOT_TTL_SECONDS:
            seq, items = hit[1], hit[2]
        else:
            seq = self.seq
            provider = self.providers.get(topic)
            items = await provider(p) if provider is not None else []
            self._snapshots[key] = (now, seq, items)
        return {"type": "snapshot", "topic": topic, "seq": seq, "items": items}

    async def serve(self, client: Client, window: float = BATCH_WINDOW_SECONDS) -> None:
        """Sender loop of one client: drains its queue and conflated positions, several messages per frame."""
        while True:
            await client.wake.wait()
            if window:
                await asyncio.sleep(window)
            if client.overflowed:
                client.overflowed = False
                client.take()
                await client.send({"type": "resync", "seq": self.seq})
                for t in sorted(client.topics):
                    await client.send(await self.snapshot(t, client.principal))
                continue
            messages = client.take()
            if len(messages) == 1:
                await client.send(messages[0])
            elif messages:
                parts = [m if isinstance(m, str) else json.dumps(m, ensure_ascii=False) for m in messages]
                await client.send('{"type":"batch","messages":[' + ",".join(parts) + "]}")
