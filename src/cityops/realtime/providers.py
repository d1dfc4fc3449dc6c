"""Snapshot providers of the core topics: open cases, and alerts (overdue or escalated open cases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from cityops.auth.service import Principal
from cityops.case import queries
from cityops.case import workflow as wf
from cityops.case.models import Case
from cityops.realtime.hub import Hub
from cityops.runtime import Runtime

SNAPSHOT_LIMIT = 500
OPEN = [s.value for s in wf.Status if s not in wf.TERMINAL]


def install(hub: Hub, rt: Runtime) -> None:
    async def read(p: Principal, only_alerts: bool) -> list[dict[str, Any]]:
        async with rt.sessionmaker() as session:
            q = queries.visible(select(Case), p).where(Case.status.in_(OPEN))
            if only_alerts:
                now = rt.clock()
                q = q.where(or_(Case.escalation_level > 0, Case.due_at < now, Case.step_due_at < now))
            rows = list((await session.execute(q.order_by(Case.id.desc()).limit(SNAPSHOT_LIMIT))).scalars())
            reader = queries.Reader(session, p, await rt.calendar(session), rt.settings.steps, rt.clock())
            await reader.prime(rows)
            pending = await reader.pending_map(rows)
            return [reader.read(c, pending.get(c.id)).model_dump(mode="json") for c in rows]

    async def cases(p: Principal) -> list[dict[str, Any]]:
        return await read(p, only_alerts=False)

    async def alerts(p: Principal) -> list[dict[str, Any]]:
        return await read(p, only_alerts=True)

    hub.register("cases", cases)
    hub.register("alerts", alerts)
