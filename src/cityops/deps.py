"""FastAPI dependencies shared by every view: session, clock, caller, and the role guard."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.auth import service as auth_service
from cityops.auth.service import Principal
from cityops.config import Settings
from cityops.errors import Forbidden, NotAuthenticated


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    session: AsyncSession = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        # Only a session still inside a transaction holds a connection. Closing one that never began (or already
        # committed) releases nothing but still costs a greenlet round trip on every request; it is garbage now.
        if session.in_transaction():
            await session.close()


# async: a plain def dependency runs in the threadpool, which costs more than the call itself on every request.
async def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[AsyncSession, Depends(get_session)]
Now = Annotated[datetime, Depends(get_now)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


class RoleGuard:
    """Route dependency declaring who may call; ``roles`` is introspected by the test that checks every route."""

    def __init__(self, roles: frozenset[str], public: bool = False) -> None:
        self.roles = roles
        self.public = public

    # The clock is read here rather than taken as the ``Now`` dependency: every guarded route would otherwise pay
    # FastAPI's resolution of one more nested dependency on each request.
    async def __call__(self, request: Request) -> Principal | None:
        now: datetime = request.app.state.clock()
        token = _bearer(request)
        if token is None:
            if self.public:
                return None
            raise NotAuthenticated("sign in first: send 'Authorization: Bearer <token>'")
        # Most calls are answered from the token cache; only a miss opens a (short) session.
        principal = auth_service.cached_principal(token, now)
        if principal is None:
            async with request.app.state.sessionmaker() as session:
                principal = await auth_service.principal_for(session, token, now)
        if not self.public and not (principal.roles & self.roles):
            raise Forbidden(f"this needs one of the roles: {', '.join(sorted(self.roles))}")
        return principal


def allow(*roles: str) -> Any:
    """Declare the roles of an endpoint: ``caller: Annotated[Principal, allow("dispatcher")]``."""
    return Depends(RoleGuard(frozenset(str(r) for r in roles)))


def public() -> Any:
    """An endpoint anyone may call; a bearer token, if sent, is still checked and passed in."""
    return Depends(RoleGuard(frozenset(), public=True))
