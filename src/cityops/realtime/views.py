"""`/api/v1/ws`: the live channel of consoles and field apps.

Browsers cannot set headers on a WebSocket, so the first message authenticates:
``{"type": "auth", "token": "..."}`` → ``{"type": "ready", "seq": n}``; then
``{"type": "subscribe", "topics": ["cases", "alerts", "positions"], "since": n?}`` → a snapshot per topic (or the
missed events when resuming) followed by ``{"type": "event", "seq", "topic", "event"}`` messages.
Any signed-in role may connect; what each receives is filtered by its visibility (see hub.may_see).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cityops.auth import service as auth_service
from cityops.errors import AppError
from cityops.realtime.hub import TOPICS, Client, Hub

router = APIRouter(tags=["realtime"])
AUTH_TIMEOUT_SECONDS = 10


class AuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern="^auth$")
    token: str = Field(min_length=1, max_length=200)


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str = Field(pattern="^subscribe$")
    topics: list[str] = Field(min_length=1, max_length=len(TOPICS))
    since: int | None = Field(default=None, ge=0)


async def _error(ws: WebSocket, code: str, message: str, close: int | None = None) -> None:
    await ws.send_json({"type": "error", "code": code, "message": message})
    if close is not None:
        await ws.close(close)


@router.websocket("/api/v1/ws")
async def live(ws: WebSocket) -> None:
    hub: Hub = ws.app.state.hub
    rt = ws.app.state.runtime
    await ws.accept()
    try:
        raw = await asyncio.wait_for(ws.receive_json(), AUTH_TIMEOUT_SECONDS)
        auth = AuthIn.model_validate(raw)
        async with rt.sessionmaker() as session:
            principal = await auth_service.principal_for(session, auth.token, rt.clock())
    except (TimeoutError, ValidationError, ValueError):
        await _error(ws, "not_authenticated", 'send {"type": "auth", "token": "<bearer token>"} first', 4401)
        return
    except AppError as e:
        await _error(ws, "not_authenticated", e.message, 4401)
        return
    except WebSocketDisconnect:
        return

    lock = asyncio.Lock()

    async def send(message: dict[str, Any] | str) -> None:
        async with lock:
            if isinstance(message, str):
                await ws.send_text(message)
            else:
                await ws.send_json(message)

    client = Client(principal, send)
    await send({"type": "ready", "seq": hub.seq, "user": {"id": principal.user_id, "roles": sorted(principal.roles)}})
    sender = asyncio.create_task(hub.serve(client))
    hub.clients.add(client)
    try:
        while True:
            raw = await ws.receive_json()
            kind = raw.get("type") if isinstance(raw, dict) else None
            if kind == "ping":
                await send({"type": "pong", "seq": hub.seq})
                continue
            try:
                sub = SubscribeIn.model_validate(raw)
            except ValidationError as e:
                await send({"type": "error", "code": "invalid_input", "message": str(e.errors()[0]["msg"]),
                            "field": ".".join(str(x) for x in e.errors()[0]["loc"])})
                continue
            unknown = [t for t in sub.topics if t not in TOPICS]
            if unknown:
                await send({"type": "error", "code": "invalid_input", "field": "topics",
                            "message": f"unknown topic {unknown[0]!r}; topics are: {', '.join(TOPICS)}"})
                continue
            for topic in sub.topics:
                missed = hub.missed(sub.since, topic, principal) if sub.since is not None else None
                # Subscribe before taking the snapshot: an event in between then arrives twice, never zero times.
                client.topics.add(topic)
                if missed is None:
                    snap = await hub.snapshot(topic, principal)
                    await send(snap)
                    # A shared snapshot may be a moment old: replay what happened since it was taken.
                    for m in hub.missed(snap["seq"], topic, principal) or []:
                        await send(m)
                else:
                    for m in missed:
                        await send(m)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.clients.discard(client)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
