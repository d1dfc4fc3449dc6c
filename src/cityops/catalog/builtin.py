"""Built-in catalogue of components (部件) and events/matters (事件/事项) with default filing conditions.

The data ships as ``cityops/catalog/data/catalog.json`` and covers two editions of the national standard:
GB/T 30428.2-2013 (4-digit class+subclass codes) and its reported successor GB/T 47678.5-2026 (5-digit codes,
"事件" renamed "事项"; matters are stored with kind ``"event"`` so both editions share one vocabulary).
The file is deliberately partial: a bureau imports its own full 立案标准 (see ``filing_import``).

Categories are identified by ``(edition, kind, code)``: the old edition reuses 0102 for both 污水井盖
(component) and 暴露垃圾 (event), and the new edition reuses 01037 for 路灯 (component) and 路灯异常 (matter).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from cityops.deadlines.units import TimeUnit, parse_unit

OLD_EDITION = "GB/T 30428.2-2013"
NEW_EDITION = "GB/T 47678.5-2026"
DEFAULT_EDITION = NEW_EDITION

CLASS_CODE_LENGTH = 2
# Subclass code = 2-digit class + edition-specific subclass digits.
SUBCLASS_CODE_LENGTHS: Mapping[str, int] = {OLD_EDITION: 4, NEW_EDITION: 5}

Kind = Literal["component", "event"]
Level = Literal["class", "subclass"]
KINDS: tuple[Kind, ...] = ("component", "event")
LEVELS: tuple[Level, ...] = ("class", "subclass")

# Default routing targets used by the built-in data; a bureau's org tree may add more departments.
DEPARTMENTS: Mapping[str, str] = {
    "enforcement": "执法大队",
    "sanitation": "环卫",
    "municipal": "市政",
    "landscape": "园林",
}


class CatalogDataError(ValueError):
    """The catalogue data is inconsistent; ``path`` says where, e.g. ``GB/T 30428.2-2013 event 0102``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """One filing condition (立案条件): when to file, how long handling may take, when to close."""

    code: str
    description: str
    deadline_value: float
    deadline_unit: TimeUnit
    closing_condition: str


@dataclass(frozen=True, slots=True)
class CategorySpec:
    """A class (大类) or subclass (小类) of components or events/matters in one edition."""

    edition: str
    code: str
    kind: Kind
    level: Level
    parent_code: str | None
    name: str
    name_en: str
    department_code: str | None
    keywords: tuple[str, ...]
    conditions: tuple[ConditionSpec, ...]
    # False where the public sources themselves flag the entry as unconfirmed.
    verified: bool = True


@dataclass(frozen=True, slots=True)
class EditionSpec:
    """One edition of the standard with its categories (classes before their subclasses)."""

    code: str
    name: str
    code_format: str
    categories: tuple[CategorySpec, ...]
    partial: bool = True
    note: str = ""

    def find(self, code: str, kind: Kind) -> CategorySpec | None:
        """Look a category up by code; ``kind`` is needed because codes repeat across kinds."""
        for category in self.categories:
            if category.code == code and category.kind == kind:
                return category
        return None

    def subclasses(self) -> tuple[CategorySpec, ...]:
        return tuple(c for c in self.categories if c.level == "subclass")


def subclass_code_length(edition: str) -> int:
    """Digits of a subclass code in ``edition``; raises ``KeyError`` for an edition cityops does not know."""
    return SUBCLASS_CODE_LENGTHS[edition]


def load_builtin() -> list[EditionSpec]:
    """Read and validate the packaged catalogue. Returns a new list each call; the specs are immutable."""
    return list(_load_cached())


@cache
def _load_cached() -> tuple[EditionSpec, ...]:
    text = resources.files("cityops.catalog").joinpath("data", "catalog.json").read_text(encoding="utf-8")
    return tuple(parse_catalog(json.loads(text)))


def parse_catalog(data: Mapping[str, Any]) -> list[EditionSpec]:
    """Turn catalogue JSON into specs, raising ``CatalogDataError`` at the first inconsistency.

    Separate from ``load_builtin`` so the validation can be exercised with hand-made data.
    """
    partial = data.get("partial")
    if not isinstance(partial, bool):
        raise CatalogDataError("catalog", "'partial' must be true or false")
    note = _optional_str(data, "note", "catalog")
    editions = data.get("editions")
    if not isinstance(editions, list) or not editions:
        raise CatalogDataError("catalog", "'editions' must be a non-empty list")
    result: list[EditionSpec] = []
    seen: set[str] = set()
    for raw in editions:
        edition = _parse_edition(raw, partial=partial, catalog_note=note)
        if edition.code in seen:
            raise CatalogDataError(edition.code, "edition listed twice")
        seen.add(edition.code)
        result.append(edition)
    return result


def _parse_edition(raw: Any, *, partial: bool, catalog_note: str) -> EditionSpec:
    if not isinstance(raw, Mapping):
        raise CatalogDataError("catalog", "each edition must be an object")
    code = _required_str(raw, "code", "edition")
    if code not in SUBCLASS_CODE_LENGTHS:
        known = ", ".join(SUBCLASS_CODE_LENGTHS)
        raise CatalogDataError(code, f"unknown edition; known: {known}")
    raw_categories = raw.get("categories")
    if not isinstance(raw_categories, list):
        raise CatalogDataError(code, "'categories' must be a list")
    categories = tuple(_parse_category(code, item) for item in raw_categories)
    _check_tree(code, categories)
    edition_note = _optional_str(raw, "note", code)
    return EditionSpec(
        code=code,
        name=_required_str(raw, "name", code),
        code_format=_required_str(raw, "code_format", code),
        categories=categories,
        partial=partial,
        note=" ".join(part for part in (edition_note, catalog_note) if part),
    )


def _parse_category(edition: str, raw: Any) -> CategorySpec:
    if not isinstance(raw, Mapping):
        raise CatalogDataError(edition, "each category must be an object")
    code = _required_str(raw, "code", edition)
    kind = raw.get("kind")
    where = f"{edition} {kind} {code}"
    if kind not in KINDS:
        raise CatalogDataError(where, f"kind must be one of {', '.join(KINDS)}")
    level = raw.get("level")
    if level not in LEVELS:
        raise CatalogDataError(where, f"level must be one of {', '.join(LEVELS)}")
    expected_length = CLASS_CODE_LENGTH if level == "class" else SUBCLASS_CODE_LENGTHS[edition]
    if len(code) != expected_length or not code.isdigit():
        raise CatalogDataError(where, f"a {level} code in {edition} has {expected_length} digits")
    parent = raw.get("parent")
    if level == "class" and parent is not None:
        raise CatalogDataError(where, "a class has no parent")
    if level == "subclass" and (not isinstance(parent, str) or code[:CLASS_CODE_LENGTH] != parent):
        raise CatalogDataError(where, "a subclass's parent is the class code its own code starts with")
    department = raw.get("department")
    if department is not None and department not in DEPARTMENTS:
        raise CatalogDataError(where, f"department must be null or one of {', '.join(DEPARTMENTS)}")
    keywords = raw.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
        raise CatalogDataError(where, "keywords must be a list of non-empty strings")
    verified = raw.get("verified", True)
    if not isinstance(verified, bool):
        raise CatalogDataError(where, "verified must be true or false")
    raw_conditions = raw.get("conditions", [])
    if not isinstance(raw_conditions, list):
        raise CatalogDataError(where, "conditions must be a list")
    conditions = tuple(_parse_condition(where, item) for item in raw_conditions)
    condition_codes = [c.code for c in conditions]
    if len(set(condition_codes)) != len(condition_codes):
        raise CatalogDataError(where, "condition codes repeat")
    return CategorySpec(
        edition=edition,
        code=code,
        kind=kind,
        level=level,
        parent_code=parent,
        name=_required_str(raw, "name", where),
        name_en=_required_str(raw, "name_en", where),
        department_code=department,
        keywords=tuple(keywords),
        conditions=conditions,
        verified=verified,
    )


def _parse_condition(where: str, raw: Any) -> ConditionSpec:
    if not isinstance(raw, Mapping):
        raise CatalogDataError(where, "each condition must be an object")
    code = _required_str(raw, "code", where)
    here = f"{where} condition {code}"
    value = raw.get("deadline_value")
    # bool is an int subclass; a JSON true here is a typo, not a one-hour limit.
    if isinstance(value, bool) or (
        not isinstance(value, int | float) or not math.isfinite(value) or value <= 0
    ):
        raise CatalogDataError(here, "deadline_value must be a positive number")
    unit_text = _required_str(raw, "deadline_unit", here)
    try:
        unit = parse_unit(unit_text)
    except ValueError as exc:
        raise CatalogDataError(here, str(exc)) from exc
    return ConditionSpec(
        code=code,
        description=_required_str(raw, "description", here),
        deadline_value=float(value),
        deadline_unit=unit,
        closing_condition=_required_str(raw, "closing_condition", here),
    )


def _check_tree(edition: str, categories: Sequence[CategorySpec]) -> None:
    keys: set[tuple[str, str]] = set()
    for category in categories:
        key = (category.kind, category.code)
        if key in keys:
            raise CatalogDataError(f"{edition} {category.kind} {category.code}", "listed twice")
        keys.add(key)
    for category in categories:
        if category.parent_code is not None and (category.kind, category.parent_code) not in keys:
            raise CatalogDataError(
                f"{edition} {category.kind} {category.code}",
                f"parent class {category.parent_code} of the same kind is missing",
            )


def _required_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogDataError(where, f"'{key}' must be a non-empty string")
    return value.strip()


def _optional_str(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str):
        raise CatalogDataError(where, f"'{key}' must be a string")
    return value.strip()
