"""API keys of Open311 apps: created and revoked by admins (``cityops apikey``), checked on every POST.

Each key gets its own service user (role ``resident``): ``case.service.create`` needs a reporter, the resident role
lets that user do nothing but report and follow its own reports, and it has no password, so nobody can sign in as it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cityops.audit import service as audit_service
from cityops.auth import service as auth_service
from cityops.auth.models import User
from cityops.auth.roles import Role
from cityops.auth.service import Principal
from cityops.db import SessionSource, using
from cityops.errors import Conflict, InvalidInput, NotFound
from cityops.open311.models import ApiKey
from cityops.singleflight import SingleFlight

DEFAULT_RATE_PER_MINUTE = 60
DEFAULT_BURST = 20
KEY_PREFIX = "o311_"
# A revoked key stops working within this many seconds on every server process.
KEY_CACHE_SECONDS = 5.0
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$")
# The service user's principal never expires by itself; revoking the key is what stops it.
_NEVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class KeyHolder:
    """A valid key: its id and limits, and the principal that reports on its behalf."""

    key_id: int
    bucket: str  # rate-limit bucket: part of the key's hash, unique even across deployments sharing a Redis
    name: str
    rate_per_minute: int
    burst: int
    principal: Principal


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


_cache: dict[str, tuple[float, KeyHolder | None]] = {}


def clear_cache() -> None:
    _cache.clear()


async def create_key(
    session: AsyncSession, *, name: str, now: datetime, rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
    burst: int = DEFAULT_BURST, actor_id: int | None = None,
) -> tuple[str, ApiKey]:
    """Create a key and its service user; returns the plain key, which is shown once and never stored."""
    if not _NAME.match(name):
        raise InvalidInput("key name: 1–48 letters, digits, '.', '_' or '-', starting with a letter or digit",
                           field="name")
    if not 1 <= rate_per_minute <= 1_000_000_000:
        raise InvalidInput("rate_per_minute must be between 1 and 1,000,000,000", field="rate_per_minute")
    if not 1 <= burst <= 1_000_000_000:
        raise InvalidInput("burst must be between 1 and 1,000,000,000", field="burst")
    if await session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named {name!r} exists", field="name")
    user = await auth_service.create_user(
        session, username=f"open311:{name}", display_name=name, password=None, roles=[Role.RESIDENT.value],
        now=now, actor_id=actor_id)
    plain = KEY_PREFIX + secrets.token_urlsafe(24)
    row = ApiKey(name=name, key_prefix=plain[:10], key_hash=digest(plain), user_id=user.id,
                 rate_per_minute=rate_per_minute, burst=burst, created_at=now, created_by=actor_id)
    session.add(row)
    await session.flush()
    await audit_service.append(session, now=now, actor_id=actor_id, action="open311.key_created",
                               entity_type="open311_key", entity_id=row.id,
                               data={"name": name, "user_id": user.id, "rate_per_minute": rate_per_minute,
                                     "burst": burst, "prefix": row.key_prefix})
    return plain, row


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.execute(select(ApiKey).order_by(ApiKey.id))).scalars())


async def revoke_key(session: AsyncSession, *, name: str, now: datetime, actor_id: int | None = None) -> ApiKey:
    row = await session.scalar(select(ApiKey).where(ApiKey.name == name))
    if row is None:
        raise NotFound(f"no API key named {name!r}", field="name")
    if row.revoked_at is None:
        row.revoked_at = now
        await session.flush()
        await audit_service.append(session, now=now, actor_id=actor_id, action="open311.key_revoked",
                                   entity_type="open311_key", entity_id=row.id, data={"name": name})
    clear_cache()
    return row


async def holder_for(session: SessionSource, key: str) -> KeyHolder | None:
    """The holder of a valid key, or None (unknown or revoked). Cached for KEY_CACHE_SECONDS, misses too, so a
    client hammering with a wrong key costs no database reads. ``session``: a session, or a factory to open one
    only on a cache miss."""
    d = digest(key)
    hit = _cache.get(d)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    # One lookup per key at a time (see cityops.singleflight): an app posting in bursts misses together.
    return await _lookups.run(d, lambda: _lookup(session, d))


_lookups: SingleFlight[str, KeyHolder | None] = SingleFlight()


async def _lookup(session: SessionSource, d: str) -> KeyHolder | None:
    mono = time.monotonic()
    async with using(session) as s:
        found = (await s.execute(
            select(ApiKey, User).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == d))).first()
    holder = None
    if found is not None:
        row, user = found
        if row.revoked_at is None and user.is_active:
            principal = Principal(user.id, user.username, user.display_name, frozenset({Role.RESIDENT.value}),
                                  None, "open311", _NEVER)
            holder = KeyHolder(row.id, d[:24], row.name, row.rate_per_minute, row.burst, principal)
    if len(_cache) > 10_000:  # bound the memory a flood of random keys can take
        _cache.clear()
    _cache[d] = (mono + KEY_CACHE_SECONDS, holder)
    return holder
