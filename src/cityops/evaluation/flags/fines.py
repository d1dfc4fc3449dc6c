"""以罚代管 (fining instead of managing): a fine where the category asks for a rectification order (责令改正)
first, and none was issued before — neither earlier on the same case nor to the same party within the lookback.
Which categories ask for an order first is configuration (``flags.fine_without_order.order_first_categories``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.case.models import Case, HandlingRecord
from cityops.catalog.models import Category
from cityops.evaluation.flags.base import Context, Flag, FlagCase, by_subject
from cityops.evaluation.flags.patterns import normalise_party
from cityops.evaluation.indicators import _ts


@dataclass(frozen=True)
class Fine:
    case_id: int
    case_no: str
    officer_id: int | None
    at: datetime
    amount: float | None
    party: str | None
    category: str


@dataclass(frozen=True)
class Order:
    case_id: int
    at: datetime
    party: str | None


def fines_without_order(fines: Sequence[Fine], orders: Sequence[Order], lookback: timedelta) -> list[Fine]:
    """The pure rule: a fine is covered by an earlier order on the same case, or to the same party within
    ``lookback`` before it."""
    out = []
    for f in fines:
        party = normalise_party(f.party)
        covered = any(o.at < f.at and (o.case_id == f.case_id or (
            party is not None and normalise_party(o.party) == party and f.at - o.at <= lookback)) for o in orders)
        if not covered:
            out.append(f)
    return out


async def fine_without_order(session: AsyncSession, ctx: Context) -> list[Flag]:
    cfg = ctx.cfg.flags.fine_without_order
    if not cfg.order_first_categories:
        return []
    lookback = timedelta(days=cfg.lookback_days)
    h = HandlingRecord
    codes = list(cfg.order_first_categories)
    rows = (await session.execute(
        select(h.case_id, Case.case_no, h.officer_id, h.at, h.fine_amount, h.party_name, Category.name)
        .join(Case, Case.id == h.case_id).join(Category, Category.id == Case.category_id)
        .where(h.measure == "fine", h.at >= _ts("p_start", ctx.period.start), h.at < _ts("p_end", ctx.period.end),
               or_(Category.code.in_(codes), Category.parent_code.in_(codes)))
        .order_by(h.id))).all()
    fines = [Fine(*r) for r in rows]
    if not fines:
        return []
    # Every order of the window: party names are matched after normalising (spaces, letter case) in the rule.
    order_q = select(h.case_id, h.at, h.party_name).where(
        h.measure == "rectification_order", h.at >= _ts("lookback", ctx.period.start - lookback),
        h.at < _ts("p_end", ctx.period.end))
    orders = [Order(*r) for r in (await session.execute(order_q)).all()]
    bad = fines_without_order(fines, orders, lookback)
    groups = by_subject((str(f.officer_id or "none"), FlagCase(
        f.case_id, f.case_no, f.at, f"fine {f.amount or 0:g} 元 to {f.party or 'unnamed party'} ({f.category}) "
        "without a prior rectification order")) for f in bad)
    return [Flag("fine_without_order", "officer", k, f"{len(v)} fine(s) without a prior rectification order (以罚代管)",
                 tuple(v), {"cases": len(v)}, f"{len(v)} 起罚款前未下达责令改正（以罚代管）")
            for k, v in sorted(groups.items())]
