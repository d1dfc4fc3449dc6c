"""Writes submission extras (e-mail, app ids, attribute answers) next to their cases, with group commit.

The case itself is written by the case intake, which batches reports that arrive together into one transaction.
The extras of those reports then arrive here together too; writing them one transaction each would queue every
POST behind the database's write lock again, so they are batched the same way: one multi-row INSERT and one audit
append per batch. A failed batch is retried row by row so that one bad row cannot cost the others.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from cityops.audit import service as audit_service
from cityops.batching import GroupWriter
from cityops.db import writing
from cityops.open311.models import Submission
from cityops.runtime import Runtime


@dataclass
class Extra:
    row: dict[str, Any]  # column values of one Submission
    actor_id: int
    now: datetime
    future: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ExtrasWriter(GroupWriter[Extra]):
    def __init__(self, rt: Runtime) -> None:
        super().__init__()
        self.rt = rt

    async def write(self, batch: list[Extra]) -> None:
        async with self.rt.sessionmaker() as session, writing(session):
            await session.execute(insert(Submission), [e.row for e in batch])
            await audit_service.append_many(session, [
                dict(now=e.now, actor_id=e.actor_id, action="open311.submission", entity_type="case",
                     entity_id=e.row["case_id"],
                     data={"api_key_id": e.row["api_key_id"], "attributes": sorted(e.row["attributes"]),
                           "contact": sorted(k for k in ("email", "device_id", "account_id") if e.row.get(k))})
                for e in batch])
        for e in batch:
            if not e.future.done():
                e.future.set_result(None)
