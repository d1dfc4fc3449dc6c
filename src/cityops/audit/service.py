"""Append to and verify the audit log. Appends run inside the caller's write transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.chain import GENESIS, Break, ChainEntry, canonical_json, entry_hash, find_break
from cityops.audit.models import AuditEntry
from cityops.db import PG_AUDIT_LOCK_KEY, dialect

_PG_LOCK_KEY = PG_AUDIT_LOCK_KEY  # re-taking it inside `writing` is free: the lock is re-entrant per transaction


async def append(
    session: AsyncSession, *, now: datetime, actor_id: int | None, action: str, entity_type: str,
    entity_id: str | int, data: dict[str, Any] | None = None,
) -> str:
    """Append one entry after the current head and return its hash."""
    now = now.astimezone(UTC)  # hash the instant as it will read back from the database
    if dialect(session) == "postgresql":
        # Serialise appenders until commit so two transactions never chain onto the same head.
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1))).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    body = canonical_json(data or {})
    digest = entry_hash(
        seq=seq, at=now, actor_id=actor_id, action=action, entity_type=entity_type,
        entity_id=str(entity_id), data=body, prev_hash=prev,
    )
    await session.execute(
        insert(AuditEntry).values(
            seq=seq, at=now, actor_id=actor_id, action=action, entity_type=entity_type,
            entity_id=str(entity_id), data=body, prev_hash=prev, hash=digest,
        )
    )
    return digest


_HEAD = select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)


async def append_many(session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Append several entries in order with one head read and one multi-row INSERT (group commit of reports).
    Each dict has the keyword arguments of ``append``."""
    if not entries:
        return
    if dialect(session) == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await session.execute(_HEAD)).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    rows = []
    for e in entries:
        seq += 1
        at = e["now"].astimezone(UTC)
        body = canonical_json(e.get("data") or {})
        entity_id = str(e["entity_id"])
        digest = entry_hash(seq=seq, at=at, actor_id=e["actor_id"], action=e["action"],
                            entity_type=e["entity_type"], entity_id=entity_id, data=body, prev_hash=prev)
        rows.append({"seq": seq, "at": at, "actor_id": e["actor_id"], "action": e["action"],
                     "entity_type": e["entity_type"], "entity_id": entity_id, "data": body, "prev_hash": prev,
                     "hash": digest})
        prev = digest
    await session.execute(insert(AuditEntry.__table__), rows)  # Core on the table: no ORM bulk layer


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
