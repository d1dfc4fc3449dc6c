"""The 7-step loop over HTTP: each step by the right role succeeds; the same step by a wrong role gets 403 and
an out-of-order step gets 409 — and neither changes the case."""

from __future__ import annotations

from typing import Any

import httpx

from support import World, act, new_case


async def _state(client: httpx.AsyncClient, w: World, cid: int) -> dict[str, Any]:
    r = await client.get(f"/api/v1/cases/{cid}", headers=w.h("commander"))
    assert r.status_code == 200
    return dict(r.json())


async def _refused(client: httpx.AsyncClient, w: World, cid: int, who: str, action: str, status: int,
                   **params: Any) -> None:
    before = await _state(client, w, cid)
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": action, **params}, headers=w.h(who))
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]
    after = await _state(client, w, cid)
    assert (after["status"], after["version"], len(after["timeline"])) == (
        before["status"], before["version"], len(before["timeline"]))


async def test_full_loop_right_and_wrong_roles(client: httpx.AsyncClient, world: World) -> None:
    w = world
    enf = w.departments["enforcement"]
    case = await new_case(client, w, who="resident")
    cid = case["id"]
    assert case["status"] == "reported" and case["channel"] == "public"
    assert case["grid"] == "测试社区01网格" and case["community"] == "测试社区" and case["street"] == "测试街道"
    assert case["step_clock"]["name"] == "file"

    # (who does it, action, params, wrong role trying the same, expected status afterwards)
    steps: list[tuple[str, str, dict[str, Any], str, str]] = [
        ("intake", "send_verify", {"inspector_id": w.users["inspector"]}, "dispatcher", "verifying"),
        ("inspector", "verify", {"confirmed": True, "lat": w.inside[0], "lon": w.inside[1]}, "intake", "verified"),
        ("shiftlead", "file", {}, "intake", "filed"),
        ("dispatcher", "dispatch", {"department_id": enf}, "inspector", "dispatched"),
        ("enf_staff", "assign", {"officer_id": w.users["officer"]}, "inspector", "dispatched"),
        ("officer", "accept", {}, "officer2", "accepted"),
        ("officer", "depart", {}, "officer2", "en_route"),
        ("officer", "arrive", {"lat": w.inside[0], "lon": w.inside[1]}, "dispatcher", "on_scene"),
        ("officer", "handle", {"handling": {"measure": "on_the_spot_fix", "note": "清理完毕"}}, "inspector", "handled"),
        ("officer", "feed_back", {"note": "已清理"}, "intake", "fed_back"),
        ("inspector", "check", {"passed": True}, "officer", "checked"),
        ("shiftlead", "close", {}, "dispatcher", "closed"),
        ("resident", "evaluate", {"satisfaction": "satisfied"}, "resident2", "evaluated"),
    ]
    for who, action, params, wrong, expected in steps:
        await _refused(client, w, cid, wrong, action, 403 if wrong != "resident2" else 404, **params)
        body = await act(client, w, cid, who, action, **params)
        assert body["status"] == expected, (action, body["status"])
        # An action that was just done cannot be done again from the new state (assign keeps the state).
        if action != "assign":
            await _refused(client, w, cid, who, action, 409, **params)

    final = await _state(client, w, cid)
    assert [e["action"] for e in final["timeline"]] == ["report"] + [s[1] for s in steps]
    assert final["satisfaction"] == "satisfied"
    assert final["officer_id"] == w.users["officer"]
    assert final["case_clock"] is None and final["step_clock"] is None  # closed: no clocks
    assert final["handling"][0]["measure"] == "on_the_spot_fix"
    assert final["allowed_actions"] == []


async def test_dispatch_starts_the_clocks(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "shiftlead", "file")
    body = await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["sanitation"],
                     officer_id=w.users["san_officer"])
    step = body["step_clock"]
    assert step["name"] == "arrive" and step["light"] == "green"
    from datetime import datetime

    started = datetime.fromisoformat(step["started_at"])
    assert (datetime.fromisoformat(step["due_at"]) - started).total_seconds() == 15 * 60
    assert body["case_clock"]["name"] == "case" and body["case_clock"]["light"] in ("green", "yellow", "red")
    await act(client, w, cid, "san_officer", "accept")
    body = await act(client, w, cid, "san_officer", "arrive")
    step = body["step_clock"]
    assert step["name"] == "feedback"
    assert (datetime.fromisoformat(step["due_at"]) - datetime.fromisoformat(step["started_at"])).total_seconds() == 1800


async def test_rework_returns_to_same_department(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    for a, p in (("accept", {}), ("arrive", {}), ("handle", {"handling": {"measure": "warning"}}), ("feed_back", {})):
        await act(client, w, cid, "officer", a, **p)
    await act(client, w, cid, "inspector", "check", passed=False, note="仍有垃圾")
    await act(client, w, cid, "shiftlead", "close", expect=409)  # a failed check cannot be closed
    body = await act(client, w, cid, "shiftlead", "rework")
    assert body["status"] == "dispatched" and body["rework_count"] == 1
    assert body["department_id"] == w.departments["enforcement"] and body["officer_id"] == w.users["officer"]
    assert body["step_clock"]["name"] == "arrive"


async def test_unassigned_task_taken_by_department_officer_only(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"])
    await act(client, w, cid, "san_officer", "accept", expect=404)  # other department cannot even see it
    body = await act(client, w, cid, "officer2", "accept")
    assert body["officer_id"] == w.users["officer2"]
    await act(client, w, cid, "officer", "depart", expect=403)  # now it is officer2's task


async def test_bad_parameters_are_422_naming_the_field(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": "fly"}, headers=w.h("shiftlead"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "action"
    await act(client, w, cid, "shiftlead", "file")
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": "dispatch"}, headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "department_id"
    r = await client.post(f"/api/v1/cases/{cid}/actions",
                          json={"action": "dispatch", "department_id": 999}, headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "department_id"
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": "dispatch", "department_id":
                          w.departments["sanitation"], "officer_id": w.users["officer"]}, headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "officer_id"
    r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": "dispatch", "bogus": 1},
                          headers=w.h("dispatcher"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "bogus"
    assert (await _state(client, w, cid))["status"] == "filed"


async def test_action_retry_with_idempotency_key_is_harmless(client: httpx.AsyncClient, world: World) -> None:
    """The field app's outbox may send an action twice (the answer was lost): the retry must not 409 or act twice."""
    w = world
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=w.users["officer"])
    url = f"/api/v1/cases/{cid}/actions"
    first = await client.post(url, json={"action": "accept"}, headers={**w.h("officer"), "Idempotency-Key": "k-1"})
    again = await client.post(url, json={"action": "accept"}, headers={**w.h("officer"), "Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "accepted"
    assert [e["action"] for e in again.json()["timeline"]].count("accept") == 1
    other = await client.post(url, json={"action": "depart"}, headers={**w.h("officer"), "Idempotency-Key": "k-1"})
    assert other.status_code == 409 and other.json()["error"]["field"] == "Idempotency-Key"
    # A refused move does not burn its key: after fixing the cause the same key works.
    handle = {"action": "handle", "handling": {"measure": "warning"}}
    bad = await client.post(url, json=handle, headers={**w.h("officer"), "Idempotency-Key": "k-2"})
    assert bad.status_code == 409  # not on scene yet
    await act(client, w, cid, "officer", "arrive")
    ok = await client.post(url, json=handle, headers={**w.h("officer"), "Idempotency-Key": "k-2"})
    assert ok.status_code == 200 and ok.json()["status"] == "handled"


async def test_attachments_must_be_evidence_of_the_case(client: httpx.AsyncClient, world: World) -> None:
    w = world
    cid = (await new_case(client, w))["id"]
    for bad in (["999"], ["not-an-id"]):
        r = await client.post(f"/api/v1/cases/{cid}/actions", json={"action": "file", "attachments": bad},
                              headers=w.h("shiftlead"))
        assert r.status_code == 422 and r.json()["error"]["field"] == "attachments"
    assert (await _state(client, w, cid))["status"] == "reported"
