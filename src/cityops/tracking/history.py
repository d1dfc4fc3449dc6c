"""Position history: a batched writer, track queries and retention.

The ingest path only appends a tuple to a buffer; the writer writes what waits as a group (group commit: ~50 ms
after the first row, at once for a full batch, at the latest every ``history_flush_s`` = 1 s) — with asyncpg's
binary COPY on PostgreSQL, ``executemany`` on SQLite. So at most about one second of accepted fixes is lost if
the process dies (documented in docs/tracking.md). A failed
flush keeps its rows for the next tick; beyond ``backlog_max`` waiting rows the oldest are dropped and counted,
so a database outage cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from cityops.db import writing
from cityops.tracking.models import POSITION_COLUMNS, Position

log = logging.getLogger(__name__)

Record = tuple[Any, ...]  # in POSITION_COLUMNS order; attributes as a dict or None


class HistoryWriter:
    def __init__(self, engine: AsyncEngine, *, batch_max: int = 5000, backlog_max: int = 500_000,
                 gather_s: float = 0.05, after_flush: Callable[[list[Record]], Awaitable[None]] | None = None) -> None:
        self.engine = engine
        self.batch_max = batch_max
        self.backlog_max = backlog_max
        self.after_flush = after_flush
        self.buffer: list[Record] = []
        self.written = 0
        self.overflow = 0
        self.failures = 0
        self.gather_s = gather_s
        self._full = asyncio.Event()
        self._waiting = asyncio.Event()
        self._lock = asyncio.Lock()

    def add(self, record: Record) -> None:
        self.buffer.append(record)
        self._waiting.set()
        if len(self.buffer) >= self.batch_max:
            self._full.set()

    def extend(self, records: Sequence[Record]) -> None:
        if not records:
            return
        self.buffer.extend(records)
        self._waiting.set()
        if len(self.buffer) >= self.batch_max:
            self._full.set()

    async def flush(self) -> int:
        """Write everything buffered; returns the number of rows written. Serialised: one flush at a time."""
        async with self._lock:
            total = 0
            while self.buffer:
                batch, self.buffer = self.buffer, []
                self._full.clear()
                self._waiting.clear()
                try:
                    await self._write(batch)
                except Exception:
                    self.failures += 1
                    self.buffer[:0] = batch
                    if len(self.buffer) > self.backlog_max:
                        cut = len(self.buffer) - self.backlog_max
                        del self.buffer[:cut]
                        self.overflow += cut
                    raise
                self.written += len(batch)
                total += len(batch)
                if self.after_flush is not None:
                    try:
                        await self.after_flush(batch)
                    except Exception:  # derived data (patrol state) must not block the history
                        log.exception("after-flush hook failed")
            return total

    async def _write(self, batch: list[Record]) -> None:
        if self.engine.dialect.name == "postgresql":
            async with self.engine.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                rows = [r if r[-1] is None else (*r[:-1], json.dumps(r[-1], ensure_ascii=False)) for r in batch]
                await driver.copy_records_to_table("positions", records=rows, columns=list(POSITION_COLUMNS))
            return
        async with AsyncSession(self.engine) as session, writing(session, audited=False):
            await session.execute(insert(Position), [dict(zip(POSITION_COLUMNS, r, strict=True)) for r in batch])

    async def run(self, interval_s: float, on_tick: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write as fixes come (group commit): a write starts once rows wait, after ``gather_s`` for more to join
        unless a full batch is ready; rows arriving during a write go in the next. ``on_tick`` runs every
        ``interval_s``, and a write happens then at the latest."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._waiting.wait(), max(0.0, next_tick - loop.time()))
            if self.buffer and len(self.buffer) < self.batch_max:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.gather_s)
            try:
                await self.flush()
            except Exception:
                log.exception("position history flush failed; %d rows kept for retry", len(self.buffer))
                await asyncio.sleep(min(interval_s, 1.0))
            if on_tick is not None and loop.time() >= next_tick:
                next_tick = loop.time() + interval_s
                try:
                    await on_tick()
                except Exception:
                    log.exception("tracking tick failed")

async def track(session: AsyncSession, *, device_ids: Sequence[int], start: datetime, end: datetime,
                limit: int) -> list[Position]:
    """Fixes of the devices in [start, end), oldest first (uses the (device_id, at) index)."""
    if not device_ids:
        return []
    q = (select(Position).where(Position.device_id.in_(list(device_ids)), Position.at >= start, Position.at < end)
         .order_by(Position.at, Position.id).limit(limit))
    return list((await session.execute(q)).scalars())


async def purge(session: AsyncSession, *, now: datetime, retention_days: float, batch: int = 50_000) -> int:
    """Delete fixes older than the retention period, in chunks so a large purge never holds a long lock."""
    cutoff = now - timedelta(days=retention_days)
    removed = 0
    while True:
        ids = select(Position.id).where(Position.at < cutoff).limit(batch).scalar_subquery()
        async with writing(session):
            result: Any = await session.execute(delete(Position).where(Position.id.in_(ids)))
        removed += result.rowcount or 0
        if not result.rowcount or result.rowcount < batch:
            return removed
