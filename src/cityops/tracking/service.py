"""Devices (定位终端) and officer status (勤务状态): registry, duty, CAD status derived from open tasks, the live
fleet view. Writes run in one transaction with an audit entry; events go out after commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.models import User, UserRole
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.case.models import Case
from cityops.db import writing
from cityops.errors import Conflict, Forbidden, InvalidInput, NotFound
from cityops.realtime.events import Audience, OfficerStatusChanged
from cityops.runtime import Runtime
from cityops.tracking.models import Device, DeviceKind, OfficerStatusRow, TravelMode
from cityops.tracking.schemas import DeviceCreate, DeviceUpdate, PositionRead
from cityops.tracking.state import state_of
from cityops.tracking.status import ACTIVE_CASE_STATUSES, Connectivity, Duty, connectivity, derive
from cityops.tracking.store import Latest

# Who may set someone else's duty (besides the officer and their own department's staff).
DUTY_SUPERVISORS = frozenset({Role.DISPATCHER, Role.SHIFT_LEAD, Role.COMMANDER, Role.ADMIN})


async def officer_user(session: AsyncSession, officer_id: int, field: str = "officer_id") -> User:
    user = await session.get(User, officer_id)
    if user is None or Role.OFFICER.value not in user.roles:
        raise InvalidInput(f"user {officer_id} is not an officer", field=field)
    return user


# ---- devices -------------------------------------------------------------------------------------------------

async def create_device(rt: Runtime, session: AsyncSession, *, data: DeviceCreate, actor_id: int,
                        now: datetime) -> Device:
    async with writing(session):
        if await session.scalar(select(Device.id).where(Device.identifier == data.identifier)) is not None:
            raise Conflict(f"a device with identifier {data.identifier!r} exists", field="identifier")
        if data.officer_id is not None:
            await officer_user(session, data.officer_id)
        mode = data.mode or (TravelMode.CAR if data.kind is DeviceKind.VEHICLE else TravelMode.WALK)
        dev = Device(identifier=data.identifier, kind=data.kind.value, name=data.name, officer_id=data.officer_id,
                     mode=mode.value, require_token=data.require_token, is_active=True, created_at=now,
                     updated_at=now)
        session.add(dev)
        await session.flush()
        await audit_service.append(session, now=now, actor_id=actor_id, action="device.registered",
                                   entity_type="device", entity_id=dev.id,
                                   data={"identifier": dev.identifier, "kind": dev.kind, "officer_id": dev.officer_id,
                                         "mode": dev.mode, "require_token": dev.require_token})
    state_of(rt).devices.invalidate(dev.identifier)
    return dev


async def update_device(rt: Runtime, session: AsyncSession, *, device_id: int, data: DeviceUpdate, actor_id: int,
                        now: datetime) -> Device:
    changes = data.model_dump(exclude_unset=True)
    async with writing(session):
        dev = await session.get(Device, device_id)
        if dev is None:
            raise NotFound(f"no device {device_id}", field="device_id")
        if changes.get("officer_id") is not None:
            await officer_user(session, changes["officer_id"])
        for key in ("name", "require_token", "is_active"):
            if key in changes and changes[key] is None:
                raise InvalidInput(f"{key} cannot be null", field=key)
        if "mode" in changes:
            if changes["mode"] is None:
                raise InvalidInput("mode cannot be null", field="mode")
            changes["mode"] = TravelMode(changes["mode"]).value
        for key, value in changes.items():
            setattr(dev, key, value)
        dev.updated_at = now
        await audit_service.append(session, now=now, actor_id=actor_id, action="device.updated", entity_type="device",
                                   entity_id=dev.id, data=changes)
    st = state_of(rt)
    st.devices.invalidate(dev.identifier)
    if "officer_id" in changes or changes.get("is_active") is False:
        # The old binding must not keep attributing this device's position to its former officer.
        await st.store.forget(dev.id)
        st.last.pop(dev.id, None)
    return dev


async def list_devices(session: AsyncSession, *, officer_id: int | None = None) -> list[Device]:
    q = select(Device).order_by(Device.id)
    if officer_id is not None:
        q = q.where(Device.officer_id == officer_id)
    return list((await session.execute(q)).scalars())


def position_read(fix: Latest, now: datetime, rt: Runtime) -> PositionRead:
    cfg = rt.settings.tracking
    age = max(0.0, (now - fix.at).total_seconds())
    conn = connectivity(age, online_s=cfg.online_timeout_s, offline_s=cfg.offline_timeout_s)
    return PositionRead(device_id=fix.device_id, officer_id=fix.officer_id, lat=fix.lat, lon=fix.lon, at=fix.at,
                        speed_mps=fix.speed_mps, bearing=fix.bearing, accuracy_m=fix.accuracy_m, battery=fix.battery,
                        charging=fix.charging, alarm=fix.alarm, age_s=round(age, 1), connectivity=conn.value)


async def positions_snapshot(rt: Runtime, caller: Principal) -> list[dict[str, object]]:
    """The live map's ``positions`` topic: every officer with a position, their status and name (the hub sends
    this first, then ``position.updated`` / ``officer.status_changed`` events)."""
    from cityops.realtime.hub import WIDE

    now = rt.clock()
    wide = bool(caller.roles & WIDE)
    async with rt.sessionmaker() as session:
        rows = await officer_rows(rt, session, now=now, department_id=None if wide else caller.department_id)
    if not wide and caller.department_id is None:
        rows = [r for r in rows if r["id"] == caller.user_id]
    out: list[dict[str, object]] = []
    for r in rows:
        pos = r["position"]
        if not isinstance(pos, PositionRead):
            continue
        out.append({**pos.model_dump(mode="json"), "officer_id": r["id"], "officer_name": r["display_name"],
                    "department_id": r["department_id"], "status": r["status"], "duty": r["duty"],
                    "case_id": r["case_id"]})
    return out


async def latest_positions(rt: Runtime, now: datetime) -> list[PositionRead]:
    fixes = await state_of(rt).store.all()
    return [position_read(f, now, rt) for f in sorted(fixes, key=lambda f: f.device_id)]


# ---- officer status ------------------------------------------------------------------------------------------

async def _active_tasks(session: AsyncSession, officer_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    ids = list(officer_ids)
    out: dict[int, list[tuple[int, str]]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = await session.execute(select(Case.officer_id, Case.id, Case.status)
                                 .where(Case.officer_id.in_(ids), Case.status.in_(ACTIVE_CASE_STATUSES)))
    for oid, cid, status in rows:
        if oid is not None:
            out[oid].append((cid, status))
    return out


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _locked_row(session: AsyncSession, officer_id: int, now: datetime) -> OfficerStatusRow:
    """The officer's status row, created if missing, locked on PostgreSQL until commit (one writer decides)."""
    postgres = _dialect(session) == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(insert(OfficerStatusRow).values(
        user_id=officer_id, duty=Duty.OFF_DUTY.value, status="off_duty", case_id=None, changed_at=now,
        duty_changed_at=now).on_conflict_do_nothing(index_elements=["user_id"]))
    q = select(OfficerStatusRow).where(OfficerStatusRow.user_id == officer_id).execution_options(
        populate_existing=True)
    if postgres:
        q = q.with_for_update()
    row = await session.scalar(q)
    assert row is not None
    return row


def _rederive(user: User, row: OfficerStatusRow, tasks: list[tuple[int, str]], now: datetime
              ) -> OfficerStatusChanged | None:
    d = derive(Duty(row.duty), tasks)
    if d.status.value == row.status and d.case_id == row.case_id:
        return None
    previous = row.status
    row.status, row.case_id, row.changed_at = d.status.value, d.case_id, now
    return OfficerStatusChanged(officer_id=user.id, status=row.status, previous=previous, duty=row.duty,
                                case_id=row.case_id, department_id=user.department_id, at=now,
                                audience=Audience(user_ids=[user.id], department_ids=[user.department_id]
                                                  if user.department_id is not None else []))


async def _audit_change(session: AsyncSession, ev: OfficerStatusChanged, actor_id: int | None) -> None:
    await audit_service.append(session, now=ev.at, actor_id=actor_id, action="officer.status_changed",
                               entity_type="user", entity_id=ev.officer_id,
                               data={"from": ev.previous, "to": ev.status, "duty": ev.duty, "case_id": ev.case_id})


async def refresh_officers(rt: Runtime, officer_ids: Iterable[int], now: datetime) -> list[OfficerStatusChanged]:
    """Re-derive the status of these officers from their duty and open tasks; publish what changed."""
    ids = sorted({i for i in officer_ids if i is not None})
    if not ids:
        return []
    events: list[OfficerStatusChanged] = []
    async with rt.sessionmaker() as session, writing(session):
        users = {u.id: u for u in (await session.execute(select(User).where(User.id.in_(ids)))).scalars()}
        officers = [i for i in ids if i in users and Role.OFFICER.value in users[i].roles]
        tasks = await _active_tasks(session, officers)
        # Every row locked (in id order) before the first audit append takes the audit lock: a transaction never
        # holds the audit lock while waiting for a row another one holds (that would deadlock on PostgreSQL).
        # The rows are written before the audit too: writing case_id checks its foreign key against a case row
        # that a case transition may hold while it waits for the audit lock.
        rows = {oid: await _locked_row(session, oid, now) for oid in officers}
        events = [ev for oid in officers if (ev := _rederive(users[oid], rows[oid], tasks[oid], now)) is not None]
        await session.flush()
        for ev in events:
            await _audit_change(session, ev, None)
    if events:
        await rt.bus.send_event(events)
    return events


async def officers_holding(session: AsyncSession, case_id: int) -> list[int]:
    rows = await session.execute(select(OfficerStatusRow.user_id).where(OfficerStatusRow.case_id == case_id))
    return list(rows.scalars())


async def reconcile(rt: Runtime, now: datetime) -> int:
    """Catch up on status changes missed (another process's case event, a crash): compare and fix all."""
    async with rt.sessionmaker() as session:
        rows = {r.user_id: r for r in (await session.execute(select(OfficerStatusRow))).scalars()}
        busy = {oid for oid in (await session.execute(select(Case.officer_id).where(
            Case.status.in_(ACTIVE_CASE_STATUSES), Case.officer_id.is_not(None)))).scalars() if oid is not None}
        tasks = await _active_tasks(session, set(rows) | busy)
    stale = []
    for oid, officer_tasks in tasks.items():
        row = rows.get(oid)
        d = derive(Duty(row.duty) if row else Duty.OFF_DUTY, officer_tasks)
        if row is None or (d.status.value, d.case_id) != (row.status, row.case_id):
            stale.append(oid)
    return len(await refresh_officers(rt, stale, now)) if stale else 0


def _may_set_duty(caller: Principal, officer: User) -> bool:
    if caller.user_id == officer.id and caller.has(Role.OFFICER.value, Role.DEVICE.value):
        return True
    if caller.roles & DUTY_SUPERVISORS:
        return True
    return caller.has(Role.DEPARTMENT.value) and caller.department_id is not None and \
        caller.department_id == officer.department_id


async def set_duty(rt: Runtime, session: AsyncSession, *, officer_id: int, duty: Duty, caller: Principal,
                   now: datetime) -> OfficerStatusRow:
    """上岗 / 下岗 / 忙碌: the officer's own setting; the status follows (a task still outranks it)."""
    event = None
    async with writing(session):
        user = await officer_user(session, officer_id)
        if not _may_set_duty(caller, user):
            raise Forbidden("only the officer, their department or a dispatcher may set this duty", field="officer_id")
        row = await _locked_row(session, officer_id, now)
        before = row.duty
        row.duty = duty.value
        if before != duty.value:
            row.duty_changed_at = now
        tasks = (await _active_tasks(session, [officer_id]))[officer_id]
        event = _rederive(user, row, tasks, now)
        await session.flush()  # before the audit lock, as in refresh_officers
        if before != duty.value:
            await audit_service.append(session, now=now, actor_id=caller.user_id, action="officer.duty_changed",
                                       entity_type="user", entity_id=officer_id,
                                       data={"from": before, "to": duty.value})
        if event is not None:
            await _audit_change(session, event, caller.user_id)
    if event is not None:
        await rt.bus.send_event([event])
    return row


async def officer_rows(rt: Runtime, session: AsyncSession, *, now: datetime, department_id: int | None = None,
                       officer_id: int | None = None) -> list[dict[str, object]]:
    """The live fleet: every officer with duty, status (derived now), connectivity and last position."""
    q = (select(User).join(UserRole, UserRole.user_id == User.id)
         .where(UserRole.role == Role.OFFICER.value, User.is_active.is_(True)).order_by(User.id))
    if department_id is not None:
        q = q.where(User.department_id == department_id)
    if officer_id is not None:
        q = q.where(User.id == officer_id)
    users = list((await session.execute(q)).scalars())
    ids = [u.id for u in users]
    rows = {r.user_id: r for r in (await session.execute(
        select(OfficerStatusRow).where(OfficerStatusRow.user_id.in_(ids)))).scalars()} if ids else {}
    tasks = await _active_tasks(session, ids)
    devices: dict[int, list[int]] = {}
    if ids:
        for did, oid in (await session.execute(select(Device.id, Device.officer_id).where(
                Device.officer_id.in_(ids), Device.is_active.is_(True)).order_by(Device.id))).all():
            if oid is not None:
                devices.setdefault(oid, []).append(did)
    latest = await state_of(rt).store.get_many([did for dids in devices.values() for did in dids])
    out: list[dict[str, object]] = []
    for u in users:
        row = rows.get(u.id)
        duty = Duty(row.duty) if row else Duty.OFF_DUTY
        d = derive(duty, tasks[u.id])
        fixes = [latest[did] for did in devices.get(u.id, []) if did in latest]
        fix = max(fixes, key=lambda f: f.at) if fixes else None
        pos = position_read(fix, now, rt) if fix else None
        out.append({"id": u.id, "username": u.username, "display_name": u.display_name,
                    "department_id": u.department_id, "duty": duty.value, "status": d.status.value,
                    "case_id": d.case_id, "status_changed_at": row.changed_at if row else None,
                    "connectivity": pos.connectivity if pos else Connectivity.OFFLINE.value, "position": pos,
                    "device_ids": devices.get(u.id, [])})
    return out
