"""Evidence test fixtures: a media folder per test and a real uvicorn server for tuspy (helpers: media/helpers.py)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cityops.config import MediaLimits, Settings
from support import World


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The shared settings plus a media folder of the test's own."""
    return Settings(database_url=db_url, redis_url=None, require_in_district=True, media_dir=tmp_path / "media",
                    media=MediaLimits(max_image_bytes=2 * 2**20, max_video_bytes=8 * 2**20,
                                      max_audio_bytes=4 * 2**20, upload_idle_seconds=30))


# --- a real server for tuspy -------------------------------------------------------------------------------------


@pytest.fixture
def live(settings: Settings, world: World) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread (tuspy is synchronous and speaks real HTTP)."""
    import uvicorn

    from cityops.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings, run_sweeper=False), host="127.0.0.1", port=port,
                                           log_level="warning", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        time.sleep(0.02)
    assert server.started, "the test server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


