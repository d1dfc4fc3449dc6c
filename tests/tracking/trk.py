"""Helpers shared by the tracking tests (importable as `trk`: tests/tracking/conftest.py puts this folder on the
path)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from cityops.runtime import Runtime
from cityops.tracking.state import TrackingState, state_of
from support import World

TRACKING_REDIS_URL = os.environ.get("CITYOPS_TEST_TRACKING_REDIS_URL", "redis://127.0.0.1:6379/14")


@dataclass
class Clock:
    """The app's clock in tests: read by every request, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now = self.now + timedelta(**delta)
        return self.now


def st(rt: Runtime) -> TrackingState:
    return state_of(rt)


async def settle(rt: Runtime) -> None:
    """Let background work catch up: history flushed, case events handled (status, auto-dispatch)."""
    s = state_of(rt)
    if s.tracker is not None:
        await s.tracker.settled()
    await s.writer.flush()
    if s.tracker is not None:
        await s.tracker.tick()


async def register(c: httpx.AsyncClient, w: World, identifier: str, officer: str | None,
                   **extra: Any) -> dict[str, Any]:
    body = {"identifier": identifier, "name": f"{identifier} phone",
            "officer_id": w.users[officer] if officer else None, **extra}
    r = await c.post("/api/v1/tracking/devices", json=body, headers=w.h("admin"))
    assert r.status_code == 201, r.text
    return dict(r.json())


async def duty(c: httpx.AsyncClient, w: World, officer: str, value: str = "on_duty") -> dict[str, Any]:
    r = await c.put(f"/api/v1/tracking/officers/{w.users[officer]}/duty", json={"duty": value}, headers=w.h(officer))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def report(c: httpx.AsyncClient, identifier: str, lat: float, lon: float, at: datetime, expect: int = 200,
                 **extra: Any) -> httpx.Response:
    params = {"id": identifier, "lat": f"{lat:.7f}", "lon": f"{lon:.7f}", "timestamp": str(int(at.timestamp())),
              **{k: str(v) for k, v in extra.items()}}
    r = await c.post("/api/v1/osmand", params=params)
    assert r.status_code == expect, r.text
    return r


async def stats(c: httpx.AsyncClient, w: World) -> dict[str, Any]:
    r = await c.get("/api/v1/tracking/ingest/stats", headers=w.h("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())
