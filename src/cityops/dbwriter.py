"""A write transaction run as one synchronous function, for the hot background writers (report intake).

Through the async session every statement is a round trip between the event loop and the driver: on SQLite each
one is a hop to aiosqlite's thread and back, plus SQLAlchemy's greenlet switches, and the event loop pays for all
of them — it is the one thread that also parses every HTTP request. A batch writer does not need any of that: it
knows all its statements up front. ``TransactionRunner.run(fn, *args)`` runs ``fn(connection, *args)`` inside one
transaction:

- SQLite (a file): on a thread of its own with its own connection to the same file, so the whole batch is one hop
  and SQLite's own work runs beside the event loop (the sqlite3 module lets go of the GIL while SQLite works). The
  transaction begins IMMEDIATE (the write lock is taken up front, never upgraded from a read), and the process's
  SQLite write lock (``db.write_lock_for``) is held meanwhile, so in-process writers still take turns.
- PostgreSQL (or an in-memory SQLite): ``AsyncConnection.run_sync`` on the app's engine; audited writes take the
  audit chain's advisory lock first, as ``db.writing`` does.

``fn`` must only use the connection and its arguments: on SQLite it runs off the event loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from cityops.db import PG_AUDIT_LOCK_KEY, _sqlite_pragmas, write_lock_for

R = TypeVar("R")


class TransactionRunner:
    def __init__(self, engine: AsyncEngine, name: str = "writer") -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._conn: Connection | None = None  # the runner thread's, kept open between calls
        self._thread: ThreadPoolExecutor | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._sync = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0,
                                       connect_args={"check_same_thread": False, "isolation_level": None})
            event.listen(self._sync, "connect", _sqlite_pragmas)
            # sqlite3 is in autocommit mode (isolation_level None): SQLAlchemy's begin issues BEGIN IMMEDIATE
            # itself (the pysqlite recipe in SQLAlchemy's SQLite dialect docs).
            event.listen(self._sync, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"cityops-{name}")

    async def run(self, fn: Callable[..., R], *args: Any, audited: bool = True) -> R:
        lock = write_lock_for(self.engine)
        if lock is not None:
            await lock.acquire()
        try:
            if self._thread is not None:
                return await self._off_loop(fn, args)
            async with self.engine.begin() as conn:
                if audited and conn.dialect.name == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_AUDIT_LOCK_KEY})
                return await conn.run_sync(fn, *args)
        finally:
            if lock is not None:
                lock.release()

    async def _off_loop(self, fn: Callable[..., R], args: tuple[Any, ...]) -> R:
        assert self._thread is not None
        done = asyncio.get_running_loop().run_in_executor(self._thread, self._in_transaction, fn, args)
        try:
            return await asyncio.shield(done)
        finally:
            # Cancelled while SQLite still works: keep the write lock until it is done.
            if not done.done():
                with contextlib.suppress(BaseException):
                    await done

    def _in_transaction(self, fn: Callable[..., R], args: tuple[Any, ...]) -> R:
        assert self._sync is not None
        # One connection for the runner's life: checking one out of the pool and resetting it on return cost
        # more than a small batch's statements.
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self._sync.connect()
        with self._conn.begin():
            return fn(self._conn, *args)

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def close(self) -> None:
        if self._thread is not None:
            # Closed on its own thread, where it was used.
            await asyncio.get_running_loop().run_in_executor(self._thread, self._close_connection)
            self._thread.shutdown(wait=True)
        if self._sync is not None:
            self._sync.dispose()
