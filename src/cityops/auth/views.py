"""Sign-in, sign-out, self-registration of residents, user and device-credential management."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cityops.auth import service as auth_service
from cityops.auth.models import User, UserRole
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.db import writing
from cityops.deps import AppSettings, DbSession, Now, allow, public
from cityops.errors import NotFound

router = APIRouter(prefix="/api/v1", tags=["auth"])
ANY_SIGNED_IN = tuple(r.value for r in Role)
STAFF_LOOKUP = (Role.ADMIN, Role.DISPATCHER, Role.SHIFT_LEAD, Role.DEPARTMENT, Role.COMMANDER, Role.INTAKE)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    roles: list[str]
    department_id: int | None
    is_active: bool


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserRead


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@+-]+$")
    password: str = Field(min_length=8, max_length=200)
    display_name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ]{3,32}$")


class UserCreate(RegisterIn):
    roles: list[Role] = Field(min_length=1)
    department_id: int | None = None


class DeviceTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(min_length=1, max_length=100)


def user_read(u: User) -> UserRead:
    return UserRead(id=u.id, username=u.username, display_name=u.display_name, roles=sorted(u.roles),
                    department_id=u.department_id, is_active=u.is_active)


@router.post("/auth/login", response_model=TokenOut, summary="Sign in with username and password")
async def login(body: LoginIn, session: DbSession, now: Now, settings: AppSettings,
                _: Annotated[Principal | None, public()]) -> TokenOut:
    user = await auth_service.login(session, username=body.username, password=body.password)
    async with writing(session):
        token, row = await auth_service.issue_token(session, user=user, kind="session", now=now,
                                                    ttl=timedelta(hours=settings.token_ttl_hours))
    return TokenOut(access_token=token, expires_at=row.expires_at, user=user_read(user))


@router.post("/auth/register", response_model=TokenOut, status_code=201, summary="A resident signs up")
async def register(body: RegisterIn, session: DbSession, now: Now, settings: AppSettings,
                   _: Annotated[Principal | None, public()]) -> TokenOut:
    async with writing(session):
        user = await auth_service.create_user(session, username=body.username, display_name=body.display_name,
                                              password=body.password, roles=[Role.RESIDENT], now=now,
                                              phone=body.phone)
        token, row = await auth_service.issue_token(session, user=user, kind="session", now=now,
                                                    ttl=timedelta(hours=settings.token_ttl_hours))
    return TokenOut(access_token=token, expires_at=row.expires_at, user=user_read(user))


@router.post("/auth/logout", status_code=204, summary="Revoke the token used for this call")
async def logout(request: Request, session: DbSession, now: Now,
                 _: Annotated[Principal, allow(*ANY_SIGNED_IN)]) -> None:
    token = request.headers["authorization"].partition(" ")[2].strip()
    async with writing(session):
        await auth_service.revoke(session, token=token, now=now)


@router.get("/auth/me", response_model=UserRead, summary="Who am I")
async def me(session: DbSession, caller: Annotated[Principal, allow(*ANY_SIGNED_IN)]) -> UserRead:
    user = await session.get(User, caller.user_id)
    assert user is not None
    return user_read(user)


@router.get("/users", response_model=list[UserRead], summary="Staff directory (filter by role/department)")
async def list_users(session: DbSession, _: Annotated[Principal, allow(*STAFF_LOOKUP)],
                     role: Role | None = None, department_id: int | None = None) -> list[UserRead]:
    q = select(User).order_by(User.id)
    if role is not None:
        q = q.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role.value)))
    if department_id is not None:
        q = q.where(User.department_id == department_id)
    return [user_read(u) for u in (await session.execute(q)).scalars()]


@router.post("/users", response_model=UserRead, status_code=201, summary="Create a staff user")
async def create_user(body: UserCreate, session: DbSession, now: Now,
                      caller: Annotated[Principal, allow(Role.ADMIN)]) -> UserRead:
    async with writing(session):
        if body.department_id is not None:
            from cityops.org.models import Department

            if await session.get(Department, body.department_id) is None:
                raise NotFound(f"no department {body.department_id}", field="department_id")
        user = await auth_service.create_user(
            session, username=body.username, display_name=body.display_name, password=body.password,
            roles=[r.value for r in body.roles], now=now, department_id=body.department_id, phone=body.phone,
            actor_id=caller.user_id)
    return user_read(user)


@router.post("/users/{user_id}/device-tokens", status_code=201, summary="Issue a device credential for an officer")
async def device_token(user_id: int, body: DeviceTokenIn, session: DbSession, now: Now, settings: AppSettings,
                       _: Annotated[Principal, allow(Role.ADMIN)]) -> dict[str, object]:
    async with writing(session):
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user {user_id}", field="user_id")
        token, row = await auth_service.issue_token(session, user=user, kind="device", label=body.label, now=now,
                                                    ttl=timedelta(days=settings.device_token_ttl_days))
    return {"access_token": token, "token_type": "bearer", "expires_at": row.expires_at, "label": body.label}
