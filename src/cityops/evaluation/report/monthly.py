"""The monthly report (月度考核报告) as data: this month against the previous one, the weekly trend, categories,
streets, departments, a grid heat map, composite grades and supervision flags. The XLSX and PDF writers and the
console page all render this one structure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shapely import wkt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.evaluation import service
from cityops.evaluation.formulas import INDICATORS, Counts, change, indicators
from cityops.evaluation.periods import Period, parse_month, previous_month, weeks
from cityops.geo.models import AreaRow
from cityops.runtime import Runtime

STEPS = ("this month", "previous month", "weekly trend", "categories", "streets", "departments", "grid heat map",
         "composite grades", "supervision flags")
# Subjects graded in the report (communities and grids are in the API; the report keeps to what a bureau reads).
REPORT_SUBJECTS = ("department", "street", "officer", "inspector", "intake", "dispatcher")


@dataclass(frozen=True)
class SummaryLine:
    key: str
    zh: str
    en: str
    kind: str
    better: str
    current: float | None
    previous: float | None
    change: float | None


@dataclass(frozen=True)
class GridCell:
    id: int
    code: str
    name: str
    ring: list[tuple[float, float]]  # exterior (lon, lat)
    filed: int
    overdue_rate: float | None
    closing_rate: float | None


@dataclass
class MonthlyReport:
    month: str
    period: Period
    previous: Period
    as_of: datetime
    timezone: str
    summary: list[SummaryLine] = field(default_factory=list)
    weekly: list[service.Row] = field(default_factory=list)
    by_category: list[service.Row] = field(default_factory=list)
    by_street: list[service.Row] = field(default_factory=list)
    by_department: list[service.Row] = field(default_factory=list)
    grid: list[GridCell] = field(default_factory=list)
    composite: dict[str, list[service.Scored]] = field(default_factory=dict)
    flags: list[service.FlagView] = field(default_factory=list)

    @property
    def title(self) -> str:
        y, m = self.month.split("-")
        return f"{y}年{int(m)}月 城市管理月度考核报告"


def _ring(geometry_wkt: str) -> list[tuple[float, float]]:
    geom = wkt.loads(geometry_wkt)
    if geom.geom_type == "MultiPolygon":
        geom = max(geom.geoms, key=lambda g: g.area)
    return [(float(x), float(y)) for x, y in geom.exterior.coords]


async def grid_cells(session: AsyncSession, rows: list[service.Row]) -> list[GridCell]:
    """Every grid of the district (a quiet one with zero), with its polygon for the heat map."""
    by_id = {r.key: r for r in rows}
    cells = []
    for a in (await session.execute(select(AreaRow).where(AreaRow.layer == "grid").order_by(AreaRow.code))).scalars():
        r = by_id.get(a.id)
        cells.append(GridCell(a.id, a.code, a.name, _ring(a.geometry_wkt), r.counts.filed if r else 0,
                              r.values["overdue_rate"] if r else None, r.values["closing_rate"] if r else None))
    return cells


async def build(rt: Runtime, session: AsyncSession, *, month: str, now: datetime,
                progress: Callable[[str], None] | None = None) -> MonthlyReport:
    tz = service.tz(rt)
    period = parse_month(month, tz)
    prev = previous_month(period, tz)
    rep = MonthlyReport(period.label, period, prev, now, rt.settings.timezone)

    def step(name: str) -> None:
        if progress:
            progress(name)

    cur = await service.indicator_table(rt, session, period=period, now=now)
    step(STEPS[0])
    before = await service.indicator_table(rt, session, period=prev, now=now)
    step(STEPS[1])
    rep.summary = [SummaryLine(i.key, i.zh, i.en, i.kind, i.better, cur.total.values[i.key],
                               before.total.values[i.key], change(cur.total.values[i.key], before.total.values[i.key]))
                   for i in INDICATORS]
    parts = await service.breakdowns(rt, session, period=period, now=now,
                                     bys=("week", "category", "street", "department", "grid"))
    got = {r.key: r for r in parts["week"]}
    # Every week of the month appears, a quiet one with zeros: a trend line must not skip a week.
    rep.weekly = [got.get(w.index) or service.Row(w.index, w.label, Counts(), indicators(Counts()))
                  for w in weeks(period, tz)]
    step(STEPS[2])
    rep.by_category = sorted(parts["category"], key=lambda r: (-r.counts.filed, r.label))
    step(STEPS[3])
    rep.by_street = parts["street"]
    step(STEPS[4])
    rep.by_department = parts["department"]
    step(STEPS[5])
    rep.grid = await grid_cells(session, parts["grid"])
    step(STEPS[6])
    for subject in REPORT_SUBJECTS:
        rep.composite[subject] = await service.composite(rt, session, period=period, subject=subject, now=now)
    step(STEPS[7])
    rep.flags = await service.flags(rt, session, period=period, now=now)
    step(STEPS[8])
    return rep


def fmt(value: float | None, kind: str) -> str:
    """How a value reads in a table: 93.7 %, 12.5 min, 152."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "minutes":
        return f"{value:.1f} 分钟"
    return f"{value:.0f}"


def fmt_change(value: float | None, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:+.1f} 个百分点"
    if kind == "minutes":
        return f"{value:+.1f} 分钟"
    return f"{value:+.0f}"


def as_json(rep: MonthlyReport) -> dict[str, Any]:
    """The report as plain JSON-able data (console page)."""
    def row(r: service.Row) -> dict[str, Any]:
        return {"key": r.key, "label": r.label, "values": r.values, "counts": r.counts.as_dict()}

    def scored(s: service.Scored) -> dict[str, Any]:
        return {"id": s.subject_id, "name": s.label, "score": s.score.score, "grade": s.score.grade,
                "cases": s.score.cases, "parts": [p.__dict__ for p in s.score.parts]}

    return {
        "month": rep.month, "title": rep.title, "as_of": rep.as_of.isoformat(), "timezone": rep.timezone,
        "period": {"start": rep.period.start.isoformat(), "end": rep.period.end.isoformat()},
        "previous": {"month": rep.previous.label, "start": rep.previous.start.isoformat(),
                     "end": rep.previous.end.isoformat()},
        "summary": [s.__dict__ for s in rep.summary],
        "weekly": [row(r) for r in rep.weekly], "by_category": [row(r) for r in rep.by_category],
        "by_street": [row(r) for r in rep.by_street], "by_department": [row(r) for r in rep.by_department],
        "grid": [{"id": c.id, "code": c.code, "name": c.name, "filed": c.filed, "overdue_rate": c.overdue_rate,
                  "closing_rate": c.closing_rate} for c in rep.grid],
        "composite": {k: [scored(s) for s in v] for k, v in rep.composite.items()},
        "flags": [flag_json(f) for f in rep.flags],
    }


def flag_json(f: service.FlagView) -> dict[str, Any]:
    return {"rule": f.flag.rule, "title_zh": f.title_zh, "title_en": f.title_en, "subject_key": f.flag.subject_key,
            "subject": f.flag.subject, "summary": f.flag.summary, "summary_zh": f.flag.summary_zh,
            "metrics": f.flag.metrics,
            "cases": [{"case_id": c.case_id, "case_no": c.case_no, "at": c.at.isoformat() if c.at else None,
                       "why": c.why} for c in f.flag.cases],
            "review": None if f.review is None else {"decision": f.review.decision, "note": f.review.note,
                                                     "by_user_id": f.review.by_user_id,
                                                     "at": f.review.at.isoformat()}}
