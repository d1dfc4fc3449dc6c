"""Append to and verify the audit log. Appends run inside the caller's write transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.chain import Break, ChainEntry, NewEntry, chain_rows, find_break
from cityops.audit.models import AuditEntry
from cityops.db import PG_AUDIT_LOCK_KEY, dialect

_PG_LOCK_KEY = PG_AUDIT_LOCK_KEY  # re-taking it inside `writing` is free: the lock is re-entrant per transaction


async def append(
    session: AsyncSession, *, now: datetime, actor_id: int | None, action: str, entity_type: str,
    entity_id: str | int, data: dict[str, Any] | None = None,
) -> str:
    """Append one entry after the current head and return its hash."""
    if dialect(session) == "postgresql":
        # Serialise appenders until commit so two transactions never chain onto the same head.
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await session.execute(_HEAD)).first()
    row = next(chain_rows(_head(head), [NewEntry(now, actor_id, action, entity_type, entity_id, data or {})]))
    await session.execute(_TABLE.insert(), row)
    return str(row["hash"])


_TABLE = cast(Table, AuditEntry.__table__)
_HEAD = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)


def _head(row: Row[int, str] | None) -> tuple[int, str] | None:
    return (int(row[0]), str(row[1])) if row is not None else None


def append_many_sync(conn: Connection, entries: list[NewEntry]) -> None:
    """Append ``entries`` in order with one head read and one multi-row INSERT, on a connection inside a write
    transaction that already serialises appenders (``dbwriter.TransactionRunner``: the SQLite write lock, or the
    advisory lock on PostgreSQL)."""
    if entries:
        head = conn.execute(_HEAD).first()
        conn.execute(_TABLE.insert(), list(chain_rows(_head(head), entries)))


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    head_hash: str | None
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


async def _stream(session: AsyncSession, batch: int = 5000) -> AsyncIterator[ChainEntry]:
    last = 0
    while True:
        rows = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
            )
        ).scalars().all()
        if not rows:
            return
        for r in rows:
            yield ChainEntry(r.seq, r.at, r.actor_id, r.action, r.entity_type, r.entity_id, r.data,
                             r.prev_hash, r.hash)
        last = rows[-1].seq
        session.expunge_all()


async def verify(session: AsyncSession) -> VerifyResult:
    entries = [e async for e in _stream(session)]
    checked, broken = find_break(entries)
    head = entries[-1].hash if entries and broken is None else None
    return VerifyResult(checked, head, broken)


async def history(session: AsyncSession, entity_type: str, entity_id: str | int) -> list[AuditEntry]:
    rows = await session.execute(
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.seq)
    )
    return list(rows.scalars())
