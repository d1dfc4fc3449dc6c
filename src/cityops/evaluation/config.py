"""Evaluation configuration: weights, grade bands, flag thresholds and survey sampling, kept out of code.

The defaults ship as package data (``evaluation/data/evaluation.toml``). A bureau overrides any key through
``CITYOPS_EVALUATION_FILE`` (a TOML file) or ``[evaluation]`` in cityops.toml (``Settings.evaluation``); tables
merge key by key over the defaults, lists replace. A bad value fails at load time naming the key.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cityops.config import Settings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleLimits(_Strict):
    intake_minutes: float = Field(gt=0)
    verify_minutes: float = Field(gt=0)
    dispatch_minutes: float = Field(gt=0)
    check_minutes: float = Field(gt=0)


class Band(_Strict):
    grade: str = Field(min_length=1, max_length=8)
    min: float = Field(ge=0, le=100)


class Grades(_Strict):
    bands: tuple[Band, ...]
    floor: str = Field(min_length=1, max_length=8)

    @field_validator("bands")
    @classmethod
    def _descending(cls, v: tuple[Band, ...]) -> tuple[Band, ...]:
        mins = [b.min for b in v]
        if mins != sorted(mins, reverse=True) or len(set(mins)) != len(mins):
            raise ValueError("grade bands must be listed best first with strictly falling minimums")
        return v


class Term(_Strict):
    indicator: str
    weight: float = Field(gt=0)
    invert: bool = False


class Composite(_Strict):
    min_cases: int = Field(ge=0, default=1)
    terms: tuple[Term, ...] = Field(min_length=1)


class FlagSwitch(_Strict):
    enabled: bool = True


class NoPosition(FlagSwitch):
    actions: tuple[str, ...] = ("arrive", "handle")


class FarArrival(FlagSwitch):
    max_distance_m: float = Field(gt=0)


class RepeatedVoids(FlagSwitch):
    min_cases: int = Field(ge=2)
    radius_m: float = Field(gt=0)


class Equity(FlagSwitch):
    layers: tuple[str, ...]
    min_cases: int = Field(ge=1)
    max_ratio: float = Field(gt=1)
    min_gap_minutes: float = Field(ge=0)

    @field_validator("layers")
    @classmethod
    def _layers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if x not in ("street", "community", "grid")]
        if bad:
            raise ValueError(f"equity layers are street, community or grid, not {bad[0]!r}")
        return v


class Recurrence(FlagSwitch):
    radius_m: float = Field(gt=0)
    within_days: float = Field(gt=0)


class FineWithoutOrder(FlagSwitch):
    order_first_categories: tuple[str, ...]
    lookback_days: float = Field(gt=0)


class Flags(_Strict):
    no_position: NoPosition
    no_after_photo: FlagSwitch
    far_arrival: FarArrival
    repeated_voids: RepeatedVoids
    equity: Equity
    recurrence: Recurrence
    fine_without_order: FineWithoutOrder


class Survey(_Strict):
    callback_channels: tuple[str, ...]
    callback_rate: float = Field(ge=0, le=1)
    callback_min: int = Field(ge=0)
    callback_max: int = Field(ge=0)
    token_days: float = Field(gt=0)

    @model_validator(mode="after")
    def _bounds(self) -> Survey:
        if self.callback_min > self.callback_max:
            raise ValueError("callback_min must not exceed callback_max")
        return self


class Report(_Strict):
    font: str = ""
    font_index: int = Field(ge=0, default=0)


SUBJECTS = ("department", "area", "officer", "inspector", "intake", "dispatcher")
ROLE_INDICATORS = {
    "inspector": ("valid_report_rate", "on_time_verify_rate", "on_time_check_rate"),
    "intake": ("on_time_register_rate", "confirmed_rate"),
    "dispatcher": ("on_time_dispatch_rate", "dispatch_accuracy"),
}


def allowed_terms(subject: str) -> tuple[str, ...]:
    """Indicators a composite term of this subject may name: shares in 0..1 only (not counts or minutes)."""
    from cityops.evaluation.formulas import INDICATORS

    if subject in ROLE_INDICATORS:
        return ROLE_INDICATORS[subject]
    return ("volume", *(i.key for i in INDICATORS if i.kind == "rate"))


class EvaluationConfig(_Strict):
    public_channels: tuple[str, ...]
    roles: RoleLimits
    grades: Grades
    composite: dict[str, Composite]
    flags: Flags
    survey: Survey
    report: Report = Report()

    @field_validator("composite")
    @classmethod
    def _subjects(cls, v: dict[str, Composite]) -> dict[str, Composite]:
        missing = [s for s in SUBJECTS if s not in v]
        if missing:
            raise ValueError(f"composite weights missing for: {', '.join(missing)}")
        for subject, c in v.items():
            if subject not in SUBJECTS:
                raise ValueError(f"unknown composite subject {subject!r}; subjects are: {', '.join(SUBJECTS)}")
            for t in c.terms:
                if t.indicator not in allowed_terms(subject):
                    raise ValueError(f"composite.{subject}: unknown indicator {t.indicator!r}; "
                                     f"use one of: {', '.join(allowed_terms(subject))}")
        return v


class ConfigError(ValueError):
    """The evaluation configuration is unreadable or invalid; the message names the file and key."""


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge: tables merge key by key, anything else (lists included) replaces."""
    out = dict(base)
    for k, v in override.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _defaults() -> dict[str, Any]:
    return tomllib.loads((files("cityops.evaluation") / "data" / "evaluation.toml").read_text("utf-8"))


def build(*overrides: dict[str, Any], source: str = "settings") -> EvaluationConfig:
    data = _defaults()
    for o in overrides:
        data = merge(data, o)
    try:
        return EvaluationConfig.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"evaluation configuration ({source}): {where}: {first['msg']}") from e


@lru_cache(maxsize=8)
def _load(file: str | None, inline: str) -> EvaluationConfig:
    import json

    layers: list[dict[str, Any]] = []
    if file:
        path = Path(file)
        try:
            layers.append(tomllib.loads(path.read_text("utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"evaluation configuration {path}: {e}") from e
    if inline != "{}":
        layers.append(json.loads(inline))
    return build(*layers, source=file or "settings")


def load(settings: Settings) -> EvaluationConfig:
    """The configuration in force for these settings (cached per file + inline override)."""
    import json

    file = str(settings.evaluation_file) if settings.evaluation_file else None
    return _load(file, json.dumps(settings.evaluation, sort_keys=True))
