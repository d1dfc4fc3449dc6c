"""Flags on the evidence of presence: closed without an on-scene position, closed without an after-photo, and a
manual arrival (到场 tapped by hand) recorded far from the case. One flag per officer, listing the cases.

After-photos: the evidence table of the media package (role "after") when the database has it; without it,
attachments on the handle / feed_back timeline entries or the handling record's evidence ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, and_, column, exists, or_, select, table
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.case.models import Case, CaseEvent, HandlingRecord
from cityops.evaluation.flags.base import Context, Flag, FlagCase, by_subject, degrees_for, distance_m, has_table
from cityops.evaluation.indicators import _ts
from cityops.evaluation.sqlfn import json_len

EVIDENCE_TABLE = "media_evidence"


def _closed_in(ctx: Context) -> list[ColumnElement[bool]]:
    return [Case.closed_at >= _ts("p_start", ctx.period.start), Case.closed_at < _ts("p_end", ctx.period.end)]


def _row(r: Any) -> tuple[int, str, int | None, datetime | None]:
    return int(r[0]), str(r[1]), r[2], r[3]


def _per_officer(rule: str, rows: Sequence[tuple[int, str, int | None, datetime | None]], why: str,
                 summary: str, summary_zh: str) -> list[Flag]:
    groups = by_subject((str(officer or "none"), FlagCase(cid, no, at, why)) for cid, no, officer, at in rows)
    return [Flag(rule, "officer", key, summary.format(n=len(cases)), tuple(cases), {"cases": len(cases)},
                 summary_zh.format(n=len(cases))) for key, cases in sorted(groups.items())]


async def no_position(session: AsyncSession, ctx: Context) -> list[Flag]:
    """Closed in the period, and no arrive/handle entry of the timeline carries a position."""
    cfg = ctx.cfg.flags.no_position
    positioned = exists().where(CaseEvent.case_id == Case.id, CaseEvent.action.in_(cfg.actions),
                                CaseEvent.lat.isnot(None), CaseEvent.lon.isnot(None))
    rows = (await session.execute(select(Case.id, Case.case_no, Case.officer_id, Case.closed_at)
                                  .where(*_closed_in(ctx), ~positioned).order_by(Case.id))).all()
    return _per_officer("no_position", [_row(r) for r in rows], "no position on arrival or handling",
                        "{n} case(s) closed without on-scene position evidence", "{n} 件结案案卷无到场定位")


async def no_after_photo(session: AsyncSession, ctx: Context) -> list[Flag]:
    """Closed in the period without any photo taken at or after handling."""
    if await has_table(session, EVIDENCE_TABLE):
        # The evidence table knows each file's role: only a photo taken as "after" (处置后) counts.
        ev = table(EVIDENCE_TABLE, column("case_id"), column("role"))
        evidence = [exists().where(ev.c.case_id == Case.id, ev.c.role == "after")]
    else:
        evidence = [exists().where(CaseEvent.case_id == Case.id, CaseEvent.action.in_(("handle", "feed_back")),
                                   json_len(CaseEvent.attachments) > 0),
                    exists().where(HandlingRecord.case_id == Case.id, json_len(HandlingRecord.evidence_ids) > 0)]
    rows = (await session.execute(select(Case.id, Case.case_no, Case.officer_id, Case.closed_at)
                                  .where(*_closed_in(ctx), ~or_(*evidence)).order_by(Case.id))).all()
    return _per_officer("no_after_photo", [_row(r) for r in rows], "no after-handling photo",
                        "{n} case(s) closed without an after-photo", "{n} 件结案案卷无处置后照片")


@dataclass(frozen=True)
class Arrival:
    case_id: int
    case_no: str
    officer_id: int | None
    at: datetime
    lat: float
    lon: float
    case_lat: float
    case_lon: float


def far_arrivals(arrivals: Sequence[Arrival], max_m: float) -> list[tuple[Arrival, float]]:
    """The pure rule: manual arrivals more than ``max_m`` metres from the case, with their distance."""
    out = []
    for a in arrivals:
        d = distance_m(a.lat, a.lon, a.case_lat, a.case_lon)
        if d > max_m:
            out.append((a, d))
    return out


async def far_arrival(session: AsyncSession, ctx: Context) -> list[Flag]:
    max_m = ctx.cfg.flags.far_arrival.max_distance_m
    # Anything inside the square inscribed in the circle is near for sure; only the rest is measured exactly.
    e = CaseEvent
    # A degree of longitude is never longer than one at the equator, so the equator's Δ is inside everywhere.
    dlat, dlon = degrees_for(max_m / 2**0.5, 0.0)
    outside = or_(e.lat - Case.lat > dlat, Case.lat - e.lat > dlat, e.lon - Case.lon > dlon, Case.lon - e.lon > dlon)
    rows = (await session.execute(
        select(e.case_id, Case.case_no, e.actor_id, e.at, e.lat, e.lon, Case.lat, Case.lon)
        .join(Case, Case.id == e.case_id)
        .where(e.action == "arrive", e.actor_role != "device", e.lat.isnot(None), e.lon.isnot(None),
               e.at >= _ts("p_start", ctx.period.start), e.at < _ts("p_end", ctx.period.end), and_(outside))
        .order_by(e.id))).all()
    far = far_arrivals([Arrival(*cast(tuple[Any, ...], r)) for r in rows], max_m)
    groups = by_subject((str(a.officer_id or "none"),
                         FlagCase(a.case_id, a.case_no, a.at, f"manual arrival {d:.0f} m from the case"))
                        for a, d in far)
    return [Flag("far_arrival", "officer", k, f"{len(v)} manual arrival(s) more than {max_m:.0f} m from the case",
                 tuple(v), {"cases": len(v)}, f"{len(v)} 次手动到场距案发点超过 {max_m:.0f} 米")
            for k, v in sorted(groups.items())]
