"""Fixtures of the Open311 tests: an API key (and its service user) in the test world."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cityops.config import Settings
from cityops.db import writing
from cityops.open311 import keys
from cityops.runtime import Runtime
from support import World


@pytest.fixture
async def api_key(rt: Runtime, world: World) -> str:
    """A key with room for every test's requests (the rate-limit tests make their own)."""
    keys.clear_cache()
    async with rt.sessionmaker() as s, writing(s):
        plain, _ = await keys.create_key(s, name="testapp", now=datetime.now(UTC), rate_per_minute=100_000,
                                         burst=1000)
    return plain


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """As the suite's, with uploads kept in the test's own folder."""
    return Settings(database_url=db_url, redis_url=None, require_in_district=True, media_dir=tmp_path / "media")
