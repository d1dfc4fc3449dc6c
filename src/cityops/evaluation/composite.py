"""Composite evaluation (综合评价), pure: weighted scores out of 100 and grade bands, all from configuration.

score = 100 × Σ wᵢ·vᵢ ÷ Σ wᵢ over the terms whose indicator has a value (vᵢ in 0..1, or 1 − vᵢ when the term is
inverted). A term without a value (no case to judge it by) drops out and the others are rescaled, so a department
is neither rewarded nor punished for work it was never given. ``volume`` is the subject's handled cases divided by
the largest handled count among the subjects compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cityops.evaluation.config import Composite, Grades


@dataclass(frozen=True)
class Part:
    indicator: str
    weight: float
    value: float | None  # the indicator as computed (None: no data)
    points: float | None  # weight × (value or 1 − value); None when the term dropped out


@dataclass(frozen=True)
class Score:
    subject: str
    cases: int
    score: float | None  # 0..100; None below min_cases or with no term available
    grade: str | None
    parts: tuple[Part, ...]


def grade_of(score: float, grades: Grades) -> str:
    for band in grades.bands:
        if score >= band.min:
            return band.grade
    return grades.floor


def score_one(subject: str, values: Mapping[str, float | None], cases: int, weights: Composite,
              grades: Grades) -> Score:
    parts: list[Part] = []
    got = total = 0.0
    for term in weights.terms:
        v = values.get(term.indicator)
        if v is None:
            parts.append(Part(term.indicator, term.weight, None, None))
            continue
        v = min(1.0, max(0.0, float(v)))
        pts = term.weight * ((1.0 - v) if term.invert else v)
        parts.append(Part(term.indicator, term.weight, v, pts))
        got += pts
        total += term.weight
    if cases < weights.min_cases or total == 0:
        return Score(subject, cases, None, None, tuple(parts))
    score = round(100.0 * got / total, 2)
    return Score(subject, cases, score, grade_of(score, grades), tuple(parts))


def with_volume(rows: Sequence[tuple[str, Mapping[str, float | None], int]],
                volume_of: Mapping[str, float]) -> list[tuple[str, dict[str, float | None], int]]:
    """Add ``volume`` (share of the largest volume among the rows) to each row's indicator values."""
    top = max(volume_of.values(), default=0.0)
    return [(s, {**v, "volume": (volume_of.get(s, 0.0) / top) if top > 0 else None}, n) for s, v, n in rows]


def rank(rows: Sequence[tuple[str, Mapping[str, float | None], int]], weights: Composite,
         grades: Grades) -> list[Score]:
    """Score every subject; best first, unscored last."""
    scored = [score_one(s, v, n, weights, grades) for s, v, n in rows]
    return sorted(scored, key=lambda x: (x.score is None, -(x.score or 0.0), x.subject))
