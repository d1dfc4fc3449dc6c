"""Flags on patterns across cases: voids and returns (作废/回退) that cluster on one place, party or officer, and
the same problem reported again at the same place soon after it was closed (recurrence)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cityops.auth.models import UserRole
from cityops.case.models import Case, CaseEvent, CaseRequest, HandlingRecord
from cityops.evaluation.flags.base import Context, Flag, FlagCase, degrees_for, distance_m
from cityops.evaluation.indicators import _ts


@dataclass(frozen=True)
class Dropped:
    """A case voided or returned in the period."""

    case_id: int
    case_no: str
    kind: str  # void | return
    at: datetime
    lat: float
    lon: float
    officer_id: int | None  # the officer involved (see repeated_voids)
    party: str | None


def normalise_party(name: str | None) -> str | None:
    if not name:
        return None
    key = "".join(name.split()).casefold()
    return key or None


def place_clusters(items: Sequence[Dropped], radius_m: float) -> list[list[Dropped]]:
    """Greedy, order-stable clusters: an item joins the first cluster whose first item is within ``radius_m``."""
    clusters: list[list[Dropped]] = []
    for it in sorted(items, key=lambda d: (d.at, d.case_id)):
        for cl in clusters:
            if distance_m(cl[0].lat, cl[0].lon, it.lat, it.lon) <= radius_m:
                cl.append(it)
                break
        else:
            clusters.append([it])
    return clusters


def repeated(items: Sequence[Dropped], min_cases: int, radius_m: float) -> list[tuple[str, str, list[Dropped]]]:
    """The pure rule: (subject kind, subject id, items) for every place, party or officer with ≥ min_cases cases."""
    out: list[tuple[str, str, list[Dropped]]] = []

    def distinct(group: list[Dropped]) -> list[Dropped]:
        seen: dict[int, Dropped] = {}
        for d in group:
            seen.setdefault(d.case_id, d)
        return list(seen.values())

    for cl in place_clusters(items, radius_m):
        cl = distinct(cl)
        if len(cl) >= min_cases:
            out.append(("place", f"{cl[0].lat:.5f},{cl[0].lon:.5f}", cl))
    for kind in ("party", "officer"):
        groups: dict[str, list[Dropped]] = {}
        for d in items:
            k = normalise_party(d.party) if kind == "party" else (str(d.officer_id) if d.officer_id else None)
            if k:
                groups.setdefault(k, []).append(d)
        for k, g in sorted(groups.items()):
            g = distinct(g)
            if len(g) >= min_cases:
                out.append((kind, k, g))
    return out


async def repeated_voids(session: AsyncSession, ctx: Context) -> list[Flag]:
    cfg = ctx.cfg.flags.repeated_voids
    start, end = _ts("p_start", ctx.period.start), _ts("p_end", ctx.period.end)
    officer = exists().where(UserRole.user_id == CaseRequest.requested_by, UserRole.role == "officer")
    requests = (await session.execute(
        select(Case.id, Case.case_no, CaseRequest.kind, CaseRequest.decided_at, Case.lat, Case.lon,
               CaseRequest.requested_by, officer, Case.officer_id)
        .join(Case, Case.id == CaseRequest.case_id)
        .where(CaseRequest.kind.in_(("void", "return")), CaseRequest.decision == "approved",
               CaseRequest.decided_at >= start, CaseRequest.decided_at < end))).all()
    voids = (await session.execute(
        select(Case.id, Case.case_no, CaseEvent.at, Case.lat, Case.lon, Case.officer_id)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(CaseEvent.action == "void", CaseEvent.at >= start, CaseEvent.at < end))).all()
    ids = {r[0] for r in requests} | {r[0] for r in voids}
    parties: dict[int, str | None] = {}
    if ids:
        for cid, name in (await session.execute(
                select(HandlingRecord.case_id, HandlingRecord.party_name)
                .where(HandlingRecord.case_id.in_(ids), HandlingRecord.party_name.isnot(None))
                .order_by(HandlingRecord.id))).all():
            parties.setdefault(cid, name)
    # The officer involved: the one who asked, if an officer did; for a void also the officer the case was with
    # (a return hands the case back to the centre, so whoever gets it next was not involved).
    items = [Dropped(cid, no, kind, at, lat, lon, by if is_officer else (assigned if kind == "void" else None),
                     parties.get(cid))
             for cid, no, kind, at, lat, lon, by, is_officer, assigned in requests if at is not None]
    items += [Dropped(cid, no, "void", at, lat, lon, assigned, parties.get(cid))
              for cid, no, at, lat, lon, assigned in voids]
    flags = []
    for kind, key, group in repeated(items, cfg.min_cases, cfg.radius_m):
        what = {"place": f"within {cfg.radius_m:.0f} m", "party": "with the same party",
                "officer": "involving the same officer"}[kind]
        what_zh = {"place": f"同一地点（{cfg.radius_m:.0f} 米内）", "party": "同一当事人",
                   "officer": "同一执法队员"}[kind]
        cases = tuple(FlagCase(d.case_id, d.case_no, d.at, f"{d.kind} ({'作废' if d.kind == 'void' else '回退'})")
                      for d in group)
        flags.append(Flag("repeated_voids", kind, key, f"{len(group)} voids/returns {what}", cases,
                          {"cases": len(group), "voids": sum(d.kind == "void" for d in group),
                           "returns": sum(d.kind == "return" for d in group)},
                          f"{what_zh}反复作废/回退 {len(group)} 件"))
    return flags


@dataclass(frozen=True)
class Pair:
    earlier_id: int
    earlier_no: str
    closed_at: datetime
    later_id: int
    later_no: str
    created_at: datetime
    lat1: float
    lon1: float
    lat2: float
    lon2: float


def recurrences(pairs: Sequence[Pair], radius_m: float, within: timedelta) -> list[Pair]:
    """The pure rule: same category (the query's join), within ``radius_m``, reported ≤ ``within`` after closure."""
    return [p for p in pairs if timedelta(0) <= p.created_at - p.closed_at <= within
            and distance_m(p.lat1, p.lon1, p.lat2, p.lon2) <= radius_m]


async def recurrence(session: AsyncSession, ctx: Context) -> list[Flag]:
    cfg = ctx.cfg.flags.recurrence
    within = timedelta(days=cfg.within_days)
    e, n = aliased(Case), aliased(Case)
    dlat, dlon = degrees_for(cfg.radius_m, 70.0)  # a box around the circle anywhere up to 70° N
    rows = (await session.execute(
        select(e.id, e.case_no, e.closed_at, n.id, n.case_no, n.created_at, e.lat, e.lon, n.lat, n.lon)
        .join(e, and_(e.category_id == n.category_id, e.id != n.id, e.closed_at.isnot(None),
                      e.closed_at < n.created_at, e.closed_at >= _ts("lookback", ctx.period.start - within),
                      e.lat.between(n.lat - dlat, n.lat + dlat), e.lon.between(n.lon - dlon, n.lon + dlon)))
        .where(n.created_at >= _ts("p_start", ctx.period.start), n.created_at < _ts("p_end", ctx.period.end),
               n.category_id.isnot(None), n.status != "voided")
        .order_by(e.id, n.id))).all()
    groups: dict[int, list[Pair]] = {}
    for p in recurrences([Pair(*cast(tuple[Any, ...], r)) for r in rows], cfg.radius_m, within):
        groups.setdefault(p.earlier_id, []).append(p)
    flags = []
    for _, ps in sorted(groups.items()):
        first = ps[0]
        cases = [FlagCase(first.earlier_id, first.earlier_no, first.closed_at, "closed (结案)")]
        for p in ps:
            hours = (p.created_at - p.closed_at).total_seconds() / 3600
            cases.append(FlagCase(p.later_id, p.later_no, p.created_at, f"reported again {hours:.1f} h after closure"))
        flags.append(Flag("recurrence", "case", first.earlier_no,
                          f"same problem reported {len(ps)} time(s) within {cfg.within_days:g} days of closure",
                          tuple(cases), {"cases": len(cases)},
                          f"结案后 {cfg.within_days:g} 天内同一地点同类问题再次上报 {len(ps)} 次"))
    return flags
