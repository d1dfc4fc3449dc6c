"""Test fixtures: a migrated database per test (SQLite by default, PostgreSQL when CITYOPS_TEST_DATABASE_URL is
set), the app behind an in-process HTTP client, and a small hand-built world with a user for every role.

When CITYOPS_TEST_DATABASE_URL or CITYOPS_TEST_REDIS_URL point at a server that does not answer, tests error —
they never skip — so CI cannot pass without the real services.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from cityops.app import create_app
from cityops.auth import service as auth_service
from cityops.config import Settings
from cityops.db import make_engine, writing
from cityops.migrate import upgrade
from cityops.runtime import Runtime
from support import PASSWORD, PEOPLE, World, world_geojson

# Cheap argon2 parameters in tests only: the suite hashes many passwords; production keeps the library defaults.
auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

PG_URL = os.environ.get("CITYOPS_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CITYOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IS_PG = bool(PG_URL)

async def _pg_reset_database(url: str) -> None:
    """Create the test database if needed and empty its public schema."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, dbname = dsn.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", dbname):
            await admin.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per session with Alembic (so migrations are tested too)."""
    if IS_PG:
        assert PG_URL is not None
        asyncio.run(_pg_reset_database(PG_URL))
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return str(path)


async def _pg_truncate(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        tables = (await conn.execute(text(sql))).scalars()
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()


@pytest.fixture
async def db_url(db_template: str, tmp_path: Path) -> str:
    if IS_PG:
        await _pg_truncate(db_template)
        return db_template
    target = tmp_path / "cityops.db"
    shutil.copyfile(db_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, redis_url=None, require_in_district=True, media_dir=tmp_path / "media")


@pytest.fixture
async def rt(settings: Settings) -> AsyncIterator[Runtime]:
    auth_service.clear_token_cache()
    runtime = Runtime.create(settings)
    yield runtime
    await runtime.close()


@pytest.fixture
async def client(rt: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime=rt, run_sweeper=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        yield c


@pytest.fixture
async def world(rt: Runtime) -> World:
    from cityops.catalog import service as catalog_service
    from cityops.geo import service as geo_service
    from cityops.geo.models import AreaRow
    from cityops.org import service as org_service

    w = World()
    now = datetime.now(UTC)
    async with rt.sessionmaker() as s, writing(s):
        await catalog_service.load_builtin(s, now=now)
        await geo_service.import_geojson(s, data=world_geojson(), layer=None, now=now, actor_id=None)
        for code, name in (("enforcement", "执法大队"), ("sanitation", "环卫处")):
            d = await org_service.create_department(s, code=code, name=name, name_en=None, now=now, actor_id=None)
            w.departments[code] = d.id
        for username, roles, dept in PEOPLE:
            u = await auth_service.create_user(s, username=username, display_name=username, password=PASSWORD,
                                               roles=roles, now=now,
                                               department_id=w.departments[dept] if dept else None)
            w.users[username] = u.id
            w.tokens[username], _ = await auth_service.issue_token(s, user=u, kind="session", now=now,
                                                                   ttl=timedelta(hours=1))
        from sqlalchemy import select

        for gid, code in (await s.execute(select(AreaRow.id, AreaRow.code).where(AreaRow.layer == "grid"))).all():
            w.grids[code] = gid
    rt.invalidate()
    return w


