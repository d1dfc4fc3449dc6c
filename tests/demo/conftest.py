"""Demo test fixtures: the shared settings with a media folder of the test's own, so seeded photos never land in
the default ``./var/media``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.config import Settings


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, redis_url=None, require_in_district=True, media_dir=tmp_path / "media")
