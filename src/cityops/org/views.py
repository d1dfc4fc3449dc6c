"""Departments (专业部门)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cityops.auth.roles import CASE_READERS, Role
from cityops.auth.service import Principal
from cityops.db import writing
from cityops.deps import DbSession, Now, allow
from cityops.org import service as org_service

router = APIRouter(prefix="/api/v1/departments", tags=["organisation"])


class DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=100)


class DepartmentRead(BaseModel):
    id: int
    code: str
    name: str
    name_en: str | None


@router.get("", response_model=list[DepartmentRead])
async def list_departments(session: DbSession, _: Annotated[Principal, allow(*CASE_READERS)]) -> list[DepartmentRead]:
    return [DepartmentRead(id=d.id, code=d.code, name=d.name, name_en=d.name_en)
            for d in await org_service.list_departments(session)]


@router.post("", response_model=DepartmentRead, status_code=201)
async def create_department(body: DepartmentIn, session: DbSession, now: Now,
                            caller: Annotated[Principal, allow(Role.ADMIN)]) -> DepartmentRead:
    async with writing(session):
        d = await org_service.create_department(session, code=body.code, name=body.name, name_en=body.name_en,
                                                now=now, actor_id=caller.user_id)
    return DepartmentRead(id=d.id, code=d.code, name=d.name, name_en=d.name_en)
