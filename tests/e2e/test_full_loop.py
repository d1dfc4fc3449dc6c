"""The whole loop in real browsers, as the users do it:
resident reports with a photo → shift lead files → dispatcher dispatches the recommended officer → the officer
(phone-sized second context) accepts, arrives by GPS, takes the after-photo offline, syncs, handles and feeds
back → inspector checks → shift lead closes → resident rates."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import httpx
from e2e_support import login_console
from PIL import Image
from playwright.async_api import Browser, Page, expect

from support import PASSWORD, World

PHONE = {"width": 390, "height": 844}


def jpeg(colour: tuple[int, int, int] = (90, 130, 70)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(buf, "JPEG")
    return buf.getvalue()


async def api_case(live: str, w: World, case_no: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live) as http:
        page = (await http.get("/api/v1/cases", params={"q": case_no}, headers=w.h("commander"))).json()
        assert page["total"] == 1
        return dict((await http.get(f"/api/v1/cases/{page['items'][0]['id']}", headers=w.h("commander"))).json())


async def wait_status(live: str, w: World, case_no: str, status: str, timeout: float = 15) -> dict[str, Any]:
    async def poll() -> dict[str, Any]:
        while True:
            c = await api_case(live, w, case_no)
            if c["status"] == status:
                return c
            await asyncio.sleep(0.25)
    return await asyncio.wait_for(poll(), timeout)


async def console_act(page: Page, case_id: int, action: str, fill: Any = None) -> None:
    await page.locator(f".queue li[data-case-id='{case_id}']").click()
    await page.click(f"[data-action={action}]")
    if fill:
        await fill(page)
    await page.click(f"form[data-form={action}] [type=submit]")


async def test_resident_to_rating_through_every_face(live: str, browser: Browser, world: World, shots: Any) -> None:
    w = world
    spot = {"latitude": w.inside[0], "longitude": w.inside[1], "accuracy": 8}
    # ≈ 111 m north: outside the 50 m arrival radius, and near enough that walking there in the seconds the test
    # takes is not filtered as an impossible jump (max 55 m/s).
    away = {"latitude": w.inside[0] + 0.001, "longitude": w.inside[1], "accuracy": 8}

    # 1. The resident reports a problem with a photo (phone, location from the browser).
    resident_ctx = await browser.new_context(viewport=PHONE, geolocation=spot, permissions=["geolocation"])
    resident = shots.watch(await resident_ctx.new_page())
    await resident.goto(f"{live}/report")
    await resident.fill("[name=username]", "resident")
    await resident.fill("[name=password]", PASSWORD)
    await resident.click("button[value=login]")
    await resident.click("#locate")
    await resident.set_input_files("[name=photo]", files=[{"name": "garbage.jpg", "mimeType": "image/jpeg",
                                                            "buffer": jpeg()}])
    await resident.fill("[name=description]", "小区门口暴露垃圾")
    await resident.click("#suggest button >> nth=0")
    await resident.click("#report-form [type=submit]")
    sent = resident.locator("#sent")
    await expect(sent).to_contain_text("已上报")
    case_no = (await sent.inner_text()).split("案卷号 ")[1].split("。")[0]
    await shots.take(resident, "resident-reported")
    case = await api_case(live, w, case_no)
    assert case["category_code"] == "06010" and case["channel"] == "public"

    # 2. The officer signs on in the field app; the phone reports its position.
    officer_ctx = await browser.new_context(viewport=PHONE, geolocation=away, permissions=["geolocation"])
    officer = shots.watch(await officer_ctx.new_page())
    await officer.goto(f"{live}/field")
    # 暴露垃圾 is routed to sanitation (环卫): its officer is the one recommended.
    await officer.fill("#username", "san_officer")
    await officer.fill("#password", PASSWORD)
    await officer.click("button[type=submit]")
    await officer.click("#duty")
    await expect(officer.locator("#duty")).to_have_text("下班")

    # 3. The shift lead files it; 4. the dispatcher dispatches the recommended officer with one click.
    console = shots.watch(await browser.new_page(viewport={"width": 1600, "height": 900}))
    await login_console(console, live, "shiftlead", PASSWORD)
    await console_act(console, case["id"], "file")
    await expect(console.locator("#detail h3 .badge")).to_have_text("已立案")
    await console.evaluate("localStorage.clear()")
    await login_console(console, live, "dispatcher", PASSWORD)
    await console.locator(f".queue li[data-case-id='{case['id']}']").click()
    await console.click("[data-action=dispatch]")
    reco = console.locator(".reco li").first
    await expect(reco).to_contain_text("san_officer")
    await shots.take(console, "dispatch-recommendation")
    await reco.locator("button").click()
    c = await wait_status(live, w, case_no, "dispatched")
    assert (c["officer_id"], c["department_id"]) == (w.users["san_officer"], w.departments["sanitation"])

    # 5. The officer accepts, then walks to the spot: the position detects the arrival.
    await officer.evaluate("window.cityopsField.loadTasks()")
    await officer.locator(f"[data-case='{case['id']}'] [data-act=accept]").click()
    await wait_status(live, w, case_no, "accepted")
    await officer_ctx.set_geolocation(spot)
    arrived = await wait_status(live, w, case_no, "on_scene", timeout=20)
    arrive = [e for e in arrived["timeline"] if e["action"] == "arrive"][-1]
    assert arrive["actor_role"] == "device"
    await officer.evaluate("window.cityopsField.loadTasks()")
    await shots.take(officer, "officer-on-scene")

    # 6. No signal: the after-photo and the handling wait in the outbox, then sync.
    await officer_ctx.set_offline(True)
    card = officer.locator(f"[data-case='{case['id']}']")
    await card.locator("[data-photo=after]").set_input_files(files=[{"name": "after.jpg", "mimeType": "image/jpeg",
                                                                     "buffer": jpeg((200, 200, 200))}])
    await card.locator("[data-act=handle]").click()
    await expect(officer.locator("#outbox")).to_contain_text("离线")
    await shots.take(officer, "officer-offline-outbox")
    assert (await api_case(live, w, case_no))["status"] == "on_scene"
    await officer_ctx.set_offline(False)
    await officer.evaluate("window.dispatchEvent(new Event('online'))")
    await wait_status(live, w, case_no, "handled", timeout=20)
    await expect(officer.locator("#failed")).to_be_empty()
    await expect(officer.locator("#outbox")).to_contain_text("已全部同步", timeout=20000)
    await officer.evaluate("window.cityopsField.loadTasks()")
    await officer.locator(f"[data-case='{case['id']}'] [data-act=feed_back]").click()
    await wait_status(live, w, case_no, "fed_back")

    # 7. The inspector checks; 8. the shift lead closes.
    await console.evaluate("localStorage.clear()")
    await login_console(console, live, "inspector", PASSWORD)
    await console_act(console, case["id"], "check")
    await wait_status(live, w, case_no, "checked")
    await console.evaluate("localStorage.clear()")
    await login_console(console, live, "shiftlead", PASSWORD)
    await console_act(console, case["id"], "close")
    await wait_status(live, w, case_no, "closed")

    # 9. The resident rates the result.
    await resident.reload()
    await resident.locator(f"[data-case='{case['id']}'] [data-rate=satisfied]").click()
    final = await wait_status(live, w, case_no, "evaluated")
    await shots.take(resident, "resident-rated")
    assert final["satisfaction"] == "satisfied"
    async with httpx.AsyncClient(base_url=live) as http:
        evidence = (await http.get(f"/api/v1/cases/{case['id']}/evidence", headers=w.h("commander"))).json()
    assert sorted(e["role"] for e in evidence["items"]) == ["after", "resident_photo"]
    assert [e["action"] for e in final["timeline"] if e["action"] in ("report", "file", "dispatch", "accept",
            "arrive", "handle", "feed_back", "check", "close", "evaluate")] == [
        "report", "file", "dispatch", "accept", "arrive", "handle", "feed_back", "check", "close", "evaluate"]
    assert not shots.errors
