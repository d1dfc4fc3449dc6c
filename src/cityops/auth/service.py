"""Passwords (argon2), opaque bearer tokens with expiry, and users."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth.models import Token, User, UserRole
from cityops.auth.roles import Role
from cityops.errors import Conflict, InvalidInput, NotAuthenticated
from cityops.singleflight import SingleFlight

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = _hasher.hash("cityops-no-such-user")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, or a device acting for its officer."""

    user_id: int
    username: str
    display_name: str
    roles: frozenset[str]
    department_id: int | None
    token_kind: str
    expires_at: datetime

    @property
    def acting_for_user_id(self) -> int | None:
        return self.user_id if self.token_kind == "device" else None

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)


# Token → principal cache: bearer lookups are on every request. Entries live a few seconds, so a revoked
# token stops working within TOKEN_CACHE_SECONDS on every process (documented in docs/api.md).
TOKEN_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, Principal]] = {}


def clear_token_cache() -> None:
    _cache.clear()


async def create_user(
    session: AsyncSession, *, username: str, display_name: str, password: str | None, roles: Iterable[str],
    now: datetime, department_id: int | None = None, phone: str | None = None, actor_id: int | None = None,
) -> User:
    role_list = sorted(set(roles))
    for r in role_list:
        if r not in {x.value for x in Role}:
            raise InvalidInput(f"unknown role {r!r}; roles are: {', '.join(x.value for x in Role)}", field="roles")
    # Usernames are case-insensitive: "Officer1" and "officer1" must not be two people.
    username = username.strip().lower()
    if not username:
        raise InvalidInput("username must not be empty", field="username")
    exists = await session.scalar(select(User.id).where(User.username == username))
    if exists is not None:
        raise Conflict(f"username {username!r} is taken", field="username")
    user = User(
        username=username, display_name=display_name, phone=phone, department_id=department_id,
        password_hash=hash_password(password) if password else None, is_active=True, created_at=now,
        role_rows=[UserRole(role=r) for r in role_list],
    )
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"username {username!r} is taken", field="username") from None
    await audit_service.append(
        session, now=now, actor_id=actor_id, action="user.created", entity_type="user", entity_id=user.id,
        data={"username": username, "roles": role_list, "department_id": department_id},
    )
    return user


async def issue_token(
    session: AsyncSession, *, user: User, kind: str, ttl: timedelta, now: datetime, label: str | None = None
) -> tuple[str, Token]:
    plain = f"cty_{secrets.token_urlsafe(32)}"
    row = Token(
        token_hash=token_digest(plain), user_id=user.id, kind=kind, label=label, created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    await session.flush()
    await audit_service.append(
        session, now=now, actor_id=user.id, action=f"token.issued.{kind}", entity_type="user",
        entity_id=user.id, data={"token_id": row.id, "expires_at": row.expires_at.isoformat(), "label": label},
    )
    return plain, row


async def login(session: AsyncSession, *, username: str, password: str) -> User:
    user = await session.scalar(select(User).where(User.username == username.strip().lower()))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        raise NotAuthenticated("wrong username or password", field="password")
    return user


def cached_principal(token: str, now: datetime) -> Principal | None:
    """The caller from the per-process token cache, or None when the database must be asked."""
    hit = _cache.get(token_digest(token))
    if hit is not None and hit[0] > time.monotonic() and hit[1].expires_at > now:
        return hit[1]
    return None


async def principal_for(session: AsyncSession, token: str, now: datetime) -> Principal:
    found = cached_principal(token, now)
    if found is not None:
        return found
    # One lookup per token at a time: when a busy client's cache entry expires, its requests in flight would
    # otherwise all miss together and queue for database connections (a 50–80 ms stall every TOKEN_CACHE_SECONDS
    # under load).
    digest = token_digest(token)
    return await _lookups.run(digest, lambda: _lookup(session, digest, now))


_lookups: SingleFlight[str, Principal] = SingleFlight()


async def _lookup(session: AsyncSession, digest: str, now: datetime) -> Principal:
    mono = time.monotonic()
    row = (
        await session.execute(
            select(Token, User).join(User, User.id == Token.user_id).where(Token.token_hash == digest)
        )
    ).first()
    if row is None:
        raise NotAuthenticated("unknown token")
    tok, user = row
    if tok.revoked_at is not None:
        raise NotAuthenticated("token revoked")
    if tok.expires_at <= now:
        raise NotAuthenticated("token expired; sign in again")
    if not user.is_active:
        raise NotAuthenticated("account disabled")
    roles = frozenset({Role.DEVICE.value}) if tok.kind == "device" else user.roles
    principal = Principal(user.id, user.username, user.display_name, roles, user.department_id, tok.kind,
                          tok.expires_at)
    _cache[digest] = (mono + TOKEN_CACHE_SECONDS, principal)
    return principal


async def revoke(session: AsyncSession, *, token: str, now: datetime) -> None:
    digest = token_digest(token)
    tok = await session.scalar(select(Token).where(Token.token_hash == digest))
    if tok is not None and tok.revoked_at is None:
        tok.revoked_at = now
        await audit_service.append(
            session, now=now, actor_id=tok.user_id, action="token.revoked", entity_type="user",
            entity_id=tok.user_id, data={"token_id": tok.id},
        )
    _cache.pop(digest, None)
