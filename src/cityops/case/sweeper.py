"""Deadline sweeper (督办): escalates each overdue case once, however many processes run it.

The claim is an INSERT into ``escalations`` with a unique (case_id, reason) key and ON CONFLICT DO NOTHING:
the database decides the single winner, on SQLite and PostgreSQL alike; the reason names the deadline, so a
new deadline (after rework or an extension) can be escalated again.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseEvent, Escalation
from cityops.db import dialect, writing
from cityops.realtime.events import Audience, CaseChanged
from cityops.runtime import Runtime

log = logging.getLogger(__name__)
_SKIP = [s.value for s in wf.TERMINAL] + [wf.Status.SUSPENDED.value]


def _reasons(case: Any, now: datetime) -> list[str]:
    out = []
    if case.due_at is not None and case.due_at <= now:
        out.append(f"case_overdue@{case.due_at.isoformat()}")
    if case.step and case.step_due_at is not None and case.step_due_at <= now:
        out.append(f"step_overdue:{case.step}@{case.step_due_at.isoformat()}")
    return out


async def sweep(rt: Runtime, session: AsyncSession, *, now: datetime, batch: int = 500) -> list[tuple[int, str]]:
    """Escalate what is overdue at ``now``; returns the (case id, reason) pairs this call won."""
    # Plain rows, not ORM objects: the read transaction ends before the writes (a rollback would expire them).
    candidates = (await session.execute(
        select(Case.id, Case.case_no, Case.status, Case.due_at, Case.step, Case.step_due_at, Case.department_id,
               Case.officer_id).where(Case.status.notin_(_SKIP), or_(Case.due_at <= now, Case.step_due_at <= now))
        .order_by(Case.id).limit(batch))).all()
    await session.rollback()  # end the read so the write transaction below starts fresh
    won: list[tuple[int, str]] = []
    events: list[CaseChanged] = []
    insert = pg_insert if dialect(session) == "postgresql" else sqlite_insert
    async with writing(session):
        for case in candidates:
            for reason in _reasons(case, now):
                claimed = await session.scalar(
                    insert(Escalation).values(case_id=case.id, reason=reason, level=1, at=now)
                    .on_conflict_do_nothing(index_elements=["case_id", "reason"]).returning(Escalation.id))
                if claimed is None:
                    continue
                level = await session.scalar(
                    update(Case).where(Case.id == case.id)
                    .values(escalation_level=Case.escalation_level + 1, version=Case.version + 1, updated_at=now)
                    .returning(Case.escalation_level))
                # The claim was inserted before the level was known; record the level this escalation reached.
                await session.execute(update(Escalation).where(Escalation.id == claimed).values(level=level))
                session.add(CaseEvent(case_id=case.id, action="escalate", from_status=case.status,
                                      to_status=case.status, actor_id=None, actor_role="system", at=now,
                                      note=None, attachments=[], data={"reason": reason, "level": level}))
                await audit_service.append(session, now=now, actor_id=None, action="case.escalate",
                                           entity_type="case", entity_id=case.id,
                                           data={"reason": reason, "level": level, "by": "sweeper"})
                won.append((case.id, reason))
                events.append(CaseChanged(
                    type="case.escalated", case_id=case.id, case_no=case.case_no, action="escalate",
                    status=case.status, at=now, department_id=case.department_id, officer_id=case.officer_id,
                    audience=Audience(user_ids=[u for u in (case.officer_id,) if u],
                                      department_ids=[case.department_id] if case.department_id else [])))
    if events:
        await rt.bus.send_event(events)
    return won


async def run_forever(rt: Runtime) -> None:
    while True:
        try:
            async with rt.sessionmaker() as session:
                won = await sweep(rt, session, now=rt.clock())
            if won:
                log.info("escalated %d overdue deadlines", len(won))
        except asyncio.CancelledError:
            raise
        except Exception:  # keep sweeping: one bad pass must not stop escalation for good
            log.exception("sweep failed")
        await asyncio.sleep(rt.settings.sweep_interval_seconds)
