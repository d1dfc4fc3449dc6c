"""The SQL that produces the indicator counts: one aggregate pass over the period's cases, grouped in SQL.

Cohort: cases filed (立案) in the period (``ix_cases_filed_at``) within the scope. Each row is reduced to 0/1
flags and a duration in an inner SELECT; the outer SELECT sums them per group. Nothing loops over cases in
Python, so a month of a million-case table costs one index range scan (see bench/report.py).

First arrival and first feedback come from the case row, except for reworked cases (返工 clears the row's
arrived_at / fed_back_at and the next round sets them again): those read the earliest timeline entry instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.case.models import Case, CaseEvent, CaseRequest
from cityops.catalog.models import Category
from cityops.db import UTCDateTime, dialect
from cityops.evaluation.formulas import Counts
from cityops.evaluation.models import SurveyResponse
from cityops.evaluation.periods import Period
from cityops.evaluation.sqlfn import flag, floor_int, seconds_between

SCOPES = ("district", "street", "community", "grid", "department", "officer", "category")
GROUPS = ("street", "community", "grid", "department", "officer", "category", "channel", "week", "day")
SATISFIED = ("satisfied", "basically_satisfied")


@dataclass(frozen=True)
class Scope:
    kind: str = "district"
    id: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in SCOPES:
            raise ValueError(f"scope must be one of: {', '.join(SCOPES)}")
        if (self.kind == "district") != (self.id is None):
            raise ValueError("scope_id goes with every scope except district")


@dataclass(frozen=True)
class Spec:
    """Everything one computation needs besides the session."""

    period: Period
    now: datetime  # statistics are as of this moment (deadlines not yet reached are "not yet due")
    arrive_seconds: float
    feedback_seconds: float
    public_channels: tuple[str, ...]
    scope: Scope = Scope()
    week_origin: datetime | None = None  # Monday 00:00 local of the first week (for by="week")
    day_origin: datetime | None = None  # local midnight of the first day (for by="day")


def _ts(name: str, value: datetime) -> Any:
    return bindparam(name, value, type_=UTCDateTime())


def scope_filter(scope: Scope) -> list[ColumnElement[bool]]:
    col = {"street": Case.street_id, "community": Case.community_id, "grid": Case.grid_id,
           "department": Case.department_id, "officer": Case.officer_id}.get(scope.kind)
    if col is not None:
        return [col == scope.id]
    if scope.kind == "category":
        # A class (大类) takes in its subclasses (小类) of the same edition and kind.
        parent = select(Category.edition, Category.kind, Category.code).where(Category.id == scope.id).subquery()
        ids = select(Category.id).join(parent, and_(Category.edition == parent.c.edition,
                                                    Category.kind == parent.c.kind,
                                                    or_(Category.code == parent.c.code,
                                                        Category.parent_code == parent.c.code)))
        return [Case.category_id.in_(ids)]
    return []


def group_key(by: str | None, spec: Spec) -> ColumnElement[Any]:
    if by is None:
        return literal(0)
    if by == "week":
        assert spec.week_origin is not None
        return floor_int(seconds_between(Case.filed_at, _ts("week_origin", spec.week_origin)) / 604800.0)
    if by == "day":
        assert spec.day_origin is not None
        return floor_int(seconds_between(Case.filed_at, _ts("day_origin", spec.day_origin)) / 86400.0)
    cols: dict[str, Any] = {
            "street": Case.street_id, "community": Case.community_id, "grid": Case.grid_id,
            "department": Case.department_id, "officer": Case.officer_id, "category": Case.category_id,
            "channel": Case.channel}
    if by not in cols:
        raise ValueError(f"group by one of: {', '.join(GROUPS)}")
    col: ColumnElement[Any] = cols[by]
    return col


def _first(action: str, column: Any) -> Any:
    from sqlalchemy import case

    earliest = (select(func.min(CaseEvent.at)).where(CaseEvent.case_id == Case.id, CaseEvent.action == action)
                .scalar_subquery())
    return case((Case.rework_count == 0, column), else_=earliest)


def cohort_where(spec: Spec) -> list[ColumnElement[bool]]:
    return [Case.filed_at >= _ts("p_start", spec.period.start), Case.filed_at < _ts("p_end", spec.period.end),
            *scope_filter(spec.scope)]


def _base(spec: Spec, keys: dict[str, ColumnElement[Any]]) -> Any:
    """One row per case of the cohort with its group keys and what the sums need. OFFSET 0 keeps PostgreSQL from
    inlining it into the sums, which would run each correlated lookup once per sum instead of once per case."""
    never_susp = ~exists().where(CaseRequest.case_id == Case.id, CaseRequest.kind == "suspend",
                                 CaseRequest.decision == "approved")
    return (select(*[k.label(n) for n, k in keys.items()], Case.status, Case.channel, Case.closed_at, Case.due_at,
                   Case.handled_at, Case.dispatched_at, Case.rework_count, Case.extension_count,
                   flag(never_susp).label("never_susp"), _first("arrive", Case.arrived_at).label("arrive"),
                   _first("feed_back", Case.fed_back_at).label("feedback"),
                   func.coalesce(Case.satisfaction, SurveyResponse.satisfaction).label("sat"))
            .select_from(Case).outerjoin(SurveyResponse, SurveyResponse.case_id == Case.id)
            .where(*cohort_where(spec)).offset(0).subquery())


def _sums(b: Any, spec: Spec, pg: bool) -> list[ColumnElement[Any]]:
    from sqlalchemy import case

    now = _ts("now", spec.now)
    valid = b.status != "voided"
    not_susp = b.status != "suspended"
    in_due = and_(valid, not_susp, or_(b.closed_at.isnot(None), b.due_at.is_(None), b.due_at <= now))
    timed = and_(valid, b.never_susp == 1)
    enforce = and_(timed, b.handled_at.isnot(None), b.dispatched_at.isnot(None))
    enforce_s = case((enforce, seconds_between(b.handled_at, b.dispatched_at)), else_=None)
    arrive_cut = _ts("arrive_cut", spec.now - timedelta(seconds=spec.arrive_seconds))
    fb_cut = _ts("fb_cut", spec.now - timedelta(seconds=spec.feedback_seconds))
    cols: dict[str, ColumnElement[Any]] = {
        "filed": literal(1),
        "voided": flag(~valid),
        "suspended": flag(b.status == "suspended"),
        "pending": flag(and_(valid, not_susp, b.closed_at.is_(None), b.due_at > now)),
        "closed": flag(b.closed_at.isnot(None)),
        "closed_on_time": flag(b.closed_at <= b.due_at),
        "handled": flag(and_(in_due, b.handled_at.isnot(None))),
        "handled_on_time": flag(and_(in_due, b.handled_at <= b.due_at)),
        "handled_ever": flag(and_(in_due, or_(b.handled_at.isnot(None), b.rework_count > 0))),
        "reworked": flag(and_(in_due, b.rework_count > 0)),
        "extended": flag(and_(in_due, b.extension_count > 0)),
        "overdue": flag(and_(in_due, b.due_at.isnot(None), or_(b.closed_at.is_(None), b.closed_at > b.due_at))),
        "arrive_due": flag(and_(timed, b.dispatched_at.isnot(None),
                                or_(b.arrive.isnot(None), b.dispatched_at <= arrive_cut))),
        "arrive_on_time": flag(and_(timed, b.dispatched_at.isnot(None),
                                    seconds_between(b.arrive, b.dispatched_at) <= spec.arrive_seconds)),
        "feedback_due": flag(and_(timed, b.arrive.isnot(None), or_(b.feedback.isnot(None), b.arrive <= fb_cut))),
        "feedback_on_time": flag(and_(timed, seconds_between(b.feedback, b.arrive) <= spec.feedback_seconds)),
        "enforce_n": flag(enforce),
        "enforce_seconds": enforce_s,
        "rated": flag(and_(valid, b.sat.isnot(None))),
        "satisfied": flag(and_(valid, b.sat.in_(SATISFIED))),
        "public_valid": flag(and_(valid, b.channel.in_(spec.public_channels))),
    }
    out: list[ColumnElement[Any]] = [func.sum(c).label(n) for n, c in cols.items()]
    if pg:
        # Nearest-rank p90 in the same pass: percentile_disc(0.9) is the first value whose cumulative share
        # reaches 90 % (⌈0.9·n⌉-th), and it skips the NULLs of cases not timed.
        out.append(func.percentile_disc(0.9).within_group(enforce_s).label("p90"))
    return out


def counts_select(spec: Spec, by: str | None, dialect: str = "sqlite") -> Select[Any]:
    b = _base(spec, {} if by is None else {"k": group_key(by, spec)}).c
    sums = _sums(b, spec, dialect == "postgresql")
    if by is None:  # one plain aggregate: no sort or hash by a constant key
        return select(literal(0).label("k"), *sums)
    return select(b.k, *sums).group_by(b.k)


def sets_select(spec: Spec, bys: Sequence[str]) -> Select[Any]:
    """PostgreSQL: several breakdowns in one pass (GROUPING SETS); grouping() tells which set a row is of."""
    b = _base(spec, {f"k_{by}": group_key(by, spec) for by in bys}).c
    keys = [b[f"k_{by}"] for by in bys]
    marks = [func.grouping(k).label(f"g_{by}") for k, by in zip(keys, bys, strict=True)]
    return select(*keys, *marks, *_sums(b, spec, True)).group_by(func.grouping_sets(*keys))


async def no_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT for this read transaction. The correlated lookups make the planner's cost estimate
    huge, which switches on JIT optimisation that costs seconds to save milliseconds on a month of cases."""
    if dialect(session) == "postgresql":
        from sqlalchemy import text

        await session.execute(text("SET LOCAL jit = off"))


def _is_pg(session: AsyncSession) -> bool:
    return dialect(session) == "postgresql"


async def counts(session: AsyncSession, spec: Spec, by: str | None = None) -> dict[Any, Counts]:
    """Counts per group key (key 0 when ``by`` is None). Groups without cases do not appear."""
    await no_jit(session)
    rows = (await session.execute(counts_select(spec, by, dialect(session)))).mappings().all()
    return {r["k"]: Counts.from_row(r) for r in rows}


def p90_select(spec: Spec, by: str | None, dialect: str = "sqlite") -> Select[Any]:
    """Nearest-rank p90 of enforcement time per group: PostgreSQL's percentile_disc(0.9) is exactly that rank
    (the first value whose cumulative share reaches 90 %); elsewhere a window function ranks the rows."""
    never_susp = ~exists().where(CaseRequest.case_id == Case.id, CaseRequest.kind == "suspend",
                                 CaseRequest.decision == "approved")
    inner = (select(group_key(by, spec).label("k"),
                    seconds_between(Case.handled_at, Case.dispatched_at).label("s"))
             .where(*cohort_where(spec), Case.status != "voided", never_susp, Case.handled_at.isnot(None),
                    Case.dispatched_at.isnot(None)).subquery())
    if dialect == "postgresql":
        pct = func.percentile_disc(0.9).within_group(inner.c.s)
        return select(literal(0).label("k"), pct) if by is None else select(inner.c.k, pct).group_by(inner.c.k)
    ranked = select(inner.c.k, inner.c.s,
                    func.row_number().over(partition_by=inner.c.k, order_by=inner.c.s).label("rn"),
                    func.count().over(partition_by=inner.c.k).label("n")).subquery()
    return select(ranked.c.k, ranked.c.s).where(ranked.c.rn == (9 * ranked.c.n + 9) // 10)


async def p90s(session: AsyncSession, spec: Spec, by: str | None = None) -> dict[Any, float]:
    await no_jit(session)
    q = p90_select(spec, by, dialect(session))
    return {k: float(s) for k, s in (await session.execute(q)).all() if s is not None}


Row = tuple[Any, Counts, float | None]


def _ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r[0] is None, str(r[0]) if not isinstance(r[0], int) else f"{r[0]:012d}"))


async def table(session: AsyncSession, spec: Spec, by: str | None = None) -> list[Row]:
    """(group key, counts, p90 seconds) for every group, ordered by key."""
    await no_jit(session)
    if _is_pg(session):
        rows = (await session.execute(counts_select(spec, by, "postgresql"))).mappings().all()
        return _ordered([(r["k"], Counts.from_row(r), None if r["p90"] is None else float(r["p90"])) for r in rows])
    c = await counts(session, spec, by)
    p = await p90s(session, spec, by)
    return _ordered([(k, v, p.get(k)) for k, v in c.items()])


async def tables(session: AsyncSession, spec: Spec, bys: Sequence[str]) -> dict[str, list[Row]]:
    """Several breakdowns of one cohort: one pass on PostgreSQL, one per breakdown elsewhere."""
    if not _is_pg(session) or len(bys) < 2:
        return {by: await table(session, spec, by) for by in bys}
    await no_jit(session)
    out: dict[str, list[Row]] = {by: [] for by in bys}
    for r in (await session.execute(sets_select(spec, bys))).mappings().all():
        by = next(by for by in bys if r[f"g_{by}"] == 0)
        out[by].append((r[f"k_{by}"], Counts.from_row(r), None if r["p90"] is None else float(r["p90"])))
    return {by: _ordered(rows) for by, rows in out.items()}
