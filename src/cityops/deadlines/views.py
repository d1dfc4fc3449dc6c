"""Working calendar: the bureau's overrides, and a deadline preview for the catalog editor."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.audit import service as audit_service
from cityops.auth.roles import CASE_READERS, Role
from cityops.auth.service import Principal
from cityops.case.models import CalendarOverride
from cityops.db import writing
from cityops.deadlines.engine import Limit, add_limit
from cityops.deadlines.units import parse_unit
from cityops.deps import DbSession, Now, allow
from cityops.errors import InvalidInput
from cityops.runtime import Runtime

router = APIRouter(prefix="/api/v1/calendar", tags=["deadlines"])


class OverrideIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    is_workday: bool
    note: str | None = Field(default=None, max_length=200)


@router.get("/overrides")
async def overrides(session: DbSession, _: Annotated[Principal, allow(*CASE_READERS)]) -> list[dict[str, Any]]:
    rows = (await session.execute(select(CalendarOverride).order_by(CalendarOverride.day))).scalars()
    return [{"day": r.day, "is_workday": r.is_workday, "note": r.note} for r in rows]


@router.put("/overrides/{day}", summary="Declare a local working day or day off")
async def put_override(request: Request, day: date, body: OverrideIn, session: DbSession, now: Now,
                       caller: Annotated[Principal, allow(Role.ADMIN)]) -> dict[str, Any]:
    async with writing(session):
        row = await session.get(CalendarOverride, day)
        if row is None:
            row = CalendarOverride(day=day)
            session.add(row)
        row.is_workday, row.note = body.is_workday, body.note
        await session.flush()
        await audit_service.append(session, now=now, actor_id=caller.user_id, action="calendar.override",
                                   entity_type="calendar", entity_id=day.isoformat(),
                                   data={"is_workday": body.is_workday, "note": body.note})
    request.app.state.runtime.invalidate()
    return {"day": day, "is_workday": row.is_workday, "note": row.note}


@router.get("/preview", summary="When would a limit starting at `start` run out")
async def preview(request: Request, session: DbSession, _: Annotated[Principal, allow(*CASE_READERS)],
                  start: datetime, value: Annotated[float, Query(gt=0, le=10_000)],
                  unit: Annotated[str, Query(max_length=20)]) -> dict[str, Any]:
    if start.tzinfo is None:
        raise InvalidInput("start needs a time zone, e.g. 2026-11-30T08:00:00+08:00", field="start")
    try:
        u = parse_unit(unit)
    except ValueError as e:
        raise InvalidInput(str(e), field="unit") from e
    rt: Runtime = request.app.state.runtime
    d = add_limit(start, Limit(value, u), await rt.calendar(session))
    return {"due_at": d.due_at, "provisional": d.provisional, "unit": u.value}
