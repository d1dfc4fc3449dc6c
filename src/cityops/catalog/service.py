"""Catalog persistence: load the built-in editions, import a bureau's filing standard, look codes up."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.catalog.cache import DEFAULT_EDITION, pick_subclass
from cityops.catalog.models import Category, Edition, FilingCondition
from cityops.errors import InvalidInput


async def resolve_category(
    session: AsyncSession, *, code: str, edition: str | None, kind: str | None = None
) -> Category:
    """A subclass by code; ``kind`` (component/event) decides when a code exists as both."""
    edition = edition or DEFAULT_EDITION
    q = select(Category).where(Category.edition == edition, Category.code == code)
    if kind:
        q = q.where(Category.kind == kind)
    return pick_subclass(list((await session.execute(q)).scalars()), code=code, edition=edition)


async def resolve_condition(
    session: AsyncSession, *, category: Category, code: str | None
) -> FilingCondition | None:
    """The named filing condition, or the category's first one when none is named."""
    q = select(FilingCondition).where(FilingCondition.category_id == category.id)
    if code:
        cond = await session.scalar(q.where(FilingCondition.code == code))
        if cond is None:
            raise InvalidInput(f"category {category.code} has no filing condition {code!r}", field="condition_code")
        return cond
    return await session.scalar(q.order_by(FilingCondition.code).limit(1))


async def list_categories(session: AsyncSession, *, edition: str | None = None) -> list[Category]:
    q = select(Category).order_by(Category.edition, Category.code)
    if edition:
        q = q.where(Category.edition == edition)
    return list((await session.execute(q)).scalars())


async def conditions_of(session: AsyncSession, category_ids: list[int]) -> list[FilingCondition]:
    if not category_ids:
        return []
    q = select(FilingCondition).where(FilingCondition.category_id.in_(category_ids)).order_by(FilingCondition.code)
    return list((await session.execute(q)).scalars())


async def list_editions(session: AsyncSession) -> list[Edition]:
    return list((await session.execute(select(Edition).order_by(Edition.code))).scalars())


async def load_builtin(session: AsyncSession, *, now: datetime, actor_id: int | None = None) -> tuple[int, int]:
    """Insert the shipped (partial) editions; idempotent: existing codes are left as the bureau edited them."""
    from cityops.catalog.builtin import load_builtin as read_builtin

    cats = conds = 0
    for ed in read_builtin():
        if await session.get(Edition, ed.code) is None:
            session.add(Edition(code=ed.code, name=ed.name, code_format=ed.code_format))
            await session.flush()
        existing = set(
            (await session.execute(select(Category.kind, Category.code).where(Category.edition == ed.code))).all()
        )
        for spec in ed.categories:
            if (spec.kind, spec.code) in existing:
                continue
            cat = Category(
                edition=ed.code, code=spec.code, kind=spec.kind, level=spec.level, parent_code=spec.parent_code,
                name=spec.name, name_en=spec.name_en, department_code=spec.department_code,
                keywords=list(spec.keywords),
            )
            session.add(cat)
            await session.flush()
            cats += 1
            for c in spec.conditions:
                session.add(FilingCondition(
                    category_id=cat.id, code=c.code, description=c.description, deadline_value=c.deadline_value,
                    deadline_unit=str(c.deadline_unit), closing_condition=c.closing_condition,
                ))
                conds += 1
    await session.flush()
    await audit_service.append(session, now=now, actor_id=actor_id, action="catalog.builtin_loaded",
                               entity_type="catalog", entity_id="builtin",
                               data={"categories": cats, "conditions": conds})
    return cats, conds


async def import_filing_standard(
    session: AsyncSession, *, path: Path, now: datetime, actor_id: int | None, replace: bool = False
) -> dict[str, int]:
    """Import a bureau's 立案标准. All rows are validated before anything is written; a condition that already
    exists is refused unless ``replace`` is set (then it is updated)."""
    from cityops.catalog.filing_import import CatalogImportError, parse_filing_standard

    try:
        rows = parse_filing_standard(path)
    except CatalogImportError as e:
        raise InvalidInput(e.message, field=e.field) from e
    created_cats = created = updated = 0
    for row in rows:
        if await session.get(Edition, row.edition) is None:
            raise InvalidInput(f"row {row.row_number}: unknown catalog edition {row.edition!r}",
                               field=f"row {row.row_number}, edition")
        cat = await session.scalar(select(Category).where(
            Category.edition == row.edition, Category.kind == row.kind, Category.code == row.category_code))
        if cat is None:
            if not row.category_name:
                raise InvalidInput(
                    f"row {row.row_number}: category {row.category_code} is not in {row.edition}; "
                    "give category_name to create it", field=f"row {row.row_number}, category_name")
            parent = row.category_code[:2]
            if await session.scalar(select(Category.id).where(
                    Category.edition == row.edition, Category.kind == row.kind, Category.code == parent)) is None:
                raise InvalidInput(f"row {row.row_number}: {row.kind} class {parent} does not exist in {row.edition}",
                                   field=f"row {row.row_number}, category_code")
            cat = Category(edition=row.edition, code=row.category_code, kind=row.kind,
                           level="subclass", parent_code=parent, name=row.category_name, name_en=None,
                           department_code=row.department, keywords=[])
            session.add(cat)
            await session.flush()
            created_cats += 1
        cond = await session.scalar(select(FilingCondition).where(
            FilingCondition.category_id == cat.id, FilingCondition.code == row.condition_code))
        if cond is not None and not replace:
            raise InvalidInput(
                f"row {row.row_number}: condition {row.category_code}/{row.condition_code} already exists "
                "(use --replace to update it)", field=f"row {row.row_number}, condition_code")
        if cond is None:
            cond = FilingCondition(category_id=cat.id, code=row.condition_code)
            session.add(cond)
            created += 1
        else:
            updated += 1
        cond.description = row.description
        cond.deadline_value = row.deadline_value
        cond.deadline_unit = str(row.deadline_unit)
        cond.closing_condition = row.closing_condition
        cond.department_code = row.department
    await session.flush()
    summary = {"rows": len(rows), "categories_created": created_cats, "conditions_created": created,
               "conditions_updated": updated}
    await audit_service.append(session, now=now, actor_id=actor_id, action="catalog.imported",
                               entity_type="catalog", entity_id=path.name, data=summary)
    return summary
