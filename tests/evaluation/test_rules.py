"""The pure parts: formulas, percentile, composite scores and grade bands from configuration, configuration
overrides, periods and weeks, call-back sampling, and each flag's predicate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cityops.config import Settings
from cityops.evaluation.composite import rank, score_one, with_volume
from cityops.evaluation.config import ConfigError, build, load
from cityops.evaluation.flags.equity import AreaTimes, gaps
from cityops.evaluation.flags.evidence import Arrival, far_arrivals
from cityops.evaluation.flags.fines import Fine, Order, fines_without_order
from cityops.evaluation.flags.patterns import Dropped, Pair, recurrences, repeated
from cityops.evaluation.formulas import Counts, indicators, p90
from cityops.evaluation.periods import PeriodError, parse_month, previous_month, weeks
from cityops.evaluation.survey import sample_callbacks, sample_size

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 10, 1, tzinfo=UTC)


def test_rates_are_shares_of_their_denominators() -> None:
    # 972 filed, 911 closed: the published check figure of 93.72 %.
    v = indicators(Counts(filed=972, closed=911, closed_on_time=900))
    assert round(v["closing_rate"] * 100, 2) == 93.72  # type: ignore[operator]
    assert v["rework_rate"] is None and v["avg_enforcement_minutes"] is None  # nothing to judge, not 0 %
    assert Counts(filed=10, voided=1, suspended=2, pending=3).due == 4


def test_p90_is_the_nearest_rank() -> None:
    assert p90([]) is None
    assert p90([7.0]) == 7.0
    assert p90(range(1, 11)) == 9  # ⌈0.9 × 10⌉ = 9th
    assert p90(range(1, 12)) == 10  # ⌈9.9⌉ = 10th
    assert p90([30, 140, 35, 55]) == 140


def test_composite_scores_and_bands() -> None:
    cfg = build()
    w = cfg.composite["department"]
    # 10·0.5 + 30·0.9 + 30·0.8 + 30·(1 − 0.1) = 5 + 27 + 24 + 27 = 83 → B.
    s = score_one("x", {"volume": 0.5, "closing_rate": 0.9, "on_time_handling_rate": 0.8, "rework_rate": 0.1}, 12, w,
                  cfg.grades)
    assert (s.score, s.grade) == (83.0, "B")
    # Without a rework figure that term drops out: (5 + 27 + 24) ÷ 70 × 100 = 80 → B.
    s = score_one("x", {"volume": 0.5, "closing_rate": 0.9, "on_time_handling_rate": 0.8}, 12, w, cfg.grades)
    assert s.score == 80.0
    assert [cfg.grades.bands[i].grade for i in range(4)] == ["A", "B", "C", "D"]
    for score, grade in ((90, "A"), (89.99, "B"), (75, "B"), (60, "C"), (40, "D"), (39.9, "E")):
        assert score_one("x", {"closing_rate": score / 100}, 1, cfg.composite["area"].model_copy(
            update={"terms": (cfg.composite["area"].terms[0],)}), cfg.grades).grade == grade
    ranked = rank(with_volume([("a", {"closing_rate": 1.0}, 3), ("b", {"closing_rate": 1.0}, 0)],
                              {"a": 4.0, "b": 2.0}), w, cfg.grades)
    assert [(r.subject, r.score) for r in ranked] == [("a", 100.0), ("b", None)]  # b is below min_cases


def test_configuration_overrides_merge_over_the_defaults(tmp_path: Path) -> None:
    file = tmp_path / "ev.toml"
    file.write_text('[grades]\nbands = [{grade = "优", min = 85}, {grade = "良", min = 70}]\nfloor = "差"\n'
                    '[flags.equity]\nmax_ratio = 2.0\n', "utf-8")
    cfg = load(Settings(evaluation_file=file, evaluation={"flags": {"recurrence": {"within_days": 3}}}))
    assert [b.grade for b in cfg.grades.bands] == ["优", "良"] and cfg.grades.floor == "差"
    assert cfg.flags.equity.max_ratio == 2.0 and cfg.flags.equity.min_cases == 5  # the rest of the table kept
    assert cfg.flags.recurrence.within_days == 3
    with pytest.raises(ConfigError, match="flags.equity.max_ratio"):
        build({"flags": {"equity": {"max_ratio": 0.5}}})
    with pytest.raises(ConfigError, match="unknown indicator 'closng_rate'"):
        build({"composite": {"officer": {"terms": [{"indicator": "closng_rate", "weight": 1}]}}})
    with pytest.raises(ConfigError, match=str(tmp_path / "missing.toml")):
        load(Settings(evaluation_file=tmp_path / "missing.toml"))


def test_months_and_weeks_in_local_time() -> None:
    oct_ = parse_month("2026-10", TZ)
    assert oct_.start == datetime(2026, 9, 30, 16, tzinfo=UTC) and oct_.end == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert previous_month(parse_month("2026-01", TZ), TZ).label == "2025-12"
    assert [w.label for w in weeks(parse_month("2026-02", TZ), TZ)] == [
        "02-01~02-01", "02-02~02-08", "02-09~02-15", "02-16~02-22", "02-23~02-28"]
    for bad in ("2026-13", "26-10", "2026/10", ""):
        with pytest.raises(PeriodError):
            parse_month(bad, TZ)


def test_callback_sample_is_reproducible_and_bounded() -> None:
    cfg = build().survey  # 20 %, at least 5, at most 50
    assert [sample_size(n, cfg) for n in (0, 3, 10, 30, 100, 1000)] == [0, 3, 5, 6, 20, 50]
    ids = list(range(100, 140))
    a = sample_callbacks(ids, cfg, "410802:2026-10")
    assert a == sample_callbacks(list(reversed(ids)), cfg, "410802:2026-10") and len(a) == 8 and a == sorted(a)
    assert a != sample_callbacks(ids, cfg, "410802:2026-11")


def test_far_arrival_predicate() -> None:
    near = Arrival(1, "n", 7, T0, 35.0, 113.0, 35.0, 113.003)  # ≈ 273 m east
    far = Arrival(2, "f", 7, T0, 35.0, 113.0, 35.0, 113.004)  # ≈ 364 m
    assert [(a.case_id, round(d)) for a, d in far_arrivals([near, far], 300)] == [(2, 364)]


def test_repeated_voids_predicate() -> None:
    def d(i: int, lat: float, officer: int | None = None, party: str | None = None) -> Dropped:
        return Dropped(i, f"n{i}", "void", T0 + timedelta(hours=i), lat, 113.0, officer, party)

    items = [d(1, 35.0, 9, "鑫隆 酒楼"), d(2, 35.0005, None, "鑫隆酒楼"), d(3, 35.0008, 9, None),
             d(4, 35.01, 9, "鑫隆酒楼"), d(5, 35.02, 8)]
    got = {(k, s): [x.case_id for x in g] for k, s, g in repeated(items, 3, 100)}
    # 1–3 lie within 100 m of case 1; the party is the same once spaces are ignored; officer 9 asked 3 times.
    assert got == {("place", "35.00000,113.00000"): [1, 2, 3], ("party", "鑫隆酒楼"): [1, 2, 4],
                   ("officer", "9"): [1, 3, 4]}


def test_recurrence_predicate() -> None:
    def p(hours: float, dlat: float) -> Pair:
        return Pair(1, "a", T0, 2, "b", T0 + timedelta(hours=hours), 35.0, 113.0, 35.0 + dlat, 113.0)

    got = recurrences([p(30, 0.0003), p(24 * 8, 0.0), p(2, 0.001)], 50, timedelta(days=7))
    assert [(x.created_at - T0).total_seconds() / 3600 for x in got] == [30]  # 33 m away, 30 h later


def test_fine_predicate() -> None:
    f = [Fine(1, "a", 7, T0, 500, "福兴 烟酒店", "店外经营"), Fine(2, "b", 7, T0, 200, None, "店外经营"),
         Fine(3, "c", 7, T0, 200, "华盛超市", "店外经营")]
    orders = [Order(9, T0 - timedelta(days=10), "福兴烟酒店"),  # same party, 10 days before: covered
              Order(3, T0 + timedelta(hours=1), None)]  # same case, but after the fine: not covered
    assert [x.case_id for x in fines_without_order(f, orders, timedelta(days=90))] == [2, 3]
    assert [x.case_id for x in fines_without_order(f, orders, timedelta(days=5))] == [1, 2, 3]


def test_equity_predicate() -> None:
    areas = [AreaTimes(1, 10, 10 * 600), AreaTimes(2, 10, 10 * 660), AreaTimes(3, 6, 6 * 3000)]
    got = gaps(areas, min_cases=5, max_ratio=1.5, min_gap_s=600)
    # Area 3: 50 min against the others' 10.5 min. Area 1 and 2 are not slower than the rest.
    assert [(g.area_id, round(g.rest_mean_s)) for g in got] == [(3, 630)]
    assert gaps(areas, min_cases=7, max_ratio=1.5, min_gap_s=600) == []  # too few cases in area 3
