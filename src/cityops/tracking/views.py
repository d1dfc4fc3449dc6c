"""Tracking REST API: devices, officers and their status, live positions, track replay and export, ingest stats,
recommendation and one-click dispatch, auto-dispatch rules, patrol assignments, road-segment state layer."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case import queries
from cityops.deps import DbSession, Now, allow
from cityops.errors import Forbidden, InvalidInput, NotFound
from cityops.runtime import Runtime
from cityops.tracking import dispatch, export, history, patrol_service
from cityops.tracking import service as tracking_service
from cityops.tracking.lifecycle import purge
from cityops.tracking.models import Device
from cityops.tracking.schemas import (
    CoverageRead,
    DeviceCreate,
    DeviceRead,
    DeviceUpdate,
    DispatchIn,
    DutyIn,
    OfficerRead,
    PatrolIn,
    PatrolRead,
    RecommendationsRead,
    RuleIn,
    RuleRead,
)
from cityops.tracking.state import state_of

router = APIRouter(prefix="/api/v1/tracking", tags=["tracking"])
R = Role
MAP_READERS = (R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER, R.ADMIN, R.DEPARTMENT, R.INTAKE, R.INSPECTOR)
DISPATCHERS = (R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER, R.DEPARTMENT)
PLANNERS = (R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER, R.DEPARTMENT, R.ADMIN)
MAX_TRACK_DAYS = 7
MAX_TRACK_FIXES = 100_000


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _dept_scope(caller: Principal) -> int | None:
    """Department staff see their own department's officers; the centre sees everyone."""
    wide = {R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER, R.ADMIN, R.INTAKE, R.INSPECTOR}
    if caller.roles & wide:
        return None
    return caller.department_id if caller.department_id is not None else -1


def _officer_only(caller: Principal) -> bool:
    """An officer without a staff role sees their own shifts and track only."""
    return caller.has(R.OFFICER.value) and not caller.roles & {r.value for r in MAP_READERS}


async def _device_read(rt: Runtime, d: Device, now: datetime) -> DeviceRead:
    fix = await state_of(rt).store.get(d.id)
    pos = tracking_service.position_read(fix, now, rt) if fix else None
    return DeviceRead(id=d.id, identifier=d.identifier, kind=d.kind, name=d.name, officer_id=d.officer_id, mode=d.mode,
                      require_token=d.require_token, is_active=d.is_active, created_at=d.created_at,
                      connectivity=pos.connectivity if pos else "offline", position=pos)


# ---- devices ---------------------------------------------------------------------------------------------------

@router.post("/devices", response_model=DeviceRead, status_code=201, summary="Register a device for an officer")
async def create_device(request: Request, body: DeviceCreate, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(R.ADMIN)]) -> DeviceRead:
    d = await tracking_service.create_device(_rt(request), session, data=body, actor_id=caller.user_id, now=now)
    return await _device_read(_rt(request), d, now)


@router.get("/devices", response_model=list[DeviceRead], summary="Devices with their last position")
async def list_devices(request: Request, session: DbSession, now: Now,
                       _: Annotated[Principal, allow(R.ADMIN, R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER)],
                       officer_id: int | None = None) -> list[DeviceRead]:
    return [await _device_read(_rt(request), d, now)
            for d in await tracking_service.list_devices(session, officer_id=officer_id)]


@router.patch("/devices/{device_id}", response_model=DeviceRead, summary="Rebind, rename or deactivate a device")
async def update_device(request: Request, device_id: int, body: DeviceUpdate, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(R.ADMIN)]) -> DeviceRead:
    d = await tracking_service.update_device(_rt(request), session, device_id=device_id, data=body,
                                             actor_id=caller.user_id, now=now)
    return await _device_read(_rt(request), d, now)


# ---- officers and positions ------------------------------------------------------------------------------------

@router.get("/officers", response_model=list[OfficerRead], summary="Officers: duty, CAD status, connectivity")
async def list_officers(request: Request, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(*MAP_READERS)],
                        department_id: int | None = None) -> list[OfficerRead]:
    scope = _dept_scope(caller)
    if scope is not None:
        if department_id is not None and department_id != scope:
            raise Forbidden("department staff see their own department's officers", field="department_id")
        department_id = scope
    rows = await tracking_service.officer_rows(_rt(request), session, now=now, department_id=department_id)
    return [OfficerRead.model_validate(r) for r in rows]


@router.get("/officers/me", response_model=OfficerRead, summary="My duty and status (officer, device)")
async def me(request: Request, session: DbSession, now: Now,
             caller: Annotated[Principal, allow(R.OFFICER, R.DEVICE)]) -> OfficerRead:
    rows = await tracking_service.officer_rows(_rt(request), session, now=now, officer_id=caller.user_id)
    if not rows:
        raise NotFound("you are not an officer", field="officer_id")
    return OfficerRead.model_validate(rows[0])


@router.put("/officers/{officer_id}/duty", response_model=OfficerRead, summary="上岗/下岗: set an officer's duty")
async def set_duty(request: Request, officer_id: int, body: DutyIn, session: DbSession, now: Now,
                   caller: Annotated[Principal, allow(R.OFFICER, R.DEVICE, *PLANNERS)]) -> OfficerRead:
    rt = _rt(request)
    assert body.duty is not None  # DutyIn fills it from on_duty
    await tracking_service.set_duty(rt, session, officer_id=officer_id, duty=body.duty, caller=caller, now=now)
    rows = await tracking_service.officer_rows(rt, session, now=now, officer_id=officer_id)
    return OfficerRead.model_validate(rows[0])


@router.get("/positions", summary="Latest position of every device (JSON, or GeoJSON with format=geojson)")
async def positions(request: Request, session: DbSession, now: Now, caller: Annotated[Principal, allow(*MAP_READERS)],
                    format: Literal["json", "geojson"] = "json") -> Any:
    rows = await tracking_service.latest_positions(_rt(request), now)
    scope = _dept_scope(caller)
    if scope is not None:
        from cityops.auth.models import User

        mine = set((await session.execute(select(User.id).where(User.department_id == scope))).scalars())
        rows = [p for p in rows if p.officer_id in mine]
    if format == "json":
        return [p.model_dump(mode="json") for p in rows]
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": p.device_id, "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
         "properties": p.model_dump(mode="json", exclude={"lat", "lon"})} for p in rows]}


async def _track(request: Request, session: DbSession, *, device_ids: list[int], name: str, start: datetime | None,
                 end: datetime | None, now: datetime, fmt: str) -> Any:
    end = end or now
    start = start or end - timedelta(hours=12)
    for label, v in (("from", start), ("to", end)):
        if v.tzinfo is None:
            raise InvalidInput(f"{label} needs a time zone, e.g. 2026-11-30T08:00:00+08:00", field=label)
    if end <= start:
        raise InvalidInput("'to' must be after 'from'", field="to")
    if end - start > timedelta(days=MAX_TRACK_DAYS):
        raise InvalidInput(f"at most {MAX_TRACK_DAYS} days per request", field="from")
    rows = await history.track(session, device_ids=device_ids, start=start, end=end, limit=MAX_TRACK_FIXES)
    points = [export.TrackPoint(r.at, r.lat, r.lon, r.speed_mps, r.bearing, r.altitude, r.accuracy_m) for r in rows]
    if fmt == "gpx":
        return Response(export.gpx(points, name), media_type="application/gpx+xml",
                        headers={"Content-Disposition": f'attachment; filename="track-{name}.gpx"'})
    if fmt == "geojson":
        return export.geojson(points, {"name": name, "from": start.isoformat(), "to": end.isoformat()})
    return {"name": name, "from": start, "to": end, "count": len(points),
            "points": [{"at": p.at, "lat": p.lat, "lon": p.lon, "speed_mps": p.speed_mps, "bearing": p.bearing,
                        "accuracy_m": p.accuracy_m} for p in points]}


TrackFormat = Literal["json", "geojson", "gpx"]


@router.get("/devices/{device_id}/track", summary="Track replay of a device (json, geojson or gpx)")
async def device_track(request: Request, device_id: int, session: DbSession, now: Now,
                       _: Annotated[Principal, allow(R.ADMIN, R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER)],
                       start: Annotated[datetime | None, Query(alias="from")] = None,
                       end: Annotated[datetime | None, Query(alias="to")] = None,
                       format: TrackFormat = "json") -> Any:
    dev = await session.get(Device, device_id)
    if dev is None:
        raise NotFound(f"no device {device_id}", field="device_id")
    return await _track(request, session, device_ids=[dev.id], name=dev.identifier, start=start, end=end, now=now,
                        fmt=format)


@router.get("/officers/{officer_id}/track", summary="Track replay of an officer over all their devices")
async def officer_track(request: Request, officer_id: int, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(R.OFFICER, *MAP_READERS)],
                        start: Annotated[datetime | None, Query(alias="from")] = None,
                        end: Annotated[datetime | None, Query(alias="to")] = None,
                        format: TrackFormat = "json") -> Any:
    officer = await tracking_service.officer_user(session, officer_id)
    scope = _dept_scope(caller)
    if caller.user_id != officer_id and (_officer_only(caller) or (scope is not None and
                                                                    scope != officer.department_id)):
        raise Forbidden("you may replay your own track (staff: their department's)", field="officer_id")
    ids = [d.id for d in await tracking_service.list_devices(session, officer_id=officer_id)]
    return await _track(request, session, device_ids=ids, name=officer.username, start=start, end=end, now=now,
                        fmt=format)


@router.get("/ingest/stats", summary="Fixes accepted, dropped by filter reason, rejected by reason")
async def stats(request: Request, _: Annotated[Principal, allow(R.ADMIN, R.COMMANDER, R.DISPATCHER)]
                ) -> dict[str, Any]:
    st = state_of(_rt(request))
    totals = await st.counter_totals()
    group: dict[str, Any] = {"accepted": totals.get("accepted", 0), "arrivals": totals.get("arrivals", 0),
                             "dropped": {}, "rejected": {}}
    for k, v in sorted(totals.items()):
        head, _dot, reason = k.partition(".")
        if head in ("dropped", "rejected") and reason:
            group[head][reason] = v
    group["history"] = {"buffered": len(st.writer.buffer), "written": st.writer.written,
                        "overflow": st.writer.overflow, "failures": st.writer.failures}
    return group


@router.post("/retention/purge", summary="Delete position history older than the retention period now")
async def purge_now(request: Request, now: Now, _: Annotated[Principal, allow(R.ADMIN)]) -> dict[str, Any]:
    rt = _rt(request)
    return {"removed": await purge(rt, now), "retention_days": rt.settings.tracking.retention_days}


# ---- recommendation and dispatch -------------------------------------------------------------------------------

@router.get("/cases/{case_id}/recommendations", response_model=RecommendationsRead,
            summary="Available officers ranked by travel time, and whether each makes the arrival limit")
async def recommendations(request: Request, case_id: int, session: DbSession, now: Now,
                          caller: Annotated[Principal, allow(*DISPATCHERS)],
                          limit: Annotated[int, Query(ge=1, le=100)] = 10,
                          department_id: int | None = None) -> RecommendationsRead:
    await queries.get_visible(session, caller, case_id)
    return RecommendationsRead.model_validate(await dispatch.recommend(
        _rt(request), session, case_id=case_id, now=now, limit=limit, department_id=department_id))


@router.post("/cases/{case_id}/dispatch", summary="一键派遣: dispatch (or assign) the case to this officer")
async def dispatch_case(request: Request, case_id: int, body: DispatchIn, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(*DISPATCHERS)]) -> dict[str, Any]:
    await queries.get_visible(session, caller, case_id)
    case = await dispatch.dispatch_to(_rt(request), session, case_id=case_id, officer_id=body.officer_id,
                                      caller=caller, now=now, note=body.note, expected_version=body.expected_version)
    return {"case_id": case.id, "case_no": case.case_no, "status": case.status, "department_id": case.department_id,
            "officer_id": case.officer_id, "version": case.version}


def _rule_read(rule: Any, cat: Any) -> RuleRead:
    return RuleRead(id=rule.id, category_id=cat.id, category_code=cat.code, category_name=cat.name,
                    enabled=rule.enabled, require_deadline=rule.require_deadline, created_by=rule.created_by,
                    updated_at=rule.updated_at)


@router.get("/auto-dispatch-rules", response_model=list[RuleRead], summary="Auto-dispatch rules per category")
async def list_rules(session: DbSession,
                     _: Annotated[Principal, allow(R.DISPATCHER, R.SHIFT_LEAD, R.COMMANDER, R.ADMIN)]
                     ) -> list[RuleRead]:
    return [_rule_read(r, c) for r, c in await dispatch.list_rules(session)]


@router.put("/auto-dispatch-rules", response_model=RuleRead, summary="Turn auto-dispatch on/off for a category")
async def set_rule(body: RuleIn, session: DbSession, now: Now,
                   caller: Annotated[Principal, allow(R.DISPATCHER, R.SHIFT_LEAD)]) -> RuleRead:
    rule = await dispatch.set_rule(session, category_code=body.category_code, category_kind=body.category_kind,
                                   edition=body.edition, enabled=body.enabled, require_deadline=body.require_deadline,
                                   actor_id=caller.user_id, now=now)
    return next(_rule_read(r, c) for r, c in await dispatch.list_rules(session) if r.id == rule.id)


@router.delete("/auto-dispatch-rules/{rule_id}", status_code=204, summary="Remove an auto-dispatch rule")
async def delete_rule(rule_id: int, session: DbSession, now: Now,
                      caller: Annotated[Principal, allow(R.DISPATCHER, R.SHIFT_LEAD)]) -> None:
    await dispatch.delete_rule(session, rule_id=rule_id, actor_id=caller.user_id, now=now)


# ---- patrol ----------------------------------------------------------------------------------------------------

def _patrol_read(p: Any) -> PatrolRead:
    return PatrolRead(id=p.id, officer_id=p.officer_id, starts_at=p.starts_at, ends_at=p.ends_at, grid_ids=p.grid_ids,
                      segment_ids=p.segment_ids, note=p.note, created_by=p.created_by, created_at=p.created_at)


@router.post("/patrols", response_model=PatrolRead, status_code=201, summary="巡查任务: assign grids/segments")
async def create_patrol(body: PatrolIn, session: DbSession, now: Now,
                        caller: Annotated[Principal, allow(*PLANNERS)]) -> PatrolRead:
    officer = await tracking_service.officer_user(session, body.officer_id)
    scope = _dept_scope(caller)
    if scope is not None and scope != officer.department_id:
        raise Forbidden("department staff plan their own department's officers", field="officer_id")
    return _patrol_read(await patrol_service.create_assignment(session, data=body, actor_id=caller.user_id, now=now))


@router.get("/patrols", response_model=list[PatrolRead], summary="Patrol assignments (filter by officer, time)")
async def list_patrols(session: DbSession, caller: Annotated[Principal, allow(R.OFFICER, *MAP_READERS)],
                       officer_id: int | None = None, active_at: datetime | None = None) -> list[PatrolRead]:
    dept = _dept_scope(caller)
    if _officer_only(caller):
        officer_id, dept = caller.user_id, None
    if active_at is not None and active_at.tzinfo is None:
        raise InvalidInput("active_at needs a time zone", field="active_at")
    rows = await patrol_service.list_assignments(session, officer_id=officer_id, active_at=active_at,
                                                 department_id=dept)
    return [_patrol_read(p) for p in rows]


@router.get("/patrols/{assignment_id}/coverage", response_model=CoverageRead,
            summary="Patrol coverage: share of the assigned segments the officer's track traversed")
async def patrol_coverage(request: Request, assignment_id: int, session: DbSession, now: Now,
                          caller: Annotated[Principal, allow(R.OFFICER, *MAP_READERS)]) -> CoverageRead:
    result = await patrol_service.coverage(_rt(request), session, assignment_id=assignment_id, now=now)
    if _officer_only(caller) and result["officer_id"] != caller.user_id:
        raise NotFound(f"no patrol assignment {assignment_id}", field="assignment_id")
    return CoverageRead.model_validate(result)


@router.get("/road-segments/state", summary="路段治理状态: open/overdue cases and last patrol per segment (GeoJSON)")
async def segment_state(request: Request, session: DbSession, now: Now,
                        _: Annotated[Principal, allow(*MAP_READERS)],
                        stale_hours: Annotated[float, Query(gt=0, le=24 * 30)] = 24.0) -> dict[str, Any]:
    return await patrol_service.segment_states(_rt(request), session, now=now, stale_hours=stale_hours)
