"""Evaluation service: indicators over any period and scope, composite grades, supervision flags and their
reviews. Reads aggregate in SQL (indicators.py, roles.py, flags/); the one write here (a flag review) is audited.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.service import Principal
from cityops.catalog.models import Category
from cityops.db import writing
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.evaluation import composite as comp
from cityops.evaluation import flags as flag_rules
from cityops.evaluation import indicators as ind
from cityops.evaluation import roles
from cityops.evaluation.config import EvaluationConfig, load
from cityops.evaluation.formulas import Counts, indicators
from cityops.evaluation.labels import Labels
from cityops.evaluation.models import FlagReview
from cityops.evaluation.periods import Period, week_origin, weeks
from cityops.geo.models import AreaRow
from cityops.org.models import Department
from cityops.runtime import Runtime

COMPOSITE_SUBJECTS = ("department", "street", "community", "grid", "officer", "inspector", "intake", "dispatcher")
DECISIONS = ("acknowledged", "dismissed", "referred")


@dataclass(frozen=True)
class Row:
    key: Any
    label: str
    counts: Counts
    values: dict[str, float | None]


@dataclass(frozen=True)
class Table:
    period: Period
    scope: ind.Scope
    by: str | None
    as_of: datetime
    total: Row
    groups: list[Row]


def config(rt: Runtime) -> EvaluationConfig:
    return load(rt.settings)


def tz(rt: Runtime) -> ZoneInfo:
    return ZoneInfo(rt.settings.timezone)


def spec(rt: Runtime, period: Period, now: datetime, scope: ind.Scope | None = None) -> ind.Spec:
    local = tz(rt)
    day0 = period.start  # periods start at local midnight
    return ind.Spec(period=period, now=now, arrive_seconds=rt.settings.steps.arrive_minutes * 60,
                    feedback_seconds=rt.settings.steps.feedback_minutes * 60,
                    public_channels=config(rt).public_channels, scope=scope or ind.Scope(),
                    week_origin=week_origin(period, local), day_origin=day0)


async def check_scope(session: AsyncSession, scope: ind.Scope) -> None:
    """A scope naming something that does not exist is a 404 on ``scope_id``, not an empty report."""
    if scope.id is None:
        return
    if scope.kind in ("street", "community", "grid"):
        found = await session.scalar(select(AreaRow.layer).where(AreaRow.id == scope.id))
        ok = found == scope.kind
    elif scope.kind == "department":
        ok = await session.get(Department, scope.id) is not None
    elif scope.kind == "category":
        ok = await session.get(Category, scope.id) is not None
    else:
        from cityops.auth.models import User

        ok = await session.get(User, scope.id) is not None
    if not ok:
        raise NotFound(f"no {scope.kind} {scope.id}", field="scope_id")


async def _label_rows(rt: Runtime, session: AsyncSession, period: Period, by: str | None,
                      rows: list[tuple[Any, Counts, float | None]]) -> list[Row]:
    labels = Labels(session)
    week_labels = {w.index: w.label for w in weeks(period, tz(rt))} if by == "week" else {}
    if by in ("street", "community", "grid", "department", "officer", "category"):
        await labels.load(by, [k for k, _, _ in rows])
    out = []
    for key, c, p90 in rows:
        if by == "week":
            label = week_labels.get(key, f"week {key}")
        elif by == "day":
            label = (period.start.astimezone(tz(rt)).date() + timedelta(days=int(key))).isoformat()
        elif by is None:
            label = "全区"
        else:
            label = await labels.name(by, key)
        out.append(Row(key, label, c, indicators(c, p90)))
    return out


async def indicator_table(rt: Runtime, session: AsyncSession, *, period: Period, now: datetime,
                          scope: ind.Scope | None = None, by: str | None = None) -> Table:
    scope = scope or ind.Scope()
    await check_scope(session, scope)
    sp = spec(rt, period, now, scope)
    if by is None:
        total = (await ind.table(session, sp, None)) or [(0, Counts(), None)]
        (tot,) = await _label_rows(rt, session, period, None, total[:1])
        return Table(period, scope, by, now, tot, [])
    rows = await ind.table(session, sp, by)
    # Counts add up across groups; only the percentile needs its own pass over the whole cohort.
    summed = sum((c for _, c, _ in rows), Counts())
    p90 = (await ind.p90s(session, sp, None)).get(0)
    (tot,) = await _label_rows(rt, session, period, None, [(0, summed, p90)])
    return Table(period, scope, by, now, tot, await _label_rows(rt, session, period, by, rows))


async def breakdowns(rt: Runtime, session: AsyncSession, *, period: Period, now: datetime,
                     bys: tuple[str, ...]) -> dict[str, list[Row]]:
    """Several breakdowns of the district's cohort (one database pass on PostgreSQL), without totals."""
    tables = await ind.tables(session, spec(rt, period, now), bys)
    return {by: await _label_rows(rt, session, period, by, rows) for by, rows in tables.items()}


@dataclass(frozen=True)
class Scored:
    subject_id: Any
    label: str
    score: comp.Score
    counts: dict[str, float]


async def composite(rt: Runtime, session: AsyncSession, *, period: Period, subject: str,
                    now: datetime) -> list[Scored]:
    """Composite scores and grades of every department, area, officer or role holder in the period."""
    if subject not in COMPOSITE_SUBJECTS:
        raise InvalidInput(f"subject must be one of: {', '.join(COMPOSITE_SUBJECTS)}", field="subject")
    cfg = config(rt)
    labels = Labels(session)
    if subject in roles.ROLE_SUBJECTS:
        rows = await roles.role_rows(session, subject, period, cfg.roles)
        await labels.load("user", [r.user_id for r in rows])
        scores = comp.rank([(str(r.user_id), r.values, r.cases) for r in rows], cfg.composite[subject], cfg.grades)
        by_id = {str(r.user_id): r for r in rows}
        return [Scored(int(s.subject), await labels.name("user", int(s.subject)), s,
                       dict(by_id[s.subject].counts)) for s in scores]
    table = await ind.table(session, spec(rt, period, now), subject)
    table = [t for t in table if t[0] is not None]
    weights = cfg.composite["area" if subject in ("street", "community", "grid") else subject]
    base = [(str(k), indicators(c, p), c.due) for k, c, p in table]
    if any(t.indicator == "volume" for t in weights.terms):
        base = comp.with_volume(base, {str(k): float(c.handled_ever) for k, c, _ in table})
    scores = comp.rank(base, weights, cfg.grades)
    counts = {str(k): c.as_dict() for k, c, _ in table}
    await labels.load(subject, [k for k, _, _ in table])
    return [Scored(int(s.subject), await labels.name(subject, int(s.subject)), s, counts[s.subject])
            for s in scores]


@dataclass(frozen=True)
class FlagView:
    flag: flag_rules.Flag
    title_zh: str
    title_en: str
    review: FlagReview | None


async def flags(rt: Runtime, session: AsyncSession, *, period: Period, now: datetime,
                rule: str | None = None) -> list[FlagView]:
    if rule is not None and rule not in flag_rules.BY_KEY:
        raise InvalidInput(f"rule must be one of: {', '.join(flag_rules.BY_KEY)}", field="rule")
    ctx = flag_rules.Context(period, now, config(rt), rt.settings.steps.arrive_minutes * 60)
    found = await flag_rules.run(session, ctx, rule)
    labels = Labels(session)
    reviews = {(r.rule, r.subject_key): r for r in (await session.execute(
        select(FlagReview).where(FlagReview.period == period.label))).scalars()}
    out = []
    for f in found:
        if f.subject_kind in ("officer", "street", "community", "grid") and f.subject_id.isdigit():
            name = await labels.name("officer" if f.subject_kind == "officer" else f.subject_kind, int(f.subject_id))
        elif f.subject_kind == "officer":
            name = "（未指派）"
        else:
            name = f.subject_id
        r = flag_rules.BY_KEY[f.rule]
        out.append(FlagView(replace(f, subject=name), r.zh, r.en, reviews.get((f.rule, f.subject_key))))
    return out


async def review_flag(rt: Runtime, session: AsyncSession, *, period: Period, rule: str, subject_key: str,
                      decision: str, note: str | None, caller: Principal, now: datetime) -> FlagReview:
    """Record a supervisor's decision on a flag that is raised now (a flag that is not raised cannot be
    reviewed); one decision per flag and period."""
    if decision not in DECISIONS:
        raise InvalidInput(f"decision must be one of: {', '.join(DECISIONS)}", field="decision")
    current = {f.flag.subject_key: f.flag for f in await flags(rt, session, period=period, now=now, rule=rule)}
    flag = current.get(subject_key)
    if flag is None:
        raise NotFound(f"no '{rule}' flag for {subject_key!r} in {period.label}", field="subject_key")
    review = FlagReview(rule=rule, subject_key=subject_key, period=period.label, decision=decision, note=note,
                        case_ids=json.dumps(list(flag.case_ids)), by_user_id=caller.user_id, at=now)
    await session.rollback()  # end the read transaction; the write below is its own unit of work
    try:
        async with writing(session):
            session.add(review)
            await session.flush()
            await audit_service.append(session, now=now, actor_id=caller.user_id, action="evaluation.flag_reviewed",
                                       entity_type="flag_review", entity_id=review.id,
                                       data={"rule": rule, "subject_key": subject_key, "period": period.label,
                                             "decision": decision, "note": note, "case_ids": list(flag.case_ids)})
    except IntegrityError:
        raise Conflict(f"this flag was already reviewed for {period.label}", field="subject_key") from None
    return review
