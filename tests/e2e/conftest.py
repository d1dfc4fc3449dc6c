"""Browser tests: a real server (uvicorn on a free port over the test database) and Debian's Chromium driven by
Playwright. Screenshots go to $CITYOPS_ARTIFACTS/e2e (default ./artifacts/e2e); the folder is printed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from cityops.app import create_app
from cityops.runtime import Runtime

ARTIFACTS = Path(os.environ.get("CITYOPS_ARTIFACTS", "artifacts")).resolve() / "e2e"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


def pytest_configure(config: pytest.Config) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\ne2e screenshots: {ARTIFACTS}")


@pytest.fixture
async def live(rt: Runtime) -> AsyncIterator[str]:
    """Base URL of a real server on this test's database (tiles off: no internet here)."""
    rt.settings.tile_url = ""
    app = create_app(runtime=rt, run_sweeper=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = shutil.which("chromium")
    assert path, "Debian's chromium is needed for the browser tests (make browser)"
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        await b.close()


class Shots:
    """Numbered screenshots of one test, and the page errors seen (a test fails on any)."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0
        self.errors: list[str] = []

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    async def take(self, page: Page, label: str) -> None:
        self.n += 1
        await page.screenshot(path=str(self.dir / f"{self.n:02d}-{label}.png"), full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)
