"""A write transaction run as one synchronous function, for the hot background writers (report intake).

Through the async session every statement is a round trip between the event loop and the driver: on SQLite each
one is a hop to aiosqlite's thread and back, plus SQLAlchemy's greenlet switches, and the event loop pays for all
of them — it is the one thread that also parses every HTTP request. A batch writer needs none of that: it knows
all its statements up front. ``TransactionRunner.run(fn, *args)`` runs ``fn(connection, *args)`` in one
transaction.

SQLite (a file) — on the event loop's own thread, on a connection of the runner's:
- A batch of reports is a few hundred microseconds of SQLite work (WAL, ``synchronous=NORMAL``: a commit appends
  to the WAL file and does not fsync). Handing it to a thread cost more than that: the two threads contend for
  the GIL, and the batch's wall time grew tenfold. Measured, the threaded writer took 0.3 ms of the event loop's
  time per report; inline it takes less than half.
- What could make it slow is kept off the loop. The connection never waits for a lock (``busy_timeout=0``): when
  another connection (another process, or a write of this one outside ``db.writing``) holds SQLite's write lock,
  ``BEGIN IMMEDIATE`` fails at once and the same call is run on the runner's thread instead, on a connection
  that waits. It never checkpoints (``wal_autocheckpoint=0``): the
  checkpoint, which does fsync, runs on a thread of its own (PASSIVE, so writers go on meanwhile), at most once a
  second after writes.
- The process's SQLite write lock (``db.write_lock_for``) is held meanwhile, so in-process writers take turns.

PostgreSQL (or an in-memory SQLite): ``AsyncConnection.run_sync`` on the app's engine; audited writes take the
audit chain's advisory lock first, as ``db.writing`` does.

``fn`` must only use the connection and its arguments: it may run on the runner's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.db import PG_AUDIT_LOCK_KEY, _sqlite_pragmas, write_lock_for

log = logging.getLogger(__name__)
R = TypeVar("R")
CHECKPOINT_EVERY_SECONDS = 1.0


def _sqlite_engine(url: URL, *, wait: bool) -> Engine:
    """A pysqlite engine of one connection whose transactions begin IMMEDIATE (the write lock is taken up front,
    never upgraded from a read): sqlite3 is in autocommit mode and SQLAlchemy's begin issues the BEGIN itself (the
    pysqlite recipe in SQLAlchemy's SQLite dialect docs). ``wait=False``: no busy wait and no checkpoints."""
    engine = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0,
                           connect_args={"check_same_thread": False, "isolation_level": None})
    event.listen(engine, "connect", _sqlite_pragmas)
    if not wait:
        event.listen(engine, "connect", _no_waiting)
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    return engine


def _no_waiting(dbapi_conn: Any, _: Any) -> None:
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class _Busy(Exception):
    """Another process holds SQLite's write lock."""


class _Side:
    """A connection kept open between calls, opened lazily (on the thread that uses it)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def get(self) -> Connection:
        if self.conn is None or self.conn.closed or self.conn.invalidated:
            self.conn = self.engine.connect()
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.engine.dispose()


class TransactionRunner:
    def __init__(self, engine: AsyncEngine, name: str = "writer") -> None:
        self.engine = engine
        self._inline: _Side | None = None
        self._waiting: _Side | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._checkpoint: Future[None] | None = None
        self._checkpointed_at = 0.0
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._inline = _Side(_sqlite_engine(url, wait=False))
            self._waiting = _Side(_sqlite_engine(url, wait=True))
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"cityops-{name}")

    async def run(self, fn: Callable[..., R], *args: Any, audited: bool = True) -> R:
        lock = write_lock_for(self.engine)
        if lock is not None:
            await lock.acquire()
        try:
            if self._inline is not None:
                try:
                    result = _transaction(self._inline, fn, args, fail_fast=True)
                except _Busy:
                    result = await self._on_thread(fn, args)
                self._checkpoint_soon()
                return result
            async with self.engine.begin() as conn:
                if audited and conn.dialect.name == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_AUDIT_LOCK_KEY})
                return await conn.run_sync(fn, *args)
        finally:
            if lock is not None:
                lock.release()

    async def _on_thread(self, fn: Callable[..., R], args: tuple[Any, ...]) -> R:
        assert self._thread is not None and self._waiting is not None
        done = asyncio.get_running_loop().run_in_executor(self._thread, _transaction, self._waiting, fn, args)
        try:
            return await asyncio.shield(done)
        finally:
            # Cancelled while SQLite still works: keep the write lock until it is done.
            if not done.done():
                with contextlib.suppress(BaseException):
                    await done

    def _checkpoint_soon(self) -> None:
        """Move the WAL into the database on the runner's thread, at most once a second and one at a time."""
        now = time.monotonic()
        if self._thread is None or now - self._checkpointed_at < CHECKPOINT_EVERY_SECONDS:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpointed_at = now
        self._checkpoint = self._thread.submit(self._passive_checkpoint)

    def _passive_checkpoint(self) -> None:
        assert self._waiting is not None
        try:
            # On the driver's connection: through SQLAlchemy the statement would first begin a transaction (ours
            # begin IMMEDIATE, taking the write lock for nothing).
            dbapi = self._waiting.get().connection.dbapi_connection
            assert dbapi is not None
            dbapi.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception:  # the next one catches up; SQLite's own autocheckpoints (other connections) remain
            log.warning("WAL checkpoint failed", exc_info=True)

    async def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
        if self._thread is not None:
            # The thread's connection is closed on that thread, after a last checkpoint.
            await asyncio.get_running_loop().run_in_executor(self._thread, self._last_checkpoint)
            self._thread.shutdown(wait=True)

    def _last_checkpoint(self) -> None:
        assert self._waiting is not None
        self._passive_checkpoint()
        self._waiting.close()


def _transaction(side: _Side, fn: Callable[..., R], args: tuple[Any, ...], *, fail_fast: bool = False) -> R:
    conn = side.get()
    try:
        tx = conn.begin()
    except OperationalError as e:
        conn.rollback()  # SQLite began nothing; SQLAlchemy's record of the attempt is cleared
        # Only BEGIN IMMEDIATE can meet another connection's write lock (a WAL commit needs no further lock).
        if fail_fast and "locked" in str(e.orig).lower():
            raise _Busy from e
        raise
    with tx:
        return fn(conn, *args)
