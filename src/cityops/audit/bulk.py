"""Append many audit entries in one go (bulk imports, generated history) with exactly the hashes that
``audit.service.append`` would give them one by one, so ``cityops audit verify`` walks them like any other."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.chain import NewEntry, chain_rows
from cityops.audit.service import _HEAD, _PG_LOCK_KEY, _TABLE, _head

__all__ = ["NewEntry", "append_many"]


async def append_many(session: AsyncSession, entries: Iterable[NewEntry], *, batch: int = 2000) -> int:
    """Chain ``entries`` after the current head, in the order given, inside the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = (await session.execute(_HEAD)).first()
    rows = chain_rows(_head(head), entries)
    written = 0
    while chunk := list(islice(rows, batch)):
        await session.execute(_TABLE.insert(), chunk)
        written += len(chunk)
    return written
