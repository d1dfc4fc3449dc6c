"""Database adapter: async engine, declarative base, UTC timestamps, the write unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, MetaData, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back tz-aware (SQLite would drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass a tz-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable), plain JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def _sqlite_pragmas(dbapi_conn: Any, _: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; WAL keeps it consistent
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


# SQLite has one writer at a time; serialising writers in-process avoids SQLITE_BUSY on upgrade from a read
# snapshot, and it also serialises the audit chain. PostgreSQL uses an advisory lock instead (audit/service).
_sqlite_write_locks: dict[int, asyncio.Lock] = {}


def _write_lock(session: AsyncSession) -> asyncio.Lock | None:
    bind = session.bind
    if bind is None:
        return None
    return write_lock_for(bind.engine)


def write_lock_for(engine: AsyncEngine | Engine) -> asyncio.Lock | None:
    """The in-process write lock of a SQLite database (None on PostgreSQL), one per engine: the same for an
    AsyncEngine, its sync engine, and a session or connection bound to either."""
    if engine.dialect.name != "sqlite":
        return None
    key = id(engine.sync_engine if isinstance(engine, AsyncEngine) else engine)
    lock = _sqlite_write_locks.get(key)
    if lock is None:
        lock = _sqlite_write_locks[key] = asyncio.Lock()
    return lock


# Any constant works: it only has to be the same for every writer of this database.
PG_AUDIT_LOCK_KEY = 0x63_69_74_79  # "city"


@asynccontextmanager
async def writing(session: AsyncSession, *, audited: bool = True) -> AsyncIterator[AsyncSession]:
    """One write transaction: commit on success, roll back on any error (nothing half-written).

    On PostgreSQL an audited transaction takes the audit chain's advisory lock first, before any row lock: every
    writer then locks in the same order (chain, then rows), so a case action and a background writer that also
    appends to the audit log cannot deadlock. Writers that never append to the audit log (position history)
    pass ``audited=False`` and do not queue behind it.
    """
    lock = _write_lock(session)
    if lock is not None:
        await lock.acquire()
    try:
        try:
            if audited and lock is None and dialect(session) == "postgresql":
                await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_AUDIT_LOCK_KEY})
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
    finally:
        if lock is not None:
            lock.release()


SessionSource = AsyncSession | Callable[[], AsyncSession]


@asynccontextmanager
async def using(source: SessionSource) -> AsyncIterator[AsyncSession]:
    """The given session, or a new one from the given factory (closed afterwards): for hot paths that read the
    database only on a cache miss and should not open a session for every request."""
    if isinstance(source, AsyncSession):
        yield source
        return
    async with source() as session:
        yield session


def transient(cls: type[T], **values: Any) -> T:
    """A new, unsaved ORM object filled the way the ORM fills a loaded row: straight into its instance dict,
    without an attribute event per column. For hot paths that only read the object and insert its values with
    Core (the report intake); such an object must not be added to a session."""
    obj: T = cls._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    obj.__dict__.update(values)
    return obj


def dialect(session: AsyncSession) -> str:
    """'sqlite' or 'postgresql': the few places that differ (locks, upserts) branch on this."""
    bind = session.get_bind()
    return str(bind.dialect.name)


def utcnow() -> datetime:
    return datetime.now(UTC)
