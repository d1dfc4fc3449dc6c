"""What a running cityops holds besides the database: settings, clock, bus, and cached indexes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
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
from cityops.db import make_engine, make_sessionmaker, using, utcnow
from cityops.dbwriter import TransactionRunner
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
    _writer: TransactionRunner | None = None

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        engine = make_engine(settings.database_url)
        return cls(settings, engine, make_sessionmaker(engine), Bus(settings.redis_url))

    def writer(self) -> TransactionRunner:
        """The process's runner for hot write transactions (report intake, upload offsets): see ``dbwriter``."""
        if self._writer is None:
            self._writer = TransactionRunner(self.engine)
        return self._writer

    async def close(self) -> None:
        for svc in self.services.values():
            await svc.close()
        if self._writer is not None:  # after the services: they may still write through it while they finish
            await self._writer.close()
        await self.bus.close()
        await self.engine.dispose()

    def invalidate(self) -> None:
        self._geo = _Cached()
        self._cal = _Cached()
        self._catalog = _Cached()

    async def catalog(self, session: AsyncSession | None = None) -> CatalogCache:
        """Subclasses and their filing conditions in memory: every report looks one up."""
        return await self._fresh(self._catalog, "catalog", session, _load_catalog)

    async def area_index(self, session: AsyncSession | None = None) -> AreaIndex:
        return await self._fresh(self._geo, "geo", session, _load_areas)

    async def calendar(self, session: AsyncSession | None = None) -> WorkCalendar:
        return await self._fresh(self._cal, "calendar", session, self._load_calendar)

    async def _fresh(self, c: _Cached[T], entity_type: str, session: AsyncSession | None,
                     load: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """The cached value, re-checked at most every RELOAD_CHECK_SECONDS and reloaded when another process
        changed it. Every change of geography, catalog or calendar writes an audit entry of that entity type; the
        newest one's position tells (one indexed lookup). Without a session one is opened only for a check."""
        if c.value is not None and time.monotonic() - c.checked_at < RELOAD_CHECK_SECONDS:
            return c.value
        async with using(session if session is not None else self.sessionmaker) as s:
            sig = ((await s.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.entity_type == entity_type))),)
            if c.value is None or sig != c.signature:
                c.value = await load(s)
                c.signature = sig
        c.checked_at = time.monotonic()
        return c.value

    async def _load_calendar(self, session: AsyncSession) -> WorkCalendar:
        rows = (await session.execute(select(CalendarOverride.day, CalendarOverride.is_workday))).all()
        return WorkCalendar(tz=ZoneInfo(self.settings.timezone), office_windows=tuple(self.settings.office_windows),
                            overrides={d: w for d, w in rows})


async def _load_catalog(session: AsyncSession) -> CatalogCache:
    cats = (await session.execute(select(Category))).scalars().all()
    conds = (await session.execute(select(FilingCondition).order_by(FilingCondition.code))).scalars().all()
    session.expunge_all()
    return CatalogCache(cats, conds)


async def _load_areas(session: AsyncSession) -> AreaIndex:
    from shapely import wkt

    rows = (await session.execute(select(AreaRow))).scalars().all()
    return AreaIndex([Area(r.id, Layer(r.layer), r.code, r.name, wkt.loads(r.geometry_wkt), r.parent_id) for r in rows])
