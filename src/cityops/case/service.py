"""Case service: owns the transaction for creating a case and for every move of the loop.

Load → rules (workflow, clocks) → write case, timeline, audit → commit → publish events.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.audit.chain import canonical_json
from cityops.auth.models import User
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case import clocks
from cityops.case import workflow as wf
from cityops.case.models import Case, CaseEvent, CaseRequest, Escalation, HandlingRecord, IdempotencyKey
from cityops.case.schemas import ActionIn, CaseCreate
from cityops.catalog import service as catalog_service
from cityops.catalog.models import Category, FilingCondition
from cityops.db import dialect, transient, writing
from cityops.deadlines.engine import Limit
from cityops.deadlines.units import TimeUnit, parse_unit
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.geo.index import Placement
from cityops.org.models import Department
from cityops.realtime.events import Audience, CaseChanged
from cityops.runtime import Runtime

if TYPE_CHECKING:
    from cityops.case.intake import Report


@dataclass(frozen=True)
class CreatedContext:
    event: CaseEvent
    place: Placement | None
    category: Category | None
    condition: FilingCondition | None


def actor_of(p: Principal) -> wf.Actor:
    return wf.Actor(p.user_id, p.roles, p.department_id, p.acting_for_user_id)


def _channel_for(p: Principal, requested: str | None) -> str:
    if requested:
        return requested
    if p.has(Role.RESIDENT) and not p.has(*[r.value for r in Role if r is not Role.RESIDENT]):
        return "public"
    return "inspector" if p.has(Role.INSPECTOR) else "console"


def _request_hash(data: CaseCreate) -> str:
    return hashlib.sha256(canonical_json(data.model_dump()).encode()).hexdigest()


def _event(kind: str, case: Case, action: str, now: datetime) -> CaseChanged:
    users = sorted({u for u in (case.reporter_id, case.officer_id, case.inspector_id) if u is not None})
    depts = [case.department_id] if case.department_id is not None else []
    return CaseChanged(
        type=kind,  # type: ignore[arg-type]
        case_id=case.id, case_no=case.case_no, action=action, status=case.status, at=now,
        department_id=case.department_id, officer_id=case.officer_id,
        audience=Audience(user_ids=users, department_ids=depts),
    )


async def create(
    rt: Runtime, session: AsyncSession, *, data: CaseCreate, caller: Principal, now: datetime,
    idempotency_key: str | None = None,
) -> tuple[Case, bool]:
    """信息收集: register a report. Returns (case, created); a repeated Idempotency-Key returns the first case."""
    req_hash = _request_hash(data) if idempotency_key is not None else ""
    if idempotency_key is not None:
        found = await _idempotent_hit(session, caller.user_id, idempotency_key, req_hash)
        if found is not None:
            return found, False
    from cityops.case.intake import writer_for

    report = await _prepare(rt, session, data=data, caller=caller, now=now)
    if idempotency_key is not None:
        report.idempotency = IdempotencyKey(user_id=caller.user_id, key=idempotency_key, request_hash=req_hash,
                                            created_at=now)
    await session.rollback()  # end the read transaction: the intake writer writes on its own connection
    try:
        case = await writer_for(rt).submit(report)
    except IntegrityError:
        # A concurrent retry with the same key won the race: answer with its case.
        if idempotency_key is None:
            raise
        found = await _idempotent_hit(session, caller.user_id, idempotency_key, req_hash)
        if found is None:
            raise
        return found, False
    await rt.bus.send_event([_event("case.created", case, "report", now)])
    return case, True


async def _idempotent_hit(session: AsyncSession, user_id: int, key: str, req_hash: str) -> Case | None:
    if not key or len(key) > 128:
        raise InvalidInput("Idempotency-Key must be 1–128 characters", field="Idempotency-Key")
    row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                            IdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != req_hash:
        raise Conflict("this Idempotency-Key was used for a different request", field="Idempotency-Key")
    return await session.get(Case, row.case_id)


async def _prepare(rt: Runtime, session: AsyncSession, *, data: CaseCreate, caller: Principal,
                   now: datetime) -> Report:
    """Decide everything about a new case (catalog, place, clocks) without writing; the intake writer writes."""
    from cityops.case.intake import Report

    category = condition = None
    if data.category_code:
        catalog = await rt.catalog(session)
        category = catalog.category(code=data.category_code, edition=data.edition, kind=data.category_kind)
        condition = catalog.condition(category, data.condition_code)
    elif data.condition_code:
        raise InvalidInput("condition_code needs category_code", field="category_code")
    index = await rt.area_index(session)
    place = index.locate(data.lat, data.lon)
    if place is None and rt.settings.require_in_district and not index.is_empty:
        raise InvalidInput(f"point {data.lat}, {data.lon} is outside the district's grids", field="lat")
    cal = await rt.calendar(session)
    step = clocks.step_limit("file", rt.settings.steps)
    from cityops.deadlines.engine import add_limit

    step_due = add_limit(now, step, cal)
    title = data.title or (category.name if category else (data.description[:40] or "未分类问题"))
    case = transient(
        Case, case_no="", status=wf.Status.REPORTED.value,
        channel=_channel_for(caller, data.channel), title=title, description=data.description,
        address=data.address, lat=data.lat, lon=data.lon,
        grid_id=place.grid.id if place and place.grid else None,
        community_id=place.community.id if place and place.community else None,
        street_id=place.street.id if place and place.street else None,
        category_id=category.id if category else None, condition_id=condition.id if condition else None,
        reporter_id=caller.user_id, reporter_name=data.reporter_name or caller.display_name,
        reporter_phone=data.reporter_phone,
        inspector_id=caller.user_id if caller.has(Role.INSPECTOR) else None,
        step="file", step_started_at=now, step_due_at=step_due.due_at, pauses=[],
        follow_code=secrets.token_urlsafe(12),
        created_at=now, updated_at=now, rework_count=0, return_count=0, extension_count=0, escalation_level=0,
    )
    event = transient(CaseEvent, action="report", from_status=None, to_status=case.status,
                      actor_id=caller.user_id, actor_role=_main_role(caller), at=now, lat=data.lat,
                      lon=data.lon, note=data.description or None, attachments=data.attachments, data={})
    # What the response needs is known here; keeping it saves re-reading the case (see case/views.py).
    case.created_context = CreatedContext(event, place, category, condition)  # type: ignore[attr-defined]
    audit = {"channel": case.channel, "lat": data.lat, "lon": data.lon, "category_id": case.category_id,
             "condition_id": case.condition_id}
    return Report(case=case, event=event, audit=audit, idempotency=None, now=now)


def _main_role(p: Principal) -> str | None:
    return sorted(p.roles)[0] if p.roles else None


def snapshot(case: Case, pending: str | None) -> wf.CaseSnapshot:
    return wf.CaseSnapshot(
        status=wf.Status(case.status), department_id=case.department_id, officer_id=case.officer_id,
        reporter_id=case.reporter_id, pending_request=wf.RequestKind(pending) if pending else None,
        status_before_suspend=wf.Status(case.status_before_suspend) if case.status_before_suspend else None,
        check_passed=case.check_passed,
    )


async def pending_kind(session: AsyncSession, case: Case) -> str | None:
    if case.pending_request_id is None:
        return None
    return await session.scalar(select(CaseRequest.kind).where(CaseRequest.id == case.pending_request_id))


async def load_for_update(session: AsyncSession, case_id: int) -> Case:
    q = select(Case).where(Case.id == case_id)
    if dialect(session) == "postgresql":
        q = q.with_for_update()
    case = await session.scalar(q.execution_options(populate_existing=True))
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    return case


async def act(
    rt: Runtime, session: AsyncSession, *, case_id: int, body: ActionIn, caller: Principal, now: datetime,
    idempotency_key: str | None = None,
) -> Case:
    """One move of the loop, all or nothing: a refused move changes nothing.

    With an ``idempotency_key`` (the field app's outbox sends one per queued action), a retry of a move that was
    already made returns the case as it is instead of a 409, and the same key for another move is refused.
    """
    key_hash = hashlib.sha256(canonical_json({"case_id": case_id, **body.model_dump()}).encode()).hexdigest()
    if idempotency_key is not None:
        found = await _idempotent_hit(session, caller.user_id, idempotency_key, key_hash)
        if found is not None:
            return found
        await session.rollback()
    async with writing(session):
        case = await load_for_update(session, case_id)
        if idempotency_key is not None:
            session.add(IdempotencyKey(user_id=caller.user_id, key=idempotency_key, request_hash=key_hash,
                                       case_id=case_id, created_at=now))
        if body.expected_version is not None and body.expected_version != case.version:
            raise Conflict(f"the case changed meanwhile (version {case.version}, you had {body.expected_version}); "
                           "reload and try again", field="expected_version")
        pending = await pending_kind(session, case)
        params = body.model_dump(exclude_none=True)
        if body.handling is not None:
            params["measure"] = body.handling.measure
        try:
            outcome = wf.transition(snapshot(case, pending), body.action, actor_of(caller), params)
        except wf.NotPermitted as e:
            from cityops.errors import Forbidden

            raise Forbidden(e.message, field=e.field) from e
        except wf.IllegalTransition as e:
            raise Conflict(e.message, field=e.field, code="illegal_transition") from e
        except wf.BadParameter as e:
            raise InvalidInput(e.message, field=e.field) from e
        await _check_evidence(session, case.id, body)
        data = await _apply(rt, session, case, outcome, body, caller, now)
        case.status = outcome.to_status.value
        case.updated_at = now
        session.add(CaseEvent(
            case_id=case.id, action=outcome.action, from_status=outcome.from_status.value,
            to_status=outcome.to_status.value, actor_id=caller.user_id, actor_role=outcome.as_role.value, at=now,
            lat=body.lat, lon=body.lon, note=body.note, attachments=body.attachments, data=data,
        ))
        await session.flush()
        await audit_service.append(
            session, now=now, actor_id=caller.user_id, action=f"case.{outcome.action}", entity_type="case",
            entity_id=case.id, data={"from": outcome.from_status.value, "to": outcome.to_status.value,
                                     "role": outcome.as_role.value, "lat": body.lat, "lon": body.lon,
                                     "note": body.note, "attachments": body.attachments, **data},
        )
    kind = "case.escalated" if outcome.action == "escalate" else "case.transitioned"
    await rt.bus.send_event([_event(kind, case, outcome.action, now)])
    return case


async def _check_evidence(session: AsyncSession, case_id: int, body: ActionIn) -> None:
    """Attachments and a handling record's evidence must be evidence of this case (ids from POST …/evidence)."""
    from cityops.media.models import Evidence

    for field, ids in (("attachments", body.attachments),
                       ("handling.evidence_ids", body.handling.evidence_ids if body.handling else [])):
        if not ids:
            continue
        if not all(str(i).isdigit() for i in ids):
            raise InvalidInput(f"{field} must be evidence ids of this case", field=field)
        wanted = {int(i) for i in ids}
        found = set((await session.execute(select(Evidence.id).where(
            Evidence.id.in_(wanted), Evidence.case_id == case_id))).scalars())
        if wanted - found:
            raise InvalidInput(f"{field}: {sorted(wanted - found)} are not evidence of this case", field=field)


async def _officer_in(session: AsyncSession, officer_id: int, department_id: int | None, field: str) -> User:
    user = await session.get(User, officer_id)
    if user is None or Role.OFFICER.value not in user.roles:
        raise InvalidInput(f"user {officer_id} is not an officer", field=field)
    if department_id is not None and user.department_id != department_id:
        raise InvalidInput(f"officer {officer_id} does not belong to department {department_id}", field=field)
    return user


async def _start_step(rt: Runtime, session: AsyncSession, case: Case, step: str | None, now: datetime) -> None:
    case.step = step
    if step is None:
        case.step_started_at = case.step_due_at = None
        return
    from cityops.deadlines.engine import add_limit

    cal = await rt.calendar(session)
    case.step_started_at = now
    case.step_due_at = add_limit(now, clocks.step_limit(step, rt.settings.steps), cal).due_at


async def _apply(rt: Runtime, session: AsyncSession, case: Case, o: wf.Outcome, body: ActionIn,
                 caller: Principal, now: datetime) -> dict[str, Any]:
    """Write the effects of an allowed move; returns the data recorded on the timeline entry."""
    from cityops.deadlines.engine import add_limit

    a = o.action
    data: dict[str, Any] = {}
    if a == "send_verify":
        if body.inspector_id is not None:
            user = await session.get(User, body.inspector_id)
            if user is None or Role.INSPECTOR.value not in user.roles:
                raise InvalidInput(f"user {body.inspector_id} is not an inspector", field="inspector_id")
            case.inspector_id = user.id
            data["inspector_id"] = user.id
    elif a == "verify":
        data["confirmed"] = o.effects["confirmed"]
    elif a == "file":
        if body.category_code:
            cat = await catalog_service.resolve_category(session, code=body.category_code, edition=body.edition,
                                                         kind=body.category_kind)
            case.category_id = cat.id
            cond = await catalog_service.resolve_condition(session, category=cat, code=body.condition_code)
            case.condition_id = cond.id if cond else None
        if case.category_id is None:
            raise InvalidInput("filing (立案) needs a category: send category_code", field="category_code")
        if case.condition_id is None:
            raise InvalidInput("the category has no filing condition; import the bureau's 立案标准 first",
                               field="condition_code")
        case.filed_at = now
        await _start_step(rt, session, case, None, now)
        data.update(category_id=case.category_id, condition_id=case.condition_id)
    elif a == "dispatch":
        dept = await session.get(Department, o.effects["department_id"])
        if dept is None:
            raise InvalidInput(f"no department {o.effects['department_id']}", field="department_id")
        if o.effects.get("officer_id") is not None:
            await _officer_in(session, o.effects["officer_id"], dept.id, "officer_id")
        case.department_id = dept.id
        case.officer_id = o.effects.get("officer_id")
        case.dispatched_at = now
        cond = await session.get(FilingCondition, case.condition_id) if case.condition_id else None
        if cond is not None:
            cal = await rt.calendar(session)
            d = add_limit(now, Limit(cond.deadline_value, TimeUnit(cond.deadline_unit)), cal)
            case.deadline_value, case.deadline_unit = cond.deadline_value, cond.deadline_unit
            case.due_at, case.due_provisional = d.due_at, d.provisional
            case.pauses = []
        await _start_step(rt, session, case, "arrive", now)
        data.update(department_id=dept.id, officer_id=case.officer_id, due_at=_iso(case.due_at))
    elif a == "assign":
        await _officer_in(session, o.effects["officer_id"], case.department_id, "officer_id")
        case.officer_id = o.effects["officer_id"]
        data["officer_id"] = case.officer_id
    elif a == "accept":
        if "officer_id" in o.effects:
            case.officer_id = o.effects["officer_id"]
        data["officer_id"] = case.officer_id
    elif a == "arrive":
        case.arrived_at = now
        await _start_step(rt, session, case, "feedback", now)
        from cityops.tracking.arrival import arrival_data

        # Distance from the case (a manual press far away is allowed but flagged); a device's fix is the evidence.
        data.update(arrival_data(case_lat=case.lat, case_lon=case.lon, lat=body.lat, lon=body.lon,
                                 radius_m=rt.settings.tracking.arrival_radius_m,
                                 by_device=caller.token_kind == "device"))
    elif a == "handle":
        h = body.handling
        assert h is not None  # the workflow refused a handle without a measure
        if h.measure == "fine" and not h.fine_amount:
            raise InvalidInput("a fine needs fine_amount", field="handling.fine_amount")
        session.add(HandlingRecord(case_id=case.id, officer_id=caller.user_id, at=now, **h.model_dump()))
        case.handled_at = now
        data["handling"] = h.model_dump(exclude={"party_id_number"})
    elif a == "feed_back":
        case.fed_back_at = now
        await _start_step(rt, session, case, "check", now)
    elif a == "check":
        case.check_passed = o.effects["check_passed"]
        await _start_step(rt, session, case, None, now)
        data["passed"] = case.check_passed
    elif a == "close":
        case.closed_at = now
    elif a == "rework":
        case.rework_count += 1
        case.check_passed = None
        case.arrived_at = case.handled_at = case.fed_back_at = None
        await _start_step(rt, session, case, "arrive", now)
        data["rework_count"] = case.rework_count
    elif a == "evaluate":
        case.satisfaction = o.effects["satisfaction"].value
        data["satisfaction"] = case.satisfaction
    elif a == "request":
        data.update(await _open_request(session, case, o, body, caller, now))
    elif a in ("approve", "reject"):
        data.update(await _decide_request(rt, session, case, o, caller, now))
    elif a == "resume":
        await _resume(rt, session, case, now)
        data["resumed_to"] = o.to_status.value
    elif a == "escalate":
        case.escalation_level += 1
        session.add(Escalation(case_id=case.id, reason=f"manual:{case.escalation_level}",
                               level=case.escalation_level, at=now, by_user_id=caller.user_id, note=body.note))
        data["level"] = case.escalation_level
    if (a in ("file", "void") or o.to_status is wf.Status.VOIDED) and case.step == "file":
        await _start_step(rt, session, case, None, now)
    if o.to_status in (wf.Status.CLOSED, wf.Status.VOIDED):
        await _start_step(rt, session, case, None, now)
    return data


def _iso(v: datetime | None) -> str | None:
    return v.isoformat() if v else None


async def _open_request(session: AsyncSession, case: Case, o: wf.Outcome, body: ActionIn, caller: Principal,
                        now: datetime) -> dict[str, Any]:
    kind = o.effects["request"]
    unit = None
    if kind is wf.RequestKind.EXTEND:
        try:
            unit = parse_unit(body.extra_unit or case.deadline_unit or "")
        except ValueError as e:
            raise InvalidInput(str(e), field="extra_unit") from e
    req = CaseRequest(case_id=case.id, kind=kind.value, reason=body.reason or "", extra_value=body.extra_value,
                      extra_unit=unit.value if unit else None, requested_by=caller.user_id, requested_at=now)
    session.add(req)
    await session.flush()
    case.pending_request_id = req.id
    return {"request_id": req.id, "kind": kind.value, "reason": req.reason, "extra_value": req.extra_value,
            "extra_unit": req.extra_unit}


async def _decide_request(rt: Runtime, session: AsyncSession, case: Case, o: wf.Outcome, caller: Principal,
                          now: datetime) -> dict[str, Any]:
    req = await session.get(CaseRequest, case.pending_request_id)
    assert req is not None
    req.decision, req.decided_by, req.decided_at = o.effects["decision"], caller.user_id, now
    case.pending_request_id = None
    data: dict[str, Any] = {"request_id": req.id, "kind": req.kind, "decision": req.decision}
    if req.decision != "approved":
        return data
    kind = wf.RequestKind(req.kind)
    if kind is wf.RequestKind.RETURN:
        case.department_id = case.officer_id = None
        case.return_count += 1
        case.due_at = None
        await _start_step(rt, session, case, None, now)
    elif kind is wf.RequestKind.EXTEND:
        if case.due_at is None:
            raise Conflict("the case has no running deadline to extend")
        cal = await rt.calendar(session)
        assert req.extra_value is not None and req.extra_unit is not None
        case.due_at, prov = clocks.extend(due_at=case.due_at, extra=Limit(req.extra_value, TimeUnit(req.extra_unit)),
                                          cal=cal)
        case.due_provisional = case.due_provisional or prov
        case.extension_count += 1
        data["due_at"] = _iso(case.due_at)
    elif kind is wf.RequestKind.SUSPEND:
        case.status_before_suspend = o.effects["status_before_suspend"].value
        case.suspended_at = now
    return data


async def _resume(rt: Runtime, session: AsyncSession, case: Case, now: datetime) -> None:
    """挂账恢复: record the pause and push both clocks by what was left of them when they stopped."""
    paused_at = case.suspended_at or now
    cal = await rt.calendar(session)
    if case.due_at is not None and case.deadline_unit:
        case.due_at, prov = clocks.shift_after_pause(due_at=case.due_at, unit=TimeUnit(case.deadline_unit),
                                                     paused_at=paused_at, resumed_at=now, cal=cal)
        case.due_provisional = case.due_provisional or prov
    if case.step and case.step_due_at is not None:
        unit = clocks.step_limit(case.step, rt.settings.steps).unit
        case.step_due_at, _ = clocks.shift_after_pause(due_at=case.step_due_at, unit=unit, paused_at=paused_at,
                                                       resumed_at=now, cal=cal)
    case.pauses = [*case.pauses, [paused_at.astimezone(UTC).isoformat(), now.astimezone(UTC).isoformat()]]
    case.suspended_at = None
    case.status_before_suspend = None


def pauses_of(case: Case) -> list[tuple[datetime, datetime]]:
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in case.pauses]


__all__ = ["act", "create", "timedelta"]
