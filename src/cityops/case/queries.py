"""Read side of cases: visibility per role, list with filters, detail with timeline, live clocks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.auth.models import User
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case import clocks
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseEvent, CaseRequest, HandlingRecord
from cityops.case.schemas import CaseDetail, CaseRead, ClockRead, TimelineEntry
from cityops.case.service import actor_of, pauses_of, snapshot
from cityops.catalog.models import Category, FilingCondition
from cityops.deadlines.calendar import WorkCalendar
from cityops.deadlines.units import TimeUnit
from cityops.errors import NotFound
from cityops.geo.models import AreaRow

# Roles that see every case of the district.
WIDE = frozenset({Role.INSPECTOR, Role.INTAKE, Role.SHIFT_LEAD, Role.DISPATCHER, Role.COMMANDER, Role.ADMIN})


def visible(q: Select[Any], p: Principal) -> Select[Any]:
    if p.roles & WIDE:
        return q
    if p.has(Role.DEVICE) and not p.has(Role.DEPARTMENT, Role.OFFICER):
        # A tracker or body camera acts for its officer only: that officer's own tasks.
        return q.where(Case.officer_id == p.user_id)
    if p.has(Role.DEPARTMENT, Role.OFFICER):
        conds = [Case.officer_id == p.user_id]
        if p.department_id is not None:
            conds.append(Case.department_id == p.department_id)
        return q.where(or_(*conds))
    # Residents (and anyone else) see only what they reported themselves.
    return q.where(Case.reporter_id == p.user_id)


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough for the caller to recognise, useless to anyone else."""
    if not phone:
        return phone
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


async def list_cases(
    session: AsyncSession, p: Principal, *, status: list[str] | None, department_id: int | None,
    officer_id: int | None, street_id: int | None, community_id: int | None, grid_id: int | None,
    category_code: str | None, channel: str | None, created_from: datetime | None, created_to: datetime | None,
    overdue_at: datetime | None, q: str | None, page: int, page_size: int,
) -> tuple[list[Case], int]:
    query = visible(select(Case), p)
    if status:
        query = query.where(Case.status.in_(status))
    for col, val in ((Case.department_id, department_id), (Case.officer_id, officer_id), (Case.street_id, street_id),
                     (Case.community_id, community_id), (Case.grid_id, grid_id), (Case.channel, channel)):
        if val is not None:
            query = query.where(col == val)
    if category_code:
        query = query.where(Case.category_id.in_(select(Category.id).where(Category.code == category_code)))
    if created_from:
        query = query.where(Case.created_at >= created_from)
    if created_to:
        query = query.where(Case.created_at < created_to)
    if overdue_at is not None:
        query = query.where(
            or_(Case.due_at <= overdue_at, Case.step_due_at <= overdue_at),
            Case.status.notin_([s.value for s in wf.TERMINAL] + [wf.Status.SUSPENDED.value]),
        )
    if q:
        like = f"%{q}%"
        query = query.where(or_(Case.case_no.like(like), Case.title.like(like), Case.description.like(like),
                                Case.address.like(like)))
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = await session.execute(query.order_by(Case.id.desc()).offset((page - 1) * page_size).limit(page_size))
    return list(rows.scalars()), total


class Reader:
    """Turns Case rows into API bodies; caches the small lookups (areas, categories) for one request."""

    def __init__(self, session: AsyncSession | None, p: Principal, cal: WorkCalendar, steps: Any,
                 now: datetime) -> None:
        # None only for ``detail_of_new``, which reads nothing.
        self.s: AsyncSession = session  # type: ignore[assignment]
        self.p, self.cal, self.steps, self.now = p, cal, steps, now
        self._areas: dict[int, str] = {}
        self._cats: dict[int, Category] = {}
        self._conds: dict[int, str] = {}

    async def prime(self, cases: list[Case]) -> None:
        area_ids = {i for c in cases for i in (c.grid_id, c.community_id, c.street_id) if i}
        missing = area_ids - self._areas.keys()
        if missing:
            for i, name in (await self.s.execute(select(AreaRow.id, AreaRow.name).where(AreaRow.id.in_(missing)))):
                self._areas[i] = name
        cat_ids = {c.category_id for c in cases if c.category_id} - self._cats.keys()
        if cat_ids:
            for cat in (await self.s.execute(select(Category).where(Category.id.in_(cat_ids)))).scalars():
                self._cats[cat.id] = cat
        cond_ids = {c.condition_id for c in cases if c.condition_id} - self._conds.keys()
        if cond_ids:
            rows = await self.s.execute(select(FilingCondition.id, FilingCondition.code)
                                        .where(FilingCondition.id.in_(cond_ids)))
            self._conds.update({i: code for i, code in rows})

    def _clocks(self, c: Case) -> tuple[ClockRead | None, ClockRead | None]:
        suspended = c.status == wf.Status.SUSPENDED.value
        pauses = pauses_of(c)
        case_clock = step_clock = None
        if c.due_at is not None and c.dispatched_at is not None and c.deadline_unit:
            st = clocks.state(start=c.dispatched_at, due_at=c.due_at, unit=TimeUnit(c.deadline_unit),
                              now=c.suspended_at or self.now, cal=self.cal, pauses=pauses, suspended=suspended)
            case_clock = ClockRead(name="case", started_at=c.dispatched_at, due_at=c.due_at, light=st.light,
                                   remaining_seconds=st.remaining_seconds, provisional=c.due_provisional)
        if c.step and c.step_started_at and c.step_due_at:
            unit = clocks.step_limit(c.step, self.steps).unit
            st = clocks.state(start=c.step_started_at, due_at=c.step_due_at, unit=unit,
                              now=c.suspended_at or self.now, cal=self.cal, pauses=pauses, suspended=suspended)
            step_clock = ClockRead(name=c.step, started_at=c.step_started_at, due_at=c.step_due_at, light=st.light,
                                   remaining_seconds=st.remaining_seconds)
        if c.status in (s.value for s in wf.TERMINAL):
            case_clock = step_clock = None
        return case_clock, step_clock

    def allowed(self, c: Case, pending: str | None) -> list[str]:
        return wf.available(snapshot(c, pending), actor_of(self.p))

    def read(self, c: Case, pending: str | None = None) -> CaseRead:
        return CaseRead(**self._fields(c, pending))

    def _fields(self, c: Case, pending: str | None) -> dict[str, Any]:
        cat = self._cats.get(c.category_id) if c.category_id else None
        case_clock, step_clock = self._clocks(c)
        staff = bool(self.p.roles & (WIDE | {Role.DEPARTMENT, Role.OFFICER}))
        own = c.reporter_id == self.p.user_id
        return dict(
            id=c.id, case_no=c.case_no, status=c.status, channel=c.channel, title=c.title,
            description=c.description, address=c.address, lat=c.lat, lon=c.lon,
            grid=self._areas.get(c.grid_id or 0), community=self._areas.get(c.community_id or 0),
            street=self._areas.get(c.street_id or 0), category_code=cat.code if cat else None,
            category_name=cat.name if cat else None, category_name_en=cat.name_en if cat else None,
            condition_code=self._conds.get(c.condition_id or 0), department_id=c.department_id,
            officer_id=c.officer_id if staff else None, inspector_id=c.inspector_id if staff else None,
            reporter_name=c.reporter_name if (staff or own) else None,
            reporter_phone=c.reporter_phone if own else mask_phone(c.reporter_phone) if staff else None,
            pending_request=pending, rework_count=c.rework_count, escalation_level=c.escalation_level,
            satisfaction=c.satisfaction, created_at=c.created_at, updated_at=c.updated_at, filed_at=c.filed_at,
            dispatched_at=c.dispatched_at, arrived_at=c.arrived_at, handled_at=c.handled_at,
            fed_back_at=c.fed_back_at, closed_at=c.closed_at, version=c.version, case_clock=case_clock,
            follow_code=c.follow_code if own else None,
            step_clock=step_clock, allowed_actions=self.allowed(c, pending),
        )

    async def pending_map(self, cases: list[Case]) -> dict[int, str]:
        ids = [c.pending_request_id for c in cases if c.pending_request_id]
        if not ids:
            return {}
        rows = await self.s.execute(select(CaseRequest.case_id, CaseRequest.kind).where(CaseRequest.id.in_(ids)))
        return {cid: kind for cid, kind in rows}

    def detail_of_new(self, c: Case) -> CaseDetail | None:
        """The detail of a case created in this request, from what the service kept (no re-read)."""
        ctx = getattr(c, "created_context", None)
        if ctx is None:
            return None
        for area in (ctx.place.grid, ctx.place.community, ctx.place.street) if ctx.place else ():
            if area is not None:
                self._areas[area.id] = area.name
        if ctx.category is not None:
            self._cats[ctx.category.id] = ctx.category
        if ctx.condition is not None:
            self._conds[ctx.condition.id] = ctx.condition.code
        e = ctx.event
        staff = bool(self.p.roles & (WIDE | {Role.DEPARTMENT, Role.OFFICER}))
        entry = TimelineEntry(id=e.id, action=e.action, from_status=None, to_status=e.to_status,
                              actor_id=e.actor_id if staff else None, actor_name=self.p.display_name if staff else None,
                              actor_role=e.actor_role, at=e.at, lat=e.lat if staff else None,
                              lon=e.lon if staff else None, note=e.note, attachments=e.attachments, data={})
        return CaseDetail(**self._fields(c, None), timeline=[entry], handling=[], requests=[])

    async def detail(self, c: Case) -> CaseDetail:
        await self.prime([c])
        pending = (await self.pending_map([c])).get(c.id)
        base = self._fields(c, pending)
        staff = bool(self.p.roles & (WIDE | {Role.DEPARTMENT, Role.OFFICER}))
        events = (await self.s.execute(
            select(CaseEvent, User.display_name).outerjoin(User, User.id == CaseEvent.actor_id)
            .where(CaseEvent.case_id == c.id).order_by(CaseEvent.id))).all()
        timeline = [
            TimelineEntry(id=e.id, action=e.action, from_status=e.from_status, to_status=e.to_status,
                          actor_id=e.actor_id if staff else None, actor_name=name if staff else None,
                          actor_role=e.actor_role, at=e.at, lat=e.lat if staff else None,
                          lon=e.lon if staff else None, note=e.note if staff or e.action == "report" else None,
                          attachments=e.attachments, data=e.data if staff else {})
            for e, name in events
        ]
        handling = [] if not staff else [
            {"measure": h.measure, "fine_amount": h.fine_amount, "party_name": h.party_name,
             "party_kind": h.party_kind, "evidence_ids": h.evidence_ids, "note": h.note, "at": h.at,
             "officer_id": h.officer_id}
            for h in (await self.s.execute(select(HandlingRecord).where(HandlingRecord.case_id == c.id)
                                           .order_by(HandlingRecord.id))).scalars()
        ]
        requests = [] if not staff else [
            {"id": r.id, "kind": r.kind, "reason": r.reason, "extra_value": r.extra_value,
             "extra_unit": r.extra_unit, "requested_by": r.requested_by, "requested_at": r.requested_at,
             "decision": r.decision, "decided_by": r.decided_by, "decided_at": r.decided_at}
            for r in (await self.s.execute(select(CaseRequest).where(CaseRequest.case_id == c.id)
                                           .order_by(CaseRequest.id))).scalars()
        ]
        return CaseDetail(**base, timeline=timeline, handling=handling, requests=requests)


async def get_visible(session: AsyncSession, p: Principal, case_id: int) -> Case:
    case: Case | None = await session.scalar(visible(select(Case).where(Case.id == case_id), p))
    if case is None:
        # Same answer for "does not exist" and "not yours": no probing of other people's case ids.
        raise NotFound(f"no case {case_id}", field="case_id")
    return case
