"""Read side of Open311: services, requests, one request, tokens, FixMyStreet updates, discovery.

Requests are cases (案卷) of every channel; ``service_request_id`` is the case number. A page is read with a fixed
number of queries (cases, their public timeline, departments, areas, and submitted answers when extensions are
asked for) and rendered by ``render`` with personal data masked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit.models import AuditEntry
from cityops.case.models import Case, CaseEvent, IdempotencyKey
from cityops.case.workflow import TERMINAL
from cityops.geo.models import AreaRow
from cityops.open311 import render
from cityops.open311.formats import Open311Error, w3c
from cityops.open311.models import ApiKey, Submission
from cityops.open311.schemas import MAX_SPAN, RequestQuery, UpdatesQuery
from cityops.open311.servicetypes import ServiceCatalog, definition, service_item
from cityops.open311.state import state_for
from cityops.org.models import Department
from cityops.runtime import Runtime

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
_CLOSED = [s.value for s in TERMINAL]


def jurisdictions(rt: Runtime) -> set[str]:
    """The one jurisdiction served: the district code, or ``open311_jurisdiction_id`` when configured."""
    own = getattr(rt.settings, "open311_jurisdiction_id", None)
    return {rt.settings.district_code, *([own] if own else [])}


def check_jurisdiction(rt: Runtime, value: str | None) -> None:
    if value is not None and value not in jurisdictions(rt):
        raise Open311Error(404, f"jurisdiction_id {value!r} was not found; this endpoint serves "
                                f"{', '.join(sorted(jurisdictions(rt)))}")


async def services(rt: Runtime, session: AsyncSession) -> list[dict[str, Any]]:
    catalog = await state_for(rt).catalog(session)
    return [service_item(s) for s in catalog.services]


async def service_definition(rt: Runtime, session: AsyncSession, *, service_code: str) -> dict[str, Any]:
    catalog = await state_for(rt).catalog(session)
    st = catalog.lookup(service_code)
    if st is None:
        raise Open311Error(404, f"service_code {service_code!r} was not found")
    return definition(st)


def updated_expr() -> Any:
    """updated_datetime: when a closed request was closed, else when it last changed (the spec's rule)."""
    return func.coalesce(Case.closed_at, Case.updated_at)


def _filtered(q: RequestQuery, catalog: ServiceCatalog, now: datetime) -> Select[Any]:
    query = select(Case)
    if q.ids:
        return query.where(Case.case_no.in_(q.ids))
    if q.service_codes:
        cat_ids = []
        for code in q.service_codes:
            st = catalog.lookup(code)
            if st is None:
                raise Open311Error(400, f"service_code {code!r} is not one of this endpoint's services")
            cat_ids.append(st.category.id)
        query = query.where(Case.category_id.in_(cat_ids))
    start, end = (now - MAX_SPAN, now) if q.default_window else (q.start, q.end)
    if start is not None:
        query = query.where(Case.created_at >= start)
    if end is not None:
        query = query.where(Case.created_at <= end)
    if q.updated_after is not None:
        query = query.where(updated_expr() >= q.updated_after)
    if q.updated_before is not None:
        query = query.where(updated_expr() <= q.updated_before)
    if set(q.statuses) == {"open"}:
        query = query.where(Case.status.notin_(_CLOSED))
    elif set(q.statuses) == {"closed"}:
        query = query.where(Case.status.in_(_CLOSED))
    return query


async def _context(rt: Runtime, session: AsyncSession, cases: list[Case], base_url: str,
                   answers: bool) -> render.Context:
    catalog = await state_for(rt).catalog(session)
    ctx = render.Context(catalog=catalog, tz=ZoneInfo(rt.settings.timezone), base_url=base_url)
    if not cases:
        return ctx
    ids = [c.id for c in cases]
    dept_ids = {c.department_id for c in cases if c.department_id}
    if dept_ids:
        depts = await session.execute(select(Department.id, Department.name).where(Department.id.in_(dept_ids)))
        ctx.departments = {i: n for i, n in depts}
    area_ids = {i for c in cases for i in (c.grid_id, c.community_id, c.street_id) if i}
    if area_ids:
        areas = await session.execute(select(AreaRow.id, AreaRow.code, AreaRow.name)
                                      .where(AreaRow.id.in_(area_ids)))
        ctx.areas = {i: (code, name) for i, code, name in areas}
    events = await session.execute(
        select(CaseEvent).where(CaseEvent.case_id.in_(ids),
                                or_(CaseEvent.action == "report", CaseEvent.from_status != CaseEvent.to_status))
        .order_by(CaseEvent.id))
    for e in events.scalars():
        ctx.events.setdefault(e.case_id, []).append(e)
    if answers:
        subs = await session.execute(select(Submission.case_id, Submission.attributes)
                                     .where(Submission.case_id.in_(ids)))
        ctx.answers = {i: a for i, a in subs}
    return ctx


async def list_requests(rt: Runtime, session: AsyncSession, *, q: RequestQuery, now: datetime,
                        base_url: str) -> list[dict[str, Any]]:
    catalog = await state_for(rt).catalog(session)
    query = _filtered(q, catalog, now).order_by(Case.created_at.desc(), Case.id.desc())
    if not q.ids:
        query = query.offset((q.page - 1) * q.page_size).limit(q.page_size)
    cases = list((await session.execute(query)).scalars())
    ctx = await _context(rt, session, cases, base_url, q.extensions)
    return [render.request_item(c, ctx, extensions=q.extensions) for c in cases]


async def get_request(rt: Runtime, session: AsyncSession, *, service_request_id: str, base_url: str,
                      extensions: bool) -> dict[str, Any]:
    case = await session.scalar(select(Case).where(Case.case_no == service_request_id)) \
        if service_request_id.isalnum() and len(service_request_id) <= 32 else None
    if case is None:
        raise Open311Error(404, f"service_request_id {service_request_id!r} was not found")
    ctx = await _context(rt, session, [case], base_url, extensions)
    return render.request_item(case, ctx, extensions=extensions)


async def token(session: AsyncSession, *, token: str) -> dict[str, Any]:
    """A token names the request it was issued for (its Idempotency-Key, written with the case)."""
    found = None
    if token.startswith("o311t_") and len(token) <= 64:
        found = await session.scalar(
            select(Case.case_no).join(IdempotencyKey, IdempotencyKey.case_id == Case.id)
            .join(ApiKey, ApiKey.user_id == IdempotencyKey.user_id).where(IdempotencyKey.key == token))
    if found is None:
        raise Open311Error(404, f"token {token!r} was not found")
    return {"service_request_id": found, "token": token}


async def updates(rt: Runtime, session: AsyncSession, *, q: UpdatesQuery, base_url: str) -> list[dict[str, Any]]:
    """FixMyStreet's servicerequestupdates: every public change (not the report itself) in the window."""
    rows = (await session.execute(
        select(CaseEvent, Case.case_no).join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.at >= q.start, CaseEvent.at <= q.end, CaseEvent.action != "report",
               and_(CaseEvent.from_status.is_not(None), CaseEvent.from_status != CaseEvent.to_status))
        .order_by(CaseEvent.at, CaseEvent.id).offset((q.page - 1) * q.page_size).limit(q.page_size))).all()
    ctx = render.Context(catalog=await state_for(rt).catalog(session), tz=ZoneInfo(rt.settings.timezone),
                         base_url=base_url)
    return [render.update_item(e, case_no, ctx) for e, case_no in rows]


async def discovery(rt: Runtime, session: AsyncSession, *, base_url: str, now: datetime) -> dict[str, Any]:
    """Service discovery: the changeset moves when the catalog (hence the service list) last changed."""
    changed = await session.scalar(select(func.max(AuditEntry.at)).where(AuditEntry.action.like("catalog.%")))
    tz = ZoneInfo(rt.settings.timezone)
    changeset = w3c(changed or now, tz)
    settings = rt.settings
    contact = getattr(settings, "open311_contact", None) or \
        f"城市管理指挥中心 (city-management command centre), district {settings.district_code}"
    key_service = getattr(settings, "open311_key_service", None) or \
        "API keys are issued by the bureau's system administrators (cityops apikey create)."
    return {
        "changeset": changeset, "contact": contact, "key_service": key_service,
        "endpoints": [{"specification": SPECIFICATION, "url": base_url.rstrip("/") + "/open311/v2",
                       "changeset": changeset, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }
