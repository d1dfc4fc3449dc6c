"""Sign-in, tokens, registration, user and device-credential management — and the rule that every API route
declares who may call it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import event

from cityops.app import create_app
from cityops.auth import service as auth_service
from cityops.auth.models import User
from cityops.db import writing
from cityops.deps import RoleGuard
from cityops.errors import NotAuthenticated
from cityops.runtime import Runtime
from support import PASSWORD, PEOPLE, World, act, new_case


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"username": username, "password": password})


# --- sign in / out ------------------------------------------------------------------------------------------------


async def test_login_gives_a_token_that_works(client: httpx.AsyncClient, world: World) -> None:
    r = await _login(client, "dispatcher", PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["access_token"].startswith("cty_")
    assert body["user"]["username"] == "dispatcher" and body["user"]["roles"] == ["dispatcher"]
    me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"id": world.users["dispatcher"], "username": "dispatcher", "display_name": "dispatcher",
                         "roles": ["dispatcher"], "department_id": None, "is_active": True}
    # Each login is a token of its own; the earlier one keeps working.
    again = (await _login(client, "dispatcher", PASSWORD)).json()["access_token"]
    assert again != body["access_token"]
    assert (await client.get("/api/v1/auth/me", headers=world.h("dispatcher"))).status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_answer(client: httpx.AsyncClient, world: World) -> None:
    wrong = await _login(client, "dispatcher", PASSWORD + "x")
    unknown = await _login(client, "nobody-here", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "wrong username or password"
    assert wrong.headers["www-authenticate"] == "Bearer"


async def test_malformed_login_body_is_422_on_the_body(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/login", content=b'{"username": "officer", ',
                          headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    err = r.json()["error"]
    # The body as a whole is unreadable: no character offset posing as a field name.
    assert err["field"] == "body" and "malformed JSON at character 24" in err["message"]
    r = await client.post("/api/v1/auth/login", json={"username": "officer"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "password"


async def test_expired_token_is_refused(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    now = datetime.now(UTC)
    async with rt.sessionmaker() as s, writing(s):
        user = await s.get(User, world.users["officer"])
        assert user is not None
        token, _ = await auth_service.issue_token(s, user=user, kind="session", now=now - timedelta(hours=2),
                                                  ttl=timedelta(hours=1))
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]


async def test_unknown_token_is_refused_even_on_public_routes(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get("/api/v1/catalog/editions")).status_code == 200
    r = await client.get("/api/v1/catalog/editions", headers=bearer("cty_made-up"))
    assert r.status_code == 401 and r.json()["error"]["message"] == "unknown token"
    r = await client.get("/api/v1/auth/me", headers={"Authorization": "Basic b2ZmaWNlcjpwdw=="})
    assert r.status_code == 401


async def test_requests_that_miss_the_token_cache_together_share_one_lookup(world: World, rt: Runtime) -> None:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM tokens" in statement:
            statements.append(statement)

    event.listen(rt.engine.sync_engine, "before_cursor_execute", count)
    try:
        now = datetime.now(UTC)

        async def ask(token: str) -> Any:
            async with rt.sessionmaker() as s:
                return await auth_service.principal_for(s, token, now)

        auth_service.clear_token_cache()  # as when a busy client's entry expires with 10 requests in flight
        answers = await asyncio.gather(*(ask(world.tokens["dispatcher"]) for _ in range(10)))
        assert {p.user_id for p in answers} == {world.users["dispatcher"]} and len(statements) == 1
        statements.clear()
        wrong = await asyncio.gather(*(ask("cty_not-a-token") for _ in range(10)), return_exceptions=True)
        assert all(isinstance(e, NotAuthenticated) for e in wrong) and len(statements) == 1
    finally:
        event.remove(rt.engine.sync_engine, "before_cursor_execute", count)


async def test_logout_revokes_the_token(client: httpx.AsyncClient, world: World) -> None:
    token = (await _login(client, "officer", PASSWORD)).json()["access_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200  # now cached
    r = await client.post("/api/v1/auth/logout", headers=bearer(token))
    assert r.status_code == 204
    r = await client.get("/api/v1/auth/me", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    # Only that token: the officer's other session still works.
    assert (await client.get("/api/v1/auth/me", headers=world.h("officer"))).status_code == 200


# --- residents sign themselves up ---------------------------------------------------------------------------------


async def test_resident_registers_and_gets_only_the_resident_role(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/register", json={"username": "lin.nvshi", "password": "long-enough-1",
                                                          "display_name": "林女士", "phone": "13800001234"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["user"]["roles"] == ["resident"] and body["user"]["username"] == "lin.nvshi"
    token = body["access_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["roles"] == ["resident"]
    r = await client.get("/api/v1/users", headers=bearer(token))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # The new account signs in with its password.
    assert (await _login(client, "lin.nvshi", "long-enough-1")).status_code == 200


async def test_register_cannot_ask_for_roles(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/register", json={"username": "sneaky", "password": "long-enough-1",
                                                          "display_name": "x", "roles": ["admin"]})
    assert r.status_code == 422 and r.json()["error"]["field"] == "roles"
    assert (await _login(client, "sneaky", "long-enough-1")).status_code == 401


async def test_register_short_password_is_422(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/register", json={"username": "shorty", "password": "1234567",
                                                          "display_name": "短"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "password"
    assert (await _login(client, "shorty", "1234567")).status_code == 401  # nothing was created


async def test_register_taken_username_is_409(client: httpx.AsyncClient, world: World) -> None:
    before = await client.get("/api/v1/users", headers=world.h("admin"))
    r = await client.post("/api/v1/auth/register", json={"username": "officer", "password": "long-enough-1",
                                                          "display_name": "冒名"})
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "username" and "taken" in r.json()["error"]["message"]
    after = await client.get("/api/v1/users", headers=world.h("admin"))
    assert after.json() == before.json()
    assert len(after.json()) == len(PEOPLE)


# --- staff accounts -----------------------------------------------------------------------------------------------


async def test_admin_creates_a_user_with_roles(client: httpx.AsyncClient, world: World) -> None:
    enf = world.departments["enforcement"]
    body = {"username": "zhou", "password": "long-enough-1", "display_name": "周队员",
            "roles": ["officer", "department"], "department_id": enf}
    r = await client.post("/api/v1/users", json=body, headers=world.h("admin"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["roles"] == ["department", "officer"] and created["department_id"] == enf
    assert created["username"] == "zhou" and created["is_active"] is True
    token = (await _login(client, "zhou", "long-enough-1")).json()["access_token"]
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).json()["id"] == created["id"]
    listed = await client.get("/api/v1/users", params={"role": "department", "department_id": enf},
                              headers=world.h("admin"))
    assert sorted(u["username"] for u in listed.json()) == ["enf_staff", "zhou"]


async def test_admin_create_user_validates(client: httpx.AsyncClient, world: World) -> None:
    base = {"username": "wuyi", "password": "long-enough-1", "display_name": "吴"}
    r = await client.post("/api/v1/users", json={**base, "roles": ["wizard"]}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"].startswith("roles")
    r = await client.post("/api/v1/users", json={**base, "roles": []}, headers=world.h("admin"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "roles"
    r = await client.post("/api/v1/users", json={**base, "roles": ["officer"], "department_id": 999},
                          headers=world.h("admin"))
    assert r.status_code == 404 and r.json()["error"]["field"] == "department_id"
    r = await client.post("/api/v1/users", json={**base, "username": "admin", "roles": ["officer"]},
                          headers=world.h("admin"))
    assert r.status_code == 409 and r.json()["error"]["field"] == "username"
    assert (await _login(client, "wuyi", "long-enough-1")).status_code == 401


@pytest.mark.parametrize("who", ["commander", "dispatcher", "officer", "resident"])
async def test_only_admin_creates_users(client: httpx.AsyncClient, world: World, who: str) -> None:
    body = {"username": f"by-{who}", "password": "long-enough-1", "display_name": "x", "roles": ["admin"]}
    r = await client.post("/api/v1/users", json=body, headers=world.h(who))
    assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
    assert (await _login(client, f"by-{who}", "long-enough-1")).status_code == 401


# --- device credentials -------------------------------------------------------------------------------------------


async def test_device_token_acts_for_its_officer(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    w = world
    officer = w.users["officer"]
    r = await client.post(f"/api/v1/users/{officer}/device-tokens", json={"label": "执法记录仪-07"},
                          headers=w.h("admin"))
    assert r.status_code == 201, r.text
    assert r.json()["label"] == "执法记录仪-07" and r.json()["token_type"] == "bearer"
    device = bearer(r.json()["access_token"])

    async with rt.sessionmaker() as s:
        p = await auth_service.principal_for(s, r.json()["access_token"], datetime.now(UTC))
    assert p.roles == frozenset({"device"}) and p.user_id == officer and p.token_kind == "device"

    mine = (await new_case(client, w))["id"]
    await act(client, w, mine, "shiftlead", "file")
    await act(client, w, mine, "dispatcher", "dispatch", department_id=w.departments["enforcement"],
              officer_id=officer)
    other = (await new_case(client, w))["id"]
    await act(client, w, other, "shiftlead", "file")
    await act(client, w, other, "dispatcher", "dispatch", department_id=w.departments["sanitation"],
              officer_id=w.users["san_officer"])

    assert (await client.get(f"/api/v1/cases/{mine}", headers=device)).status_code == 200
    assert (await client.get(f"/api/v1/cases/{other}", headers=device)).status_code == 404
    listed = (await client.get("/api/v1/cases", headers=device)).json()
    assert [c["id"] for c in listed["items"]] == [mine]
    # A device is not its officer: staff-only reads are refused; the officer's own session may.
    assert (await client.get("/api/v1/departments", headers=device)).status_code == 403
    assert (await client.get("/api/v1/departments", headers=w.h("officer"))).status_code == 200
    # It reports arrival for its officer.
    await act(client, w, mine, "officer", "accept")
    r = await client.post(f"/api/v1/cases/{mine}/actions", json={"action": "arrive"}, headers=device)
    assert r.status_code == 200 and r.json()["status"] == "on_scene"


async def test_device_tokens_are_issued_by_admin_only(client: httpx.AsyncClient, world: World) -> None:
    officer = world.users["officer"]
    r = await client.post(f"/api/v1/users/{officer}/device-tokens", json={"label": "x"},
                          headers=world.h("enf_staff"))
    assert r.status_code == 403
    r = await client.post("/api/v1/users/9999/device-tokens", json={"label": "x"}, headers=world.h("admin"))
    assert r.status_code == 404 and r.json()["error"]["field"] == "user_id"


# --- every route declares its roles -------------------------------------------------------------------------------


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute, Any]]:
    """(full path, route, dependant) of every API route. Since FastAPI 0.137 `app.routes` holds included routers
    as nodes of a tree rather than copies of their routes, so walk it through FastAPI's own iterator."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is flat
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path, route, route.dependant
        return
    for ctx in iter_route_contexts(app.routes):
        route = ctx.original_route
        if isinstance(route, APIRoute):
            yield str(ctx.path), route, getattr(ctx, "dependant", route.dependant)


def _guards(dependant: Any) -> list[RoleGuard]:
    found = [d.call for d in dependant.dependencies if isinstance(d.call, RoleGuard)]
    for d in dependant.dependencies:
        found += _guards(d)
    return found


def test_every_api_route_declares_its_roles() -> None:
    routes = [(p, r, d) for p, r, d in _api_routes(create_app()) if p.startswith("/api/")]
    paths = {p for p, _, _ in routes}
    # Guard against walking nothing: these must be among them.
    assert {"/api/v1/auth/login", "/api/v1/cases", "/api/v1/audit/verify", "/api/v1/geo/import"} <= paths
    assert len(routes) >= 20
    offenders = [f"{sorted(r.methods)} {p}" for p, r, d in routes if not _guards(d)]
    assert not offenders, f"routes without allow()/public(): {offenders}"
    # A route that is not public names at least one role.
    empty = [f"{sorted(r.methods)} {p}" for p, r, d in routes if any(not g.public and not g.roles for g in _guards(d))]
    assert not empty, f"routes that allow nobody: {empty}"


async def test_every_protected_route_needs_a_token(client: httpx.AsyncClient, world: World) -> None:
    checked = []
    for path, route, dependant in _api_routes(create_app()):
        if not path.startswith("/api/") or any(g.public for g in _guards(dependant)):
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        for method in sorted(route.methods):
            r = await client.request(method, url, json={} if method not in ("GET", "HEAD") else None)
            assert r.status_code == 401, f"{method} {url}: {r.status_code} {r.text}"
            assert r.headers["www-authenticate"] == "Bearer"
            if method != "HEAD":  # a HEAD answer has no body
                assert r.json()["error"]["code"] == "not_authenticated"
            checked.append(f"{method} {path}")
    assert "GET /api/v1/cases/{case_id}" in checked and "GET /api/v1/audit/{entity_type}/{entity_id}" in checked
    assert "POST /api/v1/geo/import" in checked and "GET /api/v1/auth/me" in checked


def test_staff_routes_are_not_public_and_portal_routes_are() -> None:
    public = {f"{sorted(r.methods)[0]} {p}" for p, r, d in _api_routes(create_app())
              if p.startswith("/api/") and any(g.public for g in _guards(d))}
    # What the public portal needs without signing in.
    assert {"GET /api/v1/catalog/categories", "GET /api/v1/catalog/editions", "GET /api/v1/geo/layers/{layer}",
            "GET /api/v1/geo/locate", "POST /api/v1/auth/login", "POST /api/v1/auth/register"} <= public
    # Nothing that manages people, history or the district is open.
    leaked = [r for r in public if any(part in r for part in ("/users", "/audit", "/geo/import", "/auth/me",
                                                                "/auth/logout", "/departments", "/calendar"))]
    assert not leaked, f"public routes that should need a role: {leaked}"


async def test_usernames_are_case_insensitive(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post("/api/v1/auth/register", json={"username": "Officer", "password": "long-enough-pw",
                                                        "display_name": "x"})
    assert r.status_code == 409 and r.json()["error"]["field"] == "username"  # "officer" exists in the world
    r = await client.post("/api/v1/auth/login", json={"username": "DISPATCHER", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["user"]["username"] == "dispatcher"
