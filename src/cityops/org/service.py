"""Departments and teams."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.org.models import Department, Team


async def create_department(
    session: AsyncSession, *, code: str, name: str, name_en: str | None, now: datetime, actor_id: int | None
) -> Department:
    if not code.strip() or not name.strip():
        raise InvalidInput("department code and name must not be empty", field="code" if not code.strip() else "name")
    if await session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise Conflict(f"department code {code!r} exists", field="code")
    dept = Department(code=code, name=name, name_en=name_en)
    session.add(dept)
    await session.flush()
    await audit_service.append(session, now=now, actor_id=actor_id, action="department.created",
                               entity_type="department", entity_id=dept.id, data={"code": code, "name": name})
    return dept


async def create_team(
    session: AsyncSession, *, department_id: int, name: str, now: datetime, actor_id: int | None
) -> Team:
    if await session.get(Department, department_id) is None:
        raise NotFound(f"no department {department_id}", field="department_id")
    team = Team(department_id=department_id, name=name)
    session.add(team)
    await session.flush()
    await audit_service.append(session, now=now, actor_id=actor_id, action="team.created", entity_type="team",
                               entity_id=team.id, data={"department_id": department_id, "name": name})
    return team


async def by_code(session: AsyncSession, code: str) -> Department | None:
    return await session.scalar(select(Department).where(Department.code == code))


async def list_departments(session: AsyncSession) -> list[Department]:
    return list((await session.execute(select(Department).order_by(Department.id))).scalars())
