"""Public views of cases: follow one report by its private code, and the anonymised map of recent cases.

Nothing personal leaves through here: no names, phones, descriptions, notes or staff identities; map positions are
rounded to about 100 m.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from cityops.auth.service import Principal
from cityops.case import service as case_service
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseEvent
from cityops.case.schemas import ActionIn
from cityops.catalog.models import Category
from cityops.deps import DbSession, Now, public
from cityops.errors import NotFound

router = APIRouter(prefix="/api/v1/public", tags=["public"])
# Steps a resident cares about; internal moves (assign, depart, escalate…) are not shown.
PUBLIC_STEPS = ("report", "file", "void", "dispatch", "arrive", "handle", "close", "rework", "evaluate")


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    satisfaction: wf.Satisfaction


async def _by_code(session: Any, code: str) -> Case:
    case: Case | None = (await session.scalar(select(Case).where(Case.follow_code == code))
                         if 8 <= len(code) <= 32 else None)
    if case is None:
        raise NotFound("no report with this follow code", field="code")
    return case


async def _view(session: Any, case: Case) -> dict[str, Any]:
    cat = await session.get(Category, case.category_id) if case.category_id else None
    events = (await session.execute(select(CaseEvent.action, CaseEvent.to_status, CaseEvent.at).where(
        CaseEvent.case_id == case.id, CaseEvent.action.in_(PUBLIC_STEPS)).order_by(CaseEvent.id))).all()
    return {
        "case_no": case.case_no, "title": case.title, "category": cat.name if cat else None, "status": case.status,
        "address": case.address, "created_at": case.created_at, "closed_at": case.closed_at,
        "satisfaction": case.satisfaction, "can_rate": case.status == wf.Status.CLOSED.value,
        "timeline": [{"action": a, "status": s, "at": at} for a, s, at in events],
    }


@router.get("/follow/{code}", summary="Follow a report by its private code (no account needed)")
async def follow(code: str, session: DbSession, _: Annotated[Principal | None, public()]) -> dict[str, Any]:
    return await _view(session, await _by_code(session, code))


@router.post("/follow/{code}/rating", summary="Rate a closed report: satisfied / basically_satisfied / dissatisfied")
async def rate(request: Request, code: str, body: RatingIn, session: DbSession, now: Now,
               _: Annotated[Principal | None, public()]) -> dict[str, Any]:
    case = await _by_code(session, code)
    if case.reporter_id is None:
        raise NotFound("no report with this follow code", field="code")
    # The link stands for the reporter: the workflow checks the rating as theirs (evaluate, own report).
    reporter = Principal(case.reporter_id, "follow-link", case.reporter_name or "", frozenset({"resident"}), None,
                         "follow", now + timedelta(minutes=1))
    await case_service.act(request.app.state.runtime, session, case_id=case.id, caller=reporter, now=now,
                           body=ActionIn(action="evaluate", satisfaction=body.satisfaction.value,
                                         note="via follow link"))
    return await _view(session, await _by_code(session, code))


@router.get("/cases", summary="Recent cases for the public map (anonymised)")
async def recent(session: DbSession, now: Now, _: Annotated[Principal | None, public()],
                 days: Annotated[int, Query(ge=1, le=90)] = 30,
                 limit: Annotated[int, Query(ge=1, le=2000)] = 500) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(Case.case_no, Case.title, Case.status, Case.lat, Case.lon, Case.created_at, Case.closed_at)
        .where(Case.created_at >= now - timedelta(days=days), Case.status != wf.Status.VOIDED.value)
        .order_by(Case.id.desc()).limit(limit))).all()
    closed = {wf.Status.CLOSED.value, wf.Status.EVALUATED.value}
    return [{"case_no": no, "title": title, "state": "closed" if st in closed else "open",
             "lat": round(lat, 3), "lon": round(lon, 3), "created_on": created.date().isoformat(),
             "closed_on": closed_at.date().isoformat() if closed_at else None}
            for no, title, st, lat, lon, created, closed_at in rows]
