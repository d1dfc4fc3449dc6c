"""The indicator formulas as pure functions over counts (the counts come from SQL, see indicators.py).

Every rate is a share in 0..1, or None when its denominator is 0 ("no case to judge", never 0 % or 100 %).
docs/evaluation.md lists the same formulas; ``INDICATORS`` carries each one's names and formula text so the docs,
the API and the reports label them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Counts:
    """What SQL counts for one group of cases (the cohort: cases filed 立案 in the period, in scope)."""

    filed: int = 0  # 立案数
    voided: int = 0  # of them voided (作废) since
    suspended: int = 0  # of them suspended (挂账) now
    pending: int = 0  # open and their deadline not yet reached (未到期)
    closed: int = 0  # 结案数
    closed_on_time: int = 0  # closed_at ≤ due_at
    handled: int = 0  # handled (处置) and not sent back since
    handled_on_time: int = 0  # handled_at ≤ due_at
    handled_ever: int = 0  # handled at least once (a rework resets handled_at)
    reworked: int = 0  # rework_count > 0
    extended: int = 0  # extension_count > 0
    overdue: int = 0  # due and not closed by its deadline
    arrive_due: int = 0  # dispatched, never suspended, arrival known or its 15 minutes over
    arrive_on_time: int = 0  # first arrival ≤ 15 min after dispatch
    feedback_due: int = 0  # arrived, never suspended, feedback known or its 30 minutes over
    feedback_on_time: int = 0  # first feedback ≤ 30 min after first arrival
    enforce_n: int = 0  # handled, never suspended: the cases timed for enforcement time
    enforce_seconds: float = 0.0  # Σ (handled_at − dispatched_at)
    rated: int = 0  # rated by the resident, a supervisor or a survey
    satisfied: int = 0  # 满意 + 基本满意
    public_valid: int = 0  # not voided and reported by the public (监督举报)

    @property
    def due(self) -> int:
        """应结案数 = filed − voided − suspended − not yet due."""
        return self.filed - self.voided - self.suspended - self.pending

    @property
    def valid(self) -> int:
        return self.filed - self.voided

    def __add__(self, other: Counts) -> Counts:
        return Counts(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Counts:
        kw: dict[str, Any] = {}
        for f in fields(cls):
            v = row.get(f.name)
            kw[f.name] = float(v or 0) if f.name == "enforce_seconds" else int(v or 0)
        return cls(**kw)

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "due": self.due}


def ratio(num: float, den: float) -> float | None:
    return None if den <= 0 else num / den


@dataclass(frozen=True)
class Indicator:
    key: str
    zh: str
    en: str
    kind: str  # count | rate | minutes
    formula: str
    better: str = "higher"  # higher | lower | none


INDICATORS: tuple[Indicator, ...] = (
    Indicator("filed", "立案数", "cases filed", "count", "cases filed (立案) in the period", "none"),
    Indicator("due", "应结案数", "cases due", "count",
              "filed − voided − suspended now − open with deadline not reached", "none"),
    Indicator("closed", "结案数", "cases closed", "count",
              "due cases closed (结案) by the time of computation", "none"),
    Indicator("closing_rate", "结案率", "closing rate", "rate", "closed ÷ due"),
    Indicator("on_time_closing_rate", "按期结案率", "on-time closing rate", "rate",
              "closed with closed_at ≤ due_at ÷ due"),
    Indicator("handling_rate", "处置率", "handling rate", "rate", "handled ÷ due"),
    Indicator("on_time_handling_rate", "按期处置率", "on-time handling rate", "rate",
              "handled with handled_at ≤ due_at ÷ due"),
    Indicator("rework_rate", "返工率", "rework rate", "rate", "reworked (返工 ≥ 1) ÷ handled at least once", "lower"),
    Indicator("extension_rate", "延期率", "extension rate", "rate", "extended (延期 ≥ 1) ÷ due", "lower"),
    Indicator("overdue_rate", "超期率", "overdue rate", "rate",
              "due cases not closed by their deadline (closed late, or open past due_at) ÷ due", "lower"),
    Indicator("on_time_arrival_rate", "按时到场率", "on-time arrival rate", "rate",
              "first arrival ≤ arrive limit (15 min) after dispatch ÷ dispatched cases whose limit is over"),
    Indicator("on_time_feedback_rate", "按时反馈率", "on-time feedback rate", "rate",
              "first feedback ≤ feedback limit (30 min) after first arrival ÷ arrived cases whose limit is over"),
    Indicator("avg_enforcement_minutes", "平均执法时长", "average enforcement time", "minutes",
              "mean of (handled_at − dispatched_at) over handled cases, in minutes", "lower"),
    Indicator("p90_enforcement_minutes", "执法时长P90", "p90 enforcement time", "minutes",
              "nearest-rank 90th percentile of (handled_at − dispatched_at), in minutes", "lower"),
    Indicator("satisfaction_rate", "群众满意率", "resident satisfaction rate", "rate",
              "(满意 + 基本满意) ÷ rated cases"),
    Indicator("public_report_rate", "监督举报率", "supervision report rate", "rate",
              "valid public reports (public, hotline, Open311) ÷ valid filed cases (filed − voided)", "none"),
)
BY_KEY = {i.key: i for i in INDICATORS}


def indicators(c: Counts, p90_seconds: float | None = None) -> dict[str, float | None]:
    """All indicators of one group from its counts (and its p90, which is not additive so SQL ranks it)."""
    return {
        "filed": c.filed,
        "due": c.due,
        "closed": c.closed,
        "closing_rate": ratio(c.closed, c.due),
        "on_time_closing_rate": ratio(c.closed_on_time, c.due),
        "handling_rate": ratio(c.handled, c.due),
        "on_time_handling_rate": ratio(c.handled_on_time, c.due),
        "rework_rate": ratio(c.reworked, c.handled_ever),
        "extension_rate": ratio(c.extended, c.due),
        "overdue_rate": ratio(c.overdue, c.due),
        "on_time_arrival_rate": ratio(c.arrive_on_time, c.arrive_due),
        "on_time_feedback_rate": ratio(c.feedback_on_time, c.feedback_due),
        "avg_enforcement_minutes": None if c.enforce_n == 0 else c.enforce_seconds / c.enforce_n / 60.0,
        "p90_enforcement_minutes": None if p90_seconds is None else p90_seconds / 60.0,
        "satisfaction_rate": ratio(c.satisfied, c.rated),
        "public_report_rate": ratio(c.public_valid, c.valid),
    }


def p90_rank(n: int) -> int:
    """1-based nearest rank of the 90th percentile among n values: ⌈0.9·n⌉ (integer arithmetic, as in SQL)."""
    return (9 * n + 9) // 10


def p90(values: Iterable[float]) -> float | None:
    """Nearest-rank p90: the smallest value with at least 90 % of the values at or below it."""
    xs: Sequence[float] = sorted(values)
    return None if not xs else xs[p90_rank(len(xs)) - 1]


def change(current: float | None, previous: float | None) -> float | None:
    """Month-on-month change: percentage points for rates, plain difference otherwise (None if either missing)."""
    return None if current is None or previous is None else current - previous
