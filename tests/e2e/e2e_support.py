"""Small browser helpers shared by the e2e tests."""

from __future__ import annotations

from playwright.async_api import Page, expect


async def login_console(page: Page, base: str, username: str, password: str, path: str = "/console") -> None:
    await page.goto(f"{base}{path}")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await expect(page.locator(".topbar h1")).to_be_visible()
