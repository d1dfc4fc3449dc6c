"""docs/evaluation.md states every indicator's formula as the code labels it, every flag rule, every graded
subject and every configuration table — a renamed or added one fails here until the page says so."""

from __future__ import annotations

from pathlib import Path

from cityops.evaluation.config import ROLE_INDICATORS, SUBJECTS, build
from cityops.evaluation.flags import RULES
from cityops.evaluation.formulas import INDICATORS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "evaluation.md").read_text("utf-8")


def test_every_indicator_and_its_formula_is_documented() -> None:
    for i in INDICATORS:
        assert f"| `{i.key}` | {i.zh} | {i.formula} |" in DOC, i.key


def test_every_flag_rule_and_role_indicator_is_documented() -> None:
    for r in RULES:
        assert f"| `{r.key}` | {r.zh} |" in DOC, r.key
    for names in ROLE_INDICATORS.values():
        for name in names:
            assert f"`{name}`" in DOC, name


def test_every_subject_and_configuration_table_is_documented() -> None:
    for subject in SUBJECTS:
        assert subject in DOC
    cfg = build().model_dump()
    for table, body in cfg.items():
        if isinstance(body, dict):
            for key in body:
                if table in ("flags", "roles", "survey", "report"):
                    assert f"`{key}`" in DOC or key in DOC, f"{table}.{key}"
