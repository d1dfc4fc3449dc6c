"""Supervision flags (全过程监督): each rule is a query plus a pure predicate, and every flag lists its cases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cityops.evaluation.flags.base import Context, Flag, FlagCase
from cityops.evaluation.flags.equity import equity
from cityops.evaluation.flags.evidence import far_arrival, no_after_photo, no_position
from cityops.evaluation.flags.fines import fine_without_order
from cityops.evaluation.flags.patterns import recurrence, repeated_voids

__all__ = ["RULES", "Context", "Flag", "FlagCase", "Rule", "run"]


@dataclass(frozen=True)
class Rule:
    key: str
    zh: str
    en: str
    check: Callable[[AsyncSession, Context], Awaitable[list[Flag]]]


RULES: tuple[Rule, ...] = (
    Rule("no_position", "结案无到场定位", "closed without on-scene position evidence", no_position),
    Rule("no_after_photo", "结案无处置后照片", "closed without an after-photo", no_after_photo),
    Rule("far_arrival", "手动到场远离案发点", "manual arrival far from the case", far_arrival),
    Rule("repeated_voids", "反复作废/回退", "repeated voids or returns (same place, party or officer)",
         repeated_voids),
    Rule("equity", "响应时间区域差异", "response-time gap between areas (equity)", equity),
    Rule("recurrence", "结案后短期复发", "same problem recurring soon after closure", recurrence),
    Rule("fine_without_order", "以罚代管", "fine without a prior rectification order", fine_without_order),
)
BY_KEY = {r.key: r for r in RULES}


async def run(session: AsyncSession, ctx: Context, only: str | None = None) -> list[Flag]:
    from cityops.evaluation.indicators import no_jit

    await no_jit(session)
    out: list[Flag] = []
    for rule in RULES:
        if only is not None and rule.key != only:
            continue
        if not getattr(ctx.cfg.flags, rule.key).enabled:
            continue
        out += await rule.check(session, ctx)
    return out
