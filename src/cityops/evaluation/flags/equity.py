"""Equity (公平): response-time gaps between areas. An area is flagged when its mean response time (filed →
first arrival) exceeds the rest of the district's mean by more than ``max_ratio`` and by at least
``min_gap_minutes``, on at least ``min_cases`` cases. The cases behind it are its responses slower than the
rest of the district's mean."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.case.models import Case, CaseRequest
from cityops.evaluation.flags.base import Context, Flag, FlagCase
from cityops.evaluation.indicators import _first, _ts
from cityops.evaluation.sqlfn import seconds_between

LAYER_COLUMN = {"street": Case.street_id, "community": Case.community_id, "grid": Case.grid_id}


@dataclass(frozen=True)
class AreaTimes:
    area_id: int
    n: int
    total_seconds: float


@dataclass(frozen=True)
class Gap:
    area_id: int
    n: int
    mean_s: float
    rest_mean_s: float

    @property
    def ratio(self) -> float:
        return self.mean_s / self.rest_mean_s if self.rest_mean_s > 0 else float("inf")


def gaps(areas: Sequence[AreaTimes], *, min_cases: int, max_ratio: float, min_gap_s: float) -> list[Gap]:
    """The pure rule, comparing each area with all the others together."""
    n_all = sum(a.n for a in areas)
    s_all = sum(a.total_seconds for a in areas)
    out = []
    for a in areas:
        rest_n = n_all - a.n
        if a.n < min_cases or rest_n < min_cases:
            continue
        mean, rest = a.total_seconds / a.n, (s_all - a.total_seconds) / rest_n
        if mean > rest * max_ratio and mean - rest >= min_gap_s:
            out.append(Gap(a.area_id, a.n, mean, rest))
    return out


def _response(ctx: Context) -> tuple[Any, list[Any]]:
    first_arrive = _first("arrive", Case.arrived_at)
    never_susp = ~exists().where(CaseRequest.case_id == Case.id, CaseRequest.kind == "suspend",
                                 CaseRequest.decision == "approved")
    where = [Case.filed_at >= _ts("p_start", ctx.period.start), Case.filed_at < _ts("p_end", ctx.period.end),
             Case.status != "voided", never_susp, first_arrive.isnot(None)]
    return seconds_between(first_arrive, Case.filed_at), where


async def equity(session: AsyncSession, ctx: Context) -> list[Flag]:
    cfg = ctx.cfg.flags.equity
    secs, where = _response(ctx)
    flags = []
    for layer in cfg.layers:
        col = LAYER_COLUMN[layer]
        rows = (await session.execute(select(col, func.count(), func.sum(secs))
                                      .where(*where, col.isnot(None)).group_by(col))).all()
        areas = [AreaTimes(int(a), int(n), float(s or 0)) for a, n, s in rows if a is not None]
        for g in gaps(areas, min_cases=cfg.min_cases, max_ratio=cfg.max_ratio, min_gap_s=cfg.min_gap_minutes * 60):
            slow = (await session.execute(
                select(Case.id, Case.case_no, Case.filed_at, secs.label("s"))
                .where(*where, col == g.area_id, secs > g.rest_mean_s).order_by(Case.id))).all()
            cases = tuple(FlagCase(cid, no, at, f"response {s / 60:.0f} min vs district {g.rest_mean_s / 60:.0f} min")
                          for cid, no, at, s in slow)
            flags.append(Flag("equity", layer, str(g.area_id),
                              f"mean response {g.mean_s / 60:.0f} min, {g.ratio:.1f}× the rest of the district "
                              f"({g.rest_mean_s / 60:.0f} min)", cases,
                              {"cases": g.n, "mean_minutes": round(g.mean_s / 60, 1),
                               "rest_mean_minutes": round(g.rest_mean_s / 60, 1), "ratio": round(g.ratio, 2)},
                              f"平均响应 {g.mean_s / 60:.0f} 分钟，为区内其余区域（{g.rest_mean_s / 60:.0f} 分钟）的 "
                              f"{g.ratio:.1f} 倍"))
    return flags
