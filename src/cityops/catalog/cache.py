"""An in-memory view of the catalog (a few hundred rows) for the hot path of reporting a case."""

from __future__ import annotations

from collections.abc import Iterable

from cityops.catalog.models import Category, FilingCondition
from cityops.errors import InvalidInput

DEFAULT_EDITION = "GB/T 47678.5-2026"


def pick_subclass(found: list[Category], *, code: str, edition: str) -> Category:
    """The one subclass a report may name: refuses unknown codes, codes that are both a component and an event
    (the caller must say which), and class codes."""
    if not found:
        raise InvalidInput(f"unknown category code {code!r} in catalog edition {edition!r}", field="category_code")
    if len(found) > 1:
        both = " and ".join(f"{c.kind} {c.name}" for c in found)
        raise InvalidInput(f"code {code} is both {both}; send category_kind", field="category_kind")
    cat = found[0]
    if cat.level != "subclass":
        raise InvalidInput(f"{code} ({cat.name}) is a class; choose one of its subclasses", field="category_code")
    return cat


class CatalogCache:
    def __init__(self, categories: Iterable[Category], conditions: Iterable[FilingCondition]) -> None:
        self.by_code: dict[tuple[str, str], list[Category]] = {}
        self.by_id: dict[int, Category] = {}
        for c in categories:
            self.by_code.setdefault((c.edition, c.code), []).append(c)
            self.by_id[c.id] = c
        self.conditions: dict[int, list[FilingCondition]] = {}
        for f in conditions:  # ordered by code: the first is the default condition
            self.conditions.setdefault(f.category_id, []).append(f)

    def category(self, *, code: str, edition: str | None, kind: str | None) -> Category:
        edition = edition or DEFAULT_EDITION
        return pick_subclass([c for c in self.by_code.get((edition, code), []) if kind is None or c.kind == kind],
                             code=code, edition=edition)

    def condition(self, category: Category, code: str | None) -> FilingCondition | None:
        conds = self.conditions.get(category.id, [])
        if code:
            for f in conds:
                if f.code == code:
                    return f
            raise InvalidInput(f"category {category.code} has no filing condition {code!r}", field="condition_code")
        return conds[0] if conds else None
