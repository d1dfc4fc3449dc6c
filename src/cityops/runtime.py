"""What a running cityops holds besides the database: settings, clock, bus, and cached indexes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cityops.audit.models import AuditEntry
from cityops.case.models import CalendarOverride
from cityops.catalog.cache import CatalogCache
from cityops.catalog.models import Category, FilingCondition
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, utcnow
from cityops.deadlines.calendar import WorkCalendar
from cityops.geo.geojson import Layer
from cityops.geo.index import Area, AreaIndex
from cityops.geo.models import AreaRow
from cityops.realtime.bus import Bus

T = TypeVar("T")

# Other server processes may import geography or calendar overrides; each process re-checks at most this often.
RELOAD_CHECK_SECONDS = 30.0


@dataclass
class _Cached(Generic[T]):
    value: T | None = None
    signature: tuple[object, ...] | None = None
    checked_at: float = 0.0


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    clock: Callable[[], datetime] = utcnow
    # Per-runtime service objects created on first use (e.g. the report intake writer); closed with the runtime.
    services: dict[str, Any] = field(default_factory=dict)
    _geo: _Cached[AreaIndex] = field(default_factory=_Cached)
    _cal: _Cached[WorkCalendar] = field(default_factory=_Cached)
    _catalog: _Cached[CatalogCache] = field(default_factory=_Cached)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_sessionmaker(engine), Bus(settings.redis_url))

    async def close(self) -> None:
        for svc in self.services.values():
            await svc.close()
        await self.bus.close()
        await self.engine.dispose()

    def invalidate(self) -> None:
        self._geo = _Cached()
        self._cal = _Cached()
        self._catalog = _Cached()

    async def catalog(self, session: AsyncSession) -> CatalogCache:
        """Subclasses and their filing conditions in memory: every report looks one up."""
        c = self._catalog
        if c.value is not None and time.monotonic() - c.checked_at < RELOAD_CHECK_SECONDS:
            return c.value
        sig = await self._changed("catalog", session)
        if c.value is None or sig != c.signature:
            cats = (await session.execute(select(Category))).scalars().all()
            conds = (await session.execute(select(FilingCondition).order_by(FilingCondition.code))).scalars().all()
            session.expunge_all()
            c.value = CatalogCache(cats, conds)
            c.signature = sig
        c.checked_at = time.monotonic()
        return c.value

    @staticmethod
    async def _changed(entity_type: str, session: AsyncSession) -> tuple[object, ...]:
        """Every change of geography, catalog or calendar writes an audit entry of that entity type; the newest
        one's position tells whether another process changed it (one indexed lookup)."""
        return ((await session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.entity_type == entity_type))),)

    async def area_index(self, session: AsyncSession) -> AreaIndex:
        c = self._geo
        if c.value is not None and time.monotonic() - c.checked_at < RELOAD_CHECK_SECONDS:
            return c.value
        sig = await self._changed("geo", session)
        if c.value is None or sig != c.signature:
            from shapely import wkt

            rows = (await session.execute(select(AreaRow))).scalars().all()
            areas = [Area(r.id, Layer(r.layer), r.code, r.name, wkt.loads(r.geometry_wkt), r.parent_id) for r in rows]
            c.value = AreaIndex(areas)
            c.signature = sig
        c.checked_at = time.monotonic()
        return c.value

    async def calendar(self, session: AsyncSession) -> WorkCalendar:
        c = self._cal
        if c.value is not None and time.monotonic() - c.checked_at < RELOAD_CHECK_SECONDS:
            return c.value
        sig = await self._changed("calendar", session)
        if c.value is None or sig != c.signature:
            rows = (await session.execute(select(CalendarOverride.day, CalendarOverride.is_workday))).all()
            c.value = WorkCalendar(
                tz=ZoneInfo(self.settings.timezone),
                office_windows=tuple(self.settings.office_windows),
                overrides={d: w for d, w in rows},
            )
            c.signature = sig
        c.checked_at = time.monotonic()
        return c.value
