"""Fixtures of the evaluation tests: a settable clock behind the app, a client on it, the hand-built world's
areas and categories, and the case builder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cityops.app import create_app
from cityops.catalog.models import Category
from cityops.config import Settings
from cityops.geo.models import AreaRow
from cityops.runtime import Runtime
from evaluation.ev_support import Builder, Clock, Places
from support import World


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The shared settings, with the blob store in the test's own folder (history stores an after-photo)."""
    return Settings(database_url=db_url, redis_url=None, require_in_district=True, media_dir=tmp_path / "media")


@pytest.fixture
def clock(rt: Runtime) -> Clock:
    c = Clock()
    rt.clock = c
    return c


class _NoTracker:
    async def stop(self) -> None:
        return None


@pytest.fixture
async def ev_client(rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, but the app reads the test's clock (set before the app starts), and tracking's background
    listener is not started: it reacts to every case event in transactions of its own, which on PostgreSQL can
    deadlock with the case service (reported to the lead), and nothing evaluated here depends on it."""

    async def no_tracking(rt: Runtime, **_: object) -> _NoTracker:
        return _NoTracker()

    monkeypatch.setattr("cityops.tracking.lifecycle.start", no_tracking)
    app = create_app(runtime=rt, run_sweeper=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        yield c


@pytest.fixture
async def places(rt: Runtime, world: World) -> Places:
    async with rt.sessionmaker() as s:
        areas = {(layer, code): i for i, layer, code in (await s.execute(
            select(AreaRow.id, AreaRow.layer, AreaRow.code))).all()}
        cats = {code: i for i, code in (await s.execute(select(Category.id, Category.code).where(
            Category.edition == "GB/T 47678.5-2026", Category.kind == "event"))).all()}
    return Places(areas[("street", "410802001")], areas[("community", "410802001001")],
                  {code[-2:]: i for (layer, code), i in areas.items() if layer == "grid"}, cats)


@pytest.fixture
def builder(rt: Runtime, world: World, places: Places) -> Builder:
    return Builder(rt, world, places)
