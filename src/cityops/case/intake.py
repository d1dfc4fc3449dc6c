"""Report intake with group commit.

Every report needs the same short write: a case number, the case row, its first timeline row, an audit entry.
Done one transaction per report, the database round trips and the commit dominate (≈ 100 reports/s on SQLite here).
Reports that arrive while a write is in flight are queued and written together in the next transaction: one
counter update, one multi-row INSERT per table, one audit head read, one commit. Under no load a batch is one
report, so latency is unchanged; under load the cost per report falls with the batch size.

The batch is one synchronous function in one transaction (``dbwriter.TransactionRunner``): on SQLite it runs on a
thread of its own with its own connection, so the event loop — which also parses every request — pays one hop per
batch instead of one per statement. Rows that belong with a report (``Related``, e.g. what an Open311 app sent
beyond the case) are written in the same transaction: a report is stored whole or not at all.

If a batch fails (e.g. two retries with the same Idempotency-Key race each other), its reports are written again
one by one so that only the faulty one fails.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from cityops.audit import service as audit_service
from cityops.audit.chain import NewEntry
from cityops.batching import GroupWriter
from cityops.case.models import Case, CaseCounter, CaseEvent, IdempotencyKey
from cityops.runtime import Runtime


@dataclass
class Related:
    """A row written with the case, in the same transaction, that refers to it by ``case_id`` — e.g. what an
    Open311 app sent that the case has no column for — with its own audit entry."""

    table: Table
    row: dict[str, Any]
    action: str
    audit: dict[str, Any]


@dataclass
class Report:
    """A report ready to be written: everything decided, only the number and ids missing."""

    case: Case
    event: CaseEvent
    audit: dict[str, Any]
    idempotency: IdempotencyKey | None
    now: datetime
    related: list[Related] = field(default_factory=list)
    future: asyncio.Future[Case] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class IntakeWriter(GroupWriter[Report]):
    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.tz = ZoneInfo(rt.settings.timezone)
        self.runner = rt.writer()

    async def submit(self, report: Report) -> Case:
        case: Case = await super().submit(report)
        return case

    async def write(self, batch: list[Report]) -> None:
        await self.runner.run(_write, batch, self.tz)
        for r in batch:
            if not r.future.done():
                r.future.set_result(r.case)


def _write(conn: Connection, batch: list[Report], tz: tzinfo) -> None:
    """The whole batch in the caller's transaction: numbers, cases, first timeline rows, idempotency keys, related
    rows, audit entries. Runs off the event loop on SQLite (see ``dbwriter``): it touches only its arguments."""
    by_day: dict[date, list[Report]] = defaultdict(list)
    for r in batch:
        by_day[r.now.astimezone(tz).date()].append(r)
    for day, reports in sorted(by_day.items()):
        # One upsert, not UPDATE-then-INSERT: two processes writing a day's first reports would both find no row
        # and both INSERT it, and one would fail on the primary key.
        last = conn.execute(_count_up(conn.dialect.name), {"day": day, "n": len(reports)}).scalar_one()
        for seq, r in enumerate(reports, start=last - len(reports) + 1):
            r.case.case_no = f"{day:%Y%m%d}{seq:05d}"
    for r in batch:
        r.case.__dict__["version"] = 1
    # One multi-row INSERT per table. RETURNING rows come back in no guaranteed order, so they are matched by a
    # key each row already has (the case number, then the case id) — asking SQLAlchemy to keep parameter order
    # instead would make it insert row by row on SQLite. The Case objects stay transient (never in a session):
    # they only carry the values back for the response.
    by_no = {r.case.case_no: r for r in batch}
    for case_id, case_no in conn.execute(insert(_CASES).returning(_CASES.c.id, _CASES.c.case_no),
                                         [_row(r.case, "id") for r in batch]):
        r = by_no[case_no]
        r.case.id = r.event.case_id = case_id
        if r.idempotency is not None:
            r.idempotency.case_id = case_id
    by_case = {r.case.id: r for r in batch}
    for event_id, case_id in conn.execute(insert(_EVENTS).returning(_EVENTS.c.id, _EVENTS.c.case_id),
                                          [_row(r.event, "id") for r in batch]):
        by_case[case_id].event.id = event_id
    keys = [_row(r.idempotency, "id") for r in batch if r.idempotency is not None]
    if keys:
        conn.execute(insert(_KEYS), keys)
    related: dict[Table, list[dict[str, Any]]] = defaultdict(list)
    entries: list[NewEntry] = []
    for r in batch:
        entries.append(NewEntry(r.now, r.case.reporter_id, "case.report", "case", r.case.id,
                                {"case_no": r.case.case_no, **r.audit}))
        for x in r.related:
            related[x.table].append({**x.row, "case_id": r.case.id})
            entries.append(NewEntry(r.now, r.case.reporter_id, x.action, "case", r.case.id, x.audit))
    for table, rows in related.items():
        conn.execute(insert(table), rows)
    audit_service.append_many_sync(conn, entries)


_CASES, _EVENTS, _KEYS = (cast(Table, m.__table__) for m in (Case, CaseEvent, IdempotencyKey))


@functools.cache
def _count_up(dialect_name: str) -> Any:
    """``last += n`` for a day's counter, returning the new value; built once per dialect (constructing the
    statement costs more than running it)."""
    upsert = pg_insert if dialect_name == "postgresql" else sqlite_insert
    return (upsert(CaseCounter).values(day=bindparam("day"), last=bindparam("n"))
            .on_conflict_do_update(index_elements=["day"], set_={"last": CaseCounter.last + bindparam("n")})
            .returning(CaseCounter.last))


_COLUMNS: dict[type, tuple[str, ...]] = {}


def _row(obj: Any, *skip: str) -> dict[str, Any]:
    """Column values of a transient ORM object, read from its instance dict: going through the instrumented
    attributes costs more than the INSERT itself at this rate. Unset columns are left out, so the INSERT gives
    them their column defaults (every report sets the same columns, so the rows of a batch stay uniform)."""
    keys = _COLUMNS.get(type(obj))
    if keys is None:
        keys = _COLUMNS[type(obj)] = tuple(c.key for c in obj.__table__.columns)
    values = obj.__dict__
    return {k: values[k] for k in keys if k in values and k not in skip}


def writer_for(rt: Runtime) -> IntakeWriter:
    w = rt.services.get("intake")
    if w is None:
        w = rt.services["intake"] = IntakeWriter(rt)
    assert isinstance(w, IntakeWriter)
    return w


__all__ = ["IntakeWriter", "IntegrityError", "Related", "Report", "writer_for"]
