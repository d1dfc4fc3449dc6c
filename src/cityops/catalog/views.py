"""Classification catalog: editions and categories with their filing conditions (public: the portal needs it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cityops.auth.service import Principal
from cityops.catalog import service as catalog_service
from cityops.deps import DbSession, public

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


class ConditionRead(BaseModel):
    code: str
    description: str
    deadline_value: float
    deadline_unit: str
    closing_condition: str


class CategoryRead(BaseModel):
    id: int
    edition: str
    code: str
    kind: str
    level: str
    parent_code: str | None
    name: str
    name_en: str | None
    department_code: str | None
    keywords: list[str]
    conditions: list[ConditionRead]


class EditionRead(BaseModel):
    code: str
    name: str
    code_format: str | None


@router.get("/editions", response_model=list[EditionRead])
async def editions(session: DbSession, _: Annotated[Principal | None, public()]) -> list[EditionRead]:
    return [EditionRead(code=e.code, name=e.name, code_format=e.code_format)
            for e in await catalog_service.list_editions(session)]


@router.get("/categories", response_model=list[CategoryRead])
async def categories(
    session: DbSession, _: Annotated[Principal | None, public()],
    edition: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=50, description="match code, name or keyword")] = None,
) -> list[CategoryRead]:
    cats = await catalog_service.list_categories(session, edition=edition)
    if q:
        needle = q.lower()
        cats = [c for c in cats if needle in c.code or needle in c.name.lower() or needle in (c.name_en or "").lower()
                or any(needle in k.lower() for k in c.keywords or [])]
    conds = await catalog_service.conditions_of(session, [c.id for c in cats])
    by_cat: dict[int, list[ConditionRead]] = {}
    for f in conds:
        by_cat.setdefault(f.category_id, []).append(ConditionRead(
            code=f.code, description=f.description, deadline_value=f.deadline_value, deadline_unit=f.deadline_unit,
            closing_condition=f.closing_condition))
    return [CategoryRead(id=c.id, edition=c.edition, code=c.code, kind=c.kind, level=c.level,
                         parent_code=c.parent_code, name=c.name, name_en=c.name_en,
                         department_code=c.department_code, keywords=list(c.keywords or []),
                         conditions=by_cat.get(c.id, [])) for c in cats]
