"""REST views of cases: create (idempotent), list, detail with timeline, transitions, clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from cityops.auth.roles import CASE_READERS, Role
from cityops.auth.service import Principal
from cityops.case import queries
from cityops.case import service as case_service
from cityops.case import workflow as wf
from cityops.case.schemas import ActionIn, CaseCreate, CaseDetail, CasePage, CaseRead
from cityops.deps import DbSession, Now, allow
from cityops.responses import model_response
from cityops.runtime import Runtime

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])

REPORTERS = (Role.INSPECTOR, Role.INTAKE, Role.SHIFT_LEAD, Role.DISPATCHER, Role.COMMANDER, Role.RESIDENT,
             Role.OFFICER)
READERS = (*CASE_READERS, Role.RESIDENT, Role.DEVICE)
ACTORS = tuple(sorted({r for rule in wf.TRANSITIONS for r, _ in rule.grants}))


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _reader(request: Request, session: DbSession, caller: Principal, now: datetime) -> queries.Reader:
    rt = _rt(request)
    return queries.Reader(session, caller, await rt.calendar(session), rt.settings.steps, now)


@router.post("", status_code=201, response_model=CaseDetail, summary="Report a problem (信息收集)")
async def create_case(
    request: Request, body: CaseCreate, caller: Annotated[Principal, allow(*REPORTERS)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    # The busiest write: no session dependency (a report is answered from the caches and the intake writer's own
    # connection; a session is opened only when something must be read, see case_service.create), and the clock
    # read directly rather than through one more dependency.
    rt = _rt(request)
    now = rt.clock()
    case, created = await case_service.create(rt, None, data=body, caller=caller, now=now,
                                              idempotency_key=idempotency_key)
    headers = {"Location": f"/api/v1/cases/{case.id}"}
    detail = None
    if created:
        detail = queries.Reader(None, caller, await rt.calendar(), rt.settings.steps, now).detail_of_new(case)
    else:
        headers["Idempotent-Replayed"] = "true"
    if detail is None:
        async with rt.sessionmaker() as session:
            detail = await (await _reader(request, session, caller, now)).detail(case)
    return model_response(detail, 201 if created else 200, headers)


@router.get("", response_model=CasePage, summary="List cases visible to the caller")
async def list_cases(
    request: Request, session: DbSession, now: Now, caller: Annotated[Principal, allow(*READERS)],
    status: Annotated[list[str] | None, Query()] = None,
    department_id: int | None = None, officer_id: int | None = None, street_id: int | None = None,
    community_id: int | None = None, grid_id: int | None = None, category_code: str | None = None,
    channel: str | None = None, created_from: datetime | None = None, created_to: datetime | None = None,
    overdue: bool = False, q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasePage:
    if status:
        known = {s.value for s in wf.Status}
        bad = [s for s in status if s not in known]
        if bad:
            from cityops.errors import InvalidInput

            raise InvalidInput(f"unknown status {bad[0]!r}; statuses are: {', '.join(sorted(known))}", field="status")
    for name, v in (("created_from", created_from), ("created_to", created_to)):
        if v is not None and v.tzinfo is None:
            from cityops.errors import InvalidInput

            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-11-30T08:00:00+08:00", field=name)
    rows, total = await queries.list_cases(
        session, caller, status=status, department_id=department_id, officer_id=officer_id, street_id=street_id,
        community_id=community_id, grid_id=grid_id, category_code=category_code, channel=channel,
        created_from=created_from, created_to=created_to, overdue_at=now if overdue else None, q=q, page=page,
        page_size=page_size,
    )
    reader = await _reader(request, session, caller, now)
    await reader.prime(rows)
    pending = await reader.pending_map(rows)
    return CasePage(items=[reader.read(c, pending.get(c.id)) for c in rows], total=total, page=page,
                    page_size=page_size)


@router.get("/{case_id}", response_model=CaseDetail, summary="One case with its timeline and clocks")
async def get_case(request: Request, case_id: int, session: DbSession, now: Now,
                   caller: Annotated[Principal, allow(*READERS)]) -> Response:
    case = await queries.get_visible(session, caller, case_id)
    return model_response(await (await _reader(request, session, caller, now)).detail(case))


@router.post("/{case_id}/actions", response_model=CaseDetail, summary="Move the case one step (see docs/workflow.md)")
async def act(request: Request, case_id: int, body: ActionIn, session: DbSession, now: Now,
              caller: Annotated[Principal, allow(*ACTORS)],
              idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None) -> CaseDetail:
    await queries.get_visible(session, caller, case_id)
    case = await case_service.act(_rt(request), session, case_id=case_id, body=body, caller=caller, now=now,
                                  idempotency_key=idempotency_key)
    return await (await _reader(request, session, caller, now)).detail(case)


@router.get("/{case_id}/clocks", response_model=CaseRead, summary="Deadline state (traffic lights) of a case")
async def clocks(request: Request, case_id: int, session: DbSession, now: Now,
                 caller: Annotated[Principal, allow(*READERS)]) -> CaseRead:
    case = await queries.get_visible(session, caller, case_id)
    reader = await _reader(request, session, caller, now)
    await reader.prime([case])
    return reader.read(case, (await reader.pending_map([case])).get(case.id))
