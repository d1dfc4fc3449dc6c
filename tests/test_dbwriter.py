"""TransactionRunner: one write transaction per call, committed whole or not at all; on SQLite on the event loop's
thread unless another connection holds the write lock (then on the runner's thread, the loop free meanwhile), and
always holding the process's SQLite write lock; on PostgreSQL behind the audit chain's advisory lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import date

import pytest
from sqlalchemy import Connection, func, insert, select, text

from cityops.case.models import CaseCounter
from cityops.db import _write_lock, write_lock_for, writing
from cityops.dbwriter import TransactionRunner
from cityops.runtime import Runtime
from conftest import IS_PG

DAY = date(2026, 11, 30)


def _count_day(conn: Connection, day: date, n: int) -> int:
    conn.execute(insert(CaseCounter), {"day": day, "last": n})
    return threading.get_ident()


async def _counters(rt: Runtime) -> dict[date, int]:
    async with rt.sessionmaker() as s:
        return {d: n for d, n in (await s.execute(select(CaseCounter.day, CaseCounter.last))).all()}


async def test_a_call_is_committed_and_its_rows_are_seen_by_the_app(rt: Runtime) -> None:
    runner = TransactionRunner(rt.engine)
    try:
        ran_on = await runner.run(_count_day, DAY, 7)
    finally:
        await runner.close()
    assert await _counters(rt) == {DAY: 7}
    # Uncontended, the statements ran on the event loop's thread: no hand-over to another thread.
    assert ran_on == threading.get_ident()


async def test_an_error_leaves_nothing_written(rt: Runtime) -> None:
    def half(conn: Connection) -> None:
        _count_day(conn, DAY, 1)
        conn.execute(insert(CaseCounter), {"day": DAY, "last": 2})  # same primary key: fails

    runner = TransactionRunner(rt.engine)
    try:
        with pytest.raises(Exception, match="(?i)unique|duplicate"):
            await runner.run(half)
        assert await _counters(rt) == {}
        await runner.run(_count_day, DAY, 3)  # the runner is usable after a failure
    finally:
        await runner.close()
    assert await _counters(rt) == {DAY: 3}


@pytest.mark.skipif(IS_PG, reason="SQLite's locking; PostgreSQL: next test")
async def test_a_sqlite_write_lock_held_elsewhere_is_waited_for_off_the_loop(rt: Runtime) -> None:
    async with rt.sessionmaker() as s:
        assert _write_lock(s) is write_lock_for(rt.engine) is write_lock_for(rt.engine.sync_engine)
    # Another process writing: a plain sqlite3 connection holding the database's write lock.
    other = sqlite3.connect(rt.engine.url.database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    runner = TransactionRunner(rt.engine)
    order: list[str] = []

    async def in_process_writer() -> None:
        async with rt.sessionmaker() as s, writing(s):
            n = await s.scalar(select(func.count()).select_from(CaseCounter))
            order.append(f"in-process writer saw {n}")

    try:
        job = asyncio.create_task(runner.run(_count_day, DAY, 1))
        ticks = 0
        for _ in range(20):  # the event loop keeps running while the runner waits for the lock
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not job.done()
        waiting = asyncio.create_task(in_process_writer())
        await asyncio.sleep(0.05)
        assert write_lock_for(rt.engine).locked() and order == []  # type: ignore[union-attr]
        other.execute("COMMIT")  # the other process is done
        ran_on = await job
        await waiting
    finally:
        other.close()
        await runner.close()
    assert ran_on != threading.get_ident()  # it waited on the runner's thread
    assert order == ["in-process writer saw 1"]  # and the in-process writer took its turn after it


@pytest.mark.skipif(not IS_PG, reason="PostgreSQL only")
async def test_postgres_runs_audited_calls_behind_the_audit_lock(rt: Runtime) -> None:
    def advisory_locks(conn: Connection) -> int:
        return int(conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                     "AND pid = pg_backend_pid()")).scalar_one())

    runner = TransactionRunner(rt.engine)
    try:
        assert await runner.run(advisory_locks) == 1
        assert await runner.run(advisory_locks, audited=False) == 0
    finally:
        await runner.close()
