"""Append many audit entries in one go (bulk imports, generated history) with exactly the hashes that
``audit.service.append`` would give them one by one, so ``cityops audit verify`` walks them like any other."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.chain import GENESIS, canonical_json, entry_hash
from cityops.audit.models import AuditEntry
from cityops.audit.service import _PG_LOCK_KEY


@dataclass(frozen=True)
class NewEntry:
    at: datetime
    actor_id: int | None
    action: str
    entity_type: str
    entity_id: str | int
    data: dict[str, Any]


async def append_many(session: AsyncSession, entries: Iterable[NewEntry], *, batch: int = 2000) -> int:
    """Chain ``entries`` after the current head, in the order given, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await session.execute(select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc())
                                  .limit(1))).first()
    seq, prev = (head[0], head[1]) if head else (0, GENESIS)
    rows: list[dict[str, Any]] = []
    written = 0
    for e in entries:
        seq += 1
        at = e.at.astimezone(UTC)
        body = canonical_json(e.data)
        digest = entry_hash(seq=seq, at=at, actor_id=e.actor_id, action=e.action, entity_type=e.entity_type,
                            entity_id=str(e.entity_id), data=body, prev_hash=prev)
        rows.append({"seq": seq, "at": at, "actor_id": e.actor_id, "action": e.action,
                     "entity_type": e.entity_type, "entity_id": str(e.entity_id), "data": body,
                     "prev_hash": prev, "hash": digest})
        prev = digest
        if len(rows) >= batch:
            await session.execute(insert(AuditEntry), rows)
            written += len(rows)
            rows = []
    if rows:
        await session.execute(insert(AuditEntry), rows)
        written += len(rows)
    return written
