"""TransactionRunner: one write transaction per call, committed whole or not at all; on SQLite off the event loop
while holding the process's SQLite write lock, on PostgreSQL behind the audit chain's advisory lock."""

from __future__ import annotations

import asyncio
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
    # SQLite: the statements ran on the runner's own thread, not on the event loop's.
    assert (ran_on != threading.get_ident()) is (not IS_PG)


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


@pytest.mark.skipif(IS_PG, reason="the in-process write lock exists on SQLite only; PostgreSQL: next test")
async def test_sqlite_writers_of_the_process_wait_for_the_runner(rt: Runtime) -> None:
    async with rt.sessionmaker() as s:
        assert _write_lock(s) is write_lock_for(rt.engine) is write_lock_for(rt.engine.sync_engine)
    inside, release = threading.Event(), threading.Event()

    def slow(conn: Connection) -> None:
        _count_day(conn, DAY, 1)
        inside.set()
        release.wait(10)

    runner = TransactionRunner(rt.engine)
    order: list[str] = []

    async def other_writer() -> None:
        async with rt.sessionmaker() as s, writing(s):
            n = await s.scalar(select(func.count()).select_from(CaseCounter))
            order.append(f"other saw {n}")

    try:
        job = asyncio.create_task(runner.run(slow))
        await asyncio.to_thread(inside.wait, 10)
        waiting = asyncio.create_task(other_writer())
        await asyncio.sleep(0.05)
        assert write_lock_for(rt.engine).locked() and order == []  # type: ignore[union-attr]
        release.set()
        await job
        await waiting
    finally:
        release.set()
        await runner.close()
    assert order == ["other saw 1"]  # it ran after the runner committed


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
