"""The dispatch console in a real browser: queue, detail, dispatch through the form, both languages, wall screen."""

from __future__ import annotations

import httpx
from e2e_support import login_console
from playwright.async_api import Browser, expect

from support import PASSWORD, World, act, new_case


async def test_dispatcher_dispatches_from_the_console_in_both_languages(
    live: str, browser: Browser, world: World, shots: object
) -> None:
    w = world
    async with httpx.AsyncClient(base_url=live) as http:
        case = await new_case(http, w)
        await act(http, w, case["id"], "shiftlead", "file")
    page = shots.watch(await browser.new_page(viewport={"width": 1600, "height": 900}))  # type: ignore[attr-defined]
    await login_console(page, live, "dispatcher", PASSWORD)
    item = page.locator(f".queue li[data-case-id='{case['id']}']")
    await expect(item).to_contain_text("已立案")
    await expect(item).to_contain_text(case["case_no"])
    await shots.take(page, "console-zh")  # type: ignore[attr-defined]

    await item.click()
    await expect(page.locator("#detail h3")).to_contain_text("暴露垃圾")
    await page.click("[data-action=dispatch]")
    await page.select_option("[name=department_id]", str(w.departments["enforcement"]))
    await page.click("form[data-form=dispatch] [type=submit]")
    await expect(page.locator("#detail h3 .badge")).to_have_text("已派遣")
    # The step clock now runs: arrival within 15 minutes, green.
    await expect(item.locator("[data-countdown]")).to_have_class("countdown green")
    await shots.take(page, "dispatched-zh")  # type: ignore[attr-defined]
    async with httpx.AsyncClient(base_url=live) as http:
        got = (await http.get(f"/api/v1/cases/{case['id']}", headers=w.h("dispatcher"))).json()
    assert (got["status"], got["department_id"]) == ("dispatched", w.departments["enforcement"])

    await page.select_option("#lang", "en")
    await page.wait_for_load_state("load")
    await expect(page.locator(f".queue li[data-case-id='{case['id']}']")).to_contain_text("Dispatched")
    await expect(page.locator("h1")).to_have_text("cityops dispatch console")
    # The category in the catalog's English name, where the catalog has one.
    async with httpx.AsyncClient(base_url=live) as http:
        cats = (await http.get("/api/v1/catalog/categories", params={"q": "06010"}, headers=w.h("dispatcher"))).json()
    (english,) = {c["name_en"] for c in cats if c["code"] == "06010" and c["edition"] == "GB/T 47678.5-2026"}
    assert english and english != got["category_name"]
    await page.locator(f".queue li[data-case-id='{case['id']}']").click()
    await expect(page.locator("#detail")).to_contain_text(f"06010 {english}")
    await shots.take(page, "console-en")  # type: ignore[attr-defined]
    assert not shots.errors  # type: ignore[attr-defined]


async def test_wall_screen_shows_todays_figures(live: str, browser: Browser, world: World, shots: object) -> None:
    w = world
    async with httpx.AsyncClient(base_url=live) as http:
        for _ in range(3):
            await new_case(http, w)
    page = shots.watch(await browser.new_page(viewport={"width": 1920, "height": 1080}))  # type: ignore[attr-defined]
    await page.goto(f"{live}/console/wall")
    await page.fill("#username", "commander")
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    today = page.locator("[data-figure='wall.today'] .value")
    await expect(today).to_have_text("3")
    await shots.take(page, "wall")  # type: ignore[attr-defined]
    assert not shots.errors  # type: ignore[attr-defined]


async def test_track_replay_and_road_segment_layer(live: str, browser: Browser, world: World, shots: object) -> None:
    """An officer's fixes come back as a track; the slider walks the marker along it."""
    w = world
    from datetime import UTC, datetime, timedelta

    async with httpx.AsyncClient(base_url=live) as http:
        t0 = datetime.now(UTC) - timedelta(minutes=10)
        fixes = [{"device_id": "web-replay", "lat": w.inside[0] + i * 0.0005, "lon": w.inside[1],
                  "at": (t0 + timedelta(minutes=i)).isoformat(), "accuracy_m": 5} for i in range(5)]
        r = await http.post("/api/v1/tracking/positions/batch", json=fixes, headers=w.h("officer"))
        assert r.status_code == 200 and r.json()["accepted"] == 5, r.text
    page = shots.watch(await browser.new_page(viewport={"width": 1600, "height": 900}))  # type: ignore[attr-defined]
    await login_console(page, live, "dispatcher", PASSWORD)
    await page.click("#replay-open")
    await page.select_option("#replay [name=officer]", str(w.users["officer"]))
    await page.click("#replay [type=submit]")
    slider = page.locator("#replay [name=step]")
    await expect(slider).to_have_attribute("max", "4")
    await slider.fill("4")
    await expect(page.locator("#replay-time")).not_to_be_empty()
    await shots.take(page, "track-replay")  # type: ignore[attr-defined]
    assert not shots.errors  # type: ignore[attr-defined]
