"""Tracking fixtures: an app client on a controllable clock. Helpers live in trk.py (this folder is put on the
path so tests can `from trk import ...`).

Tracking's own databases: PostgreSQL ``cityops_test_tracking`` (CITYOPS_TEST_DATABASE_URL), Redis db 14.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trk import Clock  # noqa: E402

from cityops.app import create_app  # noqa: E402
from cityops.runtime import Runtime  # noqa: E402


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def tc(rt: Runtime, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``client``, but the app runs on ``clock`` (tracking and the case API alike)."""
    rt.clock = clock
    app = create_app(runtime=rt, run_sweeper=False)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as c:
        yield c
