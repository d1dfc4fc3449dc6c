"""Patrol assignments (巡查任务), coverage from tracks, and the road-segment state layer (路段治理状态) as GeoJSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from shapely import wkt
from shapely.geometry import mapping
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.case import workflow as wf
from cityops.case.models import Case
from cityops.db import writing
from cityops.errors import InvalidInput, NotFound
from cityops.geo.models import AreaRow, RoadSegment
from cityops.runtime import Runtime
from cityops.tracking import history, patrol
from cityops.tracking.models import Device, PatrolAssignment, SegmentPatrol
from cityops.tracking.schemas import PatrolIn
from cityops.tracking.service import officer_user
from cityops.tracking.state import TrackingState, state_of

CASE_SEGMENT_M = 100.0  # a case belongs to the nearest segment within this distance
PATROL_SAMPLE_S = 10.0  # last-patrolled needs no finer time resolution: one fix per device per 10 s is enough
MAX_SHIFT_HOURS = 24.0
MAX_TRACK_FIXES = 200_000


async def create_assignment(session: AsyncSession, *, data: PatrolIn, actor_id: int, now: datetime) -> PatrolAssignment:
    for name in ("starts_at", "ends_at"):
        if getattr(data, name).tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-11-30T08:00:00+08:00", field=name)
    if data.ends_at <= data.starts_at:
        raise InvalidInput("ends_at must be after starts_at", field="ends_at")
    if (data.ends_at - data.starts_at).total_seconds() > MAX_SHIFT_HOURS * 3600:
        raise InvalidInput(f"a shift is at most {MAX_SHIFT_HOURS:g} hours", field="ends_at")
    if not data.grid_ids and not data.segment_ids:
        raise InvalidInput("assign at least one grid or road segment", field="segment_ids")
    async with writing(session):
        await officer_user(session, data.officer_id)
        grids = set((await session.execute(select(AreaRow.id).where(
            AreaRow.id.in_(data.grid_ids), AreaRow.layer == "grid"))).scalars()) if data.grid_ids else set()
        missing = [g for g in data.grid_ids if g not in grids]
        if missing:
            raise InvalidInput(f"no grid {missing[0]}", field="grid_ids")
        segs = set((await session.execute(select(RoadSegment.id).where(
            RoadSegment.id.in_(data.segment_ids)))).scalars()) if data.segment_ids else set()
        missing = [s for s in data.segment_ids if s not in segs]
        if missing:
            raise InvalidInput(f"no road segment {missing[0]}", field="segment_ids")
        row = PatrolAssignment(officer_id=data.officer_id, starts_at=data.starts_at, ends_at=data.ends_at,
                               grid_ids=sorted(set(data.grid_ids)), segment_ids=sorted(set(data.segment_ids)),
                               note=data.note, created_by=actor_id, created_at=now)
        session.add(row)
        await session.flush()
        await audit_service.append(session, now=now, actor_id=actor_id, action="patrol.assigned",
                                   entity_type="patrol", entity_id=row.id,
                                   data={"officer_id": row.officer_id, "starts_at": row.starts_at.isoformat(),
                                         "ends_at": row.ends_at.isoformat(), "grid_ids": row.grid_ids,
                                         "segment_ids": row.segment_ids})
    return row


async def list_assignments(session: AsyncSession, *, officer_id: int | None, active_at: datetime | None,
                           department_id: int | None = None) -> list[PatrolAssignment]:
    q = select(PatrolAssignment).order_by(PatrolAssignment.starts_at, PatrolAssignment.id)
    if officer_id is not None:
        q = q.where(PatrolAssignment.officer_id == officer_id)
    if active_at is not None:
        q = q.where(PatrolAssignment.starts_at <= active_at, PatrolAssignment.ends_at > active_at)
    if department_id is not None:
        from cityops.auth.models import User

        q = q.where(PatrolAssignment.officer_id.in_(select(User.id).where(User.department_id == department_id)))
    return list((await session.execute(q.limit(1000))).scalars())


async def assigned_segments(session: AsyncSession, row: PatrolAssignment) -> list[RoadSegment]:
    """The explicit segments plus every segment that runs through an assigned grid."""
    segs = list((await session.execute(select(RoadSegment).order_by(RoadSegment.id))).scalars())
    wanted = set(row.segment_ids)
    if row.grid_ids:
        polys = [wkt.loads(g) for g in (await session.execute(
            select(AreaRow.geometry_wkt).where(AreaRow.id.in_(row.grid_ids)))).scalars()]
        for s in segs:
            line = wkt.loads(s.geometry_wkt)
            # Touching a grid's edge is not running through it: roads often follow grid boundaries exactly.
            if any(line.intersection(p).length > 0.5 * line.length for p in polys):
                wanted.add(s.id)
    return [s for s in segs if s.id in wanted]


async def coverage(rt: Runtime, session: AsyncSession, *, assignment_id: int, now: datetime) -> dict[str, Any]:
    row = await session.get(PatrolAssignment, assignment_id)
    if row is None:
        raise NotFound(f"no patrol assignment {assignment_id}", field="assignment_id")
    segs = await assigned_segments(session, row)
    net = await state_of(rt).network(session)
    device_ids = list((await session.execute(select(Device.id).where(Device.officer_id == row.officer_id))).scalars())
    end = min(row.ends_at, now)
    fixes = await history.track(session, device_ids=device_ids, start=row.starts_at, end=end,
                                limit=MAX_TRACK_FIXES) if end > row.starts_at else []
    fixes = [f for f in fixes if f.officer_id in (None, row.officer_id)]
    shares: dict[int, float] = {}
    if net is not None and segs:
        lines = {s.id: line for s in segs if (line := net.segment_line(s.id)) is not None}
        pts = [(f.at.timestamp(), *net.project(f.lat, f.lon)) for f in fixes]
        shares = patrol.coverage(lines, pts)
    done = patrol.traversed(shares)
    items = [{"segment_id": s.id, "code": s.code, "name": s.name, "share": round(shares.get(s.id, 0.0), 3),
              "traversed": s.id in done} for s in segs]
    return {"assignment_id": row.id, "officer_id": row.officer_id, "fixes": len(fixes), "segments": items,
            "traversed": len(done), "assigned": len(segs),
            "coverage": round(len(done) / len(segs), 3) if segs else 0.0}


async def record_patrols(rt: Runtime, st: TrackingState, batch: list[Any]) -> None:
    """After each history flush: note which segments officers just passed (last patrolled, 路段最近巡查)."""
    sample: dict[tuple[int, int], Any] = {}
    for r in batch:
        if r[1] is not None:  # officer-bound fixes only
            sample[(r[0], int(r[2].timestamp() // PATROL_SAMPLE_S))] = r
    if not sample:
        return
    async with rt.sessionmaker() as session:
        net = await st.network(session)
    if net is None or net.is_empty:
        return
    recs = list(sample.values())
    xs, ys = net.project_many(np.array([r[4] for r in recs]), np.array([r[5] for r in recs]))
    seg = net.segments_near(xs, ys, patrol.MATCH_M)
    best: dict[int, tuple[datetime, int]] = {}
    for r, sid in zip(recs, seg.tolist(), strict=True):
        if sid >= 0 and (sid not in best or r[2] > best[sid][0]):
            best[sid] = (r[2], r[1])
    if not best:
        return
    async with rt.sessionmaker() as session, writing(session):
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(SegmentPatrol).values([{"segment_id": sid, "last_patrolled_at": at, "last_officer_id": oid}
                                             for sid, (at, oid) in sorted(best.items())])
        await session.execute(stmt.on_conflict_do_update(
            index_elements=["segment_id"],
            set_={"last_patrolled_at": stmt.excluded.last_patrolled_at,
                  "last_officer_id": stmt.excluded.last_officer_id},
            where=SegmentPatrol.last_patrolled_at < stmt.excluded.last_patrolled_at))


async def segment_states(rt: Runtime, session: AsyncSession, *, now: datetime, stale_hours: float) -> dict[str, Any]:
    """Every road segment with open and overdue cases nearby and when it was last patrolled, as GeoJSON."""
    segs = list((await session.execute(select(RoadSegment).order_by(RoadSegment.id))).scalars())
    patrols = {p.segment_id: p for p in (await session.execute(select(SegmentPatrol))).scalars()}
    open_statuses = [s.value for s in wf.OPEN]
    cases = (await session.execute(select(Case.lat, Case.lon, Case.due_at, Case.step_due_at, Case.status)
                                   .where(Case.status.in_(open_statuses)))).all()
    net = await state_of(rt).network(session)
    open_n: dict[int, int] = {}
    overdue_n: dict[int, int] = {}
    if net is not None and cases:
        xs, ys = net.project_many(np.array([c.lat for c in cases]), np.array([c.lon for c in cases]))
        for c, sid in zip(cases, net.segments_near(xs, ys, CASE_SEGMENT_M).tolist(), strict=True):
            if sid < 0:
                continue
            open_n[sid] = open_n.get(sid, 0) + 1
            late = c.status != wf.Status.SUSPENDED.value and any(
                d is not None and d < now for d in (c.due_at, c.step_due_at))
            if late:
                overdue_n[sid] = overdue_n.get(sid, 0) + 1
    features = []
    for s in segs:
        p = patrols.get(s.id)
        state = patrol.segment_state(s.id, open_cases=open_n.get(s.id, 0), overdue_cases=overdue_n.get(s.id, 0),
                                     last_patrolled_at=p.last_patrolled_at if p else None,
                                     last_officer_id=p.last_officer_id if p else None, now=now,
                                     stale_s=stale_hours * 3600)
        features.append({"type": "Feature", "id": s.id, "geometry": mapping(wkt.loads(s.geometry_wkt)),
                         "properties": {"code": s.code, "name": s.name, "road": s.road,
                                        "length_m": round(s.length_m, 1), "open_cases": state.open_cases,
                                        "overdue_cases": state.overdue_cases,
                                        "last_patrolled_at": state.last_patrolled_at.isoformat()
                                        if state.last_patrolled_at else None,
                                        "last_officer_id": state.last_officer_id, "state": state.state}})
    return {"type": "FeatureCollection", "features": features}
