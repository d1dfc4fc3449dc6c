"""The `cityops` command: clear one-line errors naming the field (exit 2), the demo seeded once, users created
with a prompted password, the sweeper run once."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from typer.testing import CliRunner

from cityops.auth import service as auth_service
from cityops.case import service as case_service
from cityops.case.schemas import CaseCreate
from cityops.cli import app as cli_app
from cityops.db import make_engine
from cityops.demo.district import generate_district
from cityops.runtime import Runtime
from support import World


def cli(db_url: str, *args: str, input: str | None = None) -> Any:
    # Files (the demo's photos) go next to the test's database, never into the checkout's ./var.
    media = Path(tempfile.gettempdir()) / f"cityops-cli-media-{abs(hash(db_url))}"
    return CliRunner().invoke(cli_app, list(args), input=input,
                              env={"CITYOPS_DATABASE_URL": db_url, "CITYOPS_MEDIA_DIR": str(media)})


def query(db_url: str, sql: str, **params: Any) -> list[Any]:
    """Rows of one SQL query on a connection of its own (these tests are synchronous, like the CLI)."""
    async def go() -> list[Any]:
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(go())


# --- geo import ---------------------------------------------------------------------------------------------------


def test_geo_import_missing_file(db_url: str, tmp_path: Path) -> None:
    result = cli(db_url, "geo", "import", str(tmp_path / "missing.json"))
    assert result.exit_code == 2
    assert "no such file" in result.stderr and "missing.json" in result.stderr


def test_geo_import_malformed_file_names_the_field(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    result = cli(db_url, "geo", "import", str(bad))
    assert result.exit_code == 2
    assert "not valid UTF-8 JSON" in result.stderr and "(field: $)" in result.stderr

    nameless = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"layer": "street", "code": "410802001"},
         "geometry": {"type": "Polygon", "coordinates": [[[113, 35], [113.01, 35], [113.01, 35.01], [113, 35]]]}}]}
    bad.write_text(json.dumps(nameless), encoding="utf-8")
    result = cli(db_url, "geo", "import", str(bad))
    assert result.exit_code == 2
    assert "(field: features[0].properties.name)" in result.stderr

    result = cli(db_url, "geo", "import", str(bad), "--layer", "county")
    assert result.exit_code == 2 and "(field: layer)" in result.stderr
    assert query(db_url, "SELECT count(*) FROM areas") == [(0,)]


def test_geo_import_good_file_then_again(db_url: str, tmp_path: Path) -> None:
    streets = tmp_path / "streets.geojson"
    streets.write_text(json.dumps(generate_district().streets, ensure_ascii=False), encoding="utf-8")
    result = cli(db_url, "geo", "import", str(streets), "--layer", "街道")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"street": 3}
    result = cli(db_url, "geo", "import", str(streets))
    assert result.exit_code == 2
    assert "already imported" in result.stderr and "(field: properties.code)" in result.stderr
    assert query(db_url, "SELECT count(*) FROM areas") == [(3,)]


# --- demo ---------------------------------------------------------------------------------------------------------


def test_demo_seeds_once(db_url: str) -> None:
    result = cli(db_url, "demo", "--days", "1", "--per-day", "3")
    assert result.exit_code == 0, result.output
    out = result.stdout
    # 3 cases, all dated yesterday between 07:30 and 18:30, so none is too recent to be walked.
    assert "demo district: {'street': 3, 'community': 12, 'grid': 96, 'road': 58}; 3 cases" in out
    assert "logins (password for all: cityops-demo):" in out
    assert "admin" in out and "commander" in out and "resident2" in out
    # 23 demo people: admin, commander, shift lead, intake, dispatcher, 3 inspectors, 4 department staff,
    # 4 + 2 + 2 + 1 officers, 2 residents.
    users = query(db_url, "SELECT count(*) FROM users")
    assert users == [(23,)]
    assert query(db_url, "SELECT count(*) FROM cases") == [(3,)]

    again = cli(db_url, "demo", "--if-empty")
    assert again.exit_code == 0, again.output
    assert "demo data present, not seeding again" in again.stdout
    assert query(db_url, "SELECT count(*) FROM users") == users
    assert query(db_url, "SELECT count(*) FROM cases") == [(3,)]

    refused = cli(db_url, "demo", "--days", "1")
    assert refused.exit_code == 2 and "already has users" in refused.stderr
    assert query(db_url, "SELECT count(*) FROM users") == users


# --- users --------------------------------------------------------------------------------------------------------


def test_user_create_with_prompted_password(db_url: str) -> None:
    result = cli(db_url, "user", "create", "boss", "局长", "--role", "admin", "--role", "commander",
                 input="long-enough-1\nlong-enough-1\n")
    assert result.exit_code == 0, result.output
    assert "user boss created (id 1)" in result.stdout
    assert "long-enough-1" not in result.stdout  # the prompt hides the input
    rows = query(db_url, "SELECT u.id, u.display_name, u.password_hash, r.role FROM users u "
                         "JOIN user_roles r ON r.user_id = u.id WHERE u.username = 'boss' ORDER BY r.role")
    assert [(r[0], r[1], r[3]) for r in rows] == [(1, "局长", "admin"), (1, "局长", "commander")]
    assert auth_service.verify_password(rows[0][2], "long-enough-1")
    assert not auth_service.verify_password(rows[0][2], "long-enough-2")


def test_user_create_errors_name_the_field(db_url: str) -> None:
    short = cli(db_url, "user", "create", "boss", "局长", "--role", "admin", input="short\nshort\n")
    assert short.exit_code == 2 and "(field: password)" in short.stderr
    bad_role = cli(db_url, "user", "create", "boss", "局长", "--role", "king", input="long-enough-1\nlong-enough-1\n")
    assert bad_role.exit_code == 2 and "(field: roles)" in bad_role.stderr
    no_dept = cli(db_url, "user", "create", "boss", "局长", "--role", "officer", "--department", "fishery",
                  input="long-enough-1\nlong-enough-1\n")
    assert no_dept.exit_code == 2 and "(field: department)" in no_dept.stderr
    assert query(db_url, "SELECT count(*) FROM users") == [(0,)]
    ok = cli(db_url, "user", "create", "boss", "局长", "--role", "admin", input="long-enough-1\nlong-enough-1\n")
    assert ok.exit_code == 0
    taken = cli(db_url, "user", "create", "boss", "另一个", "--role", "admin", input="long-enough-1\nlong-enough-1\n")
    assert taken.exit_code == 2 and "(field: username)" in taken.stderr
    assert query(db_url, "SELECT count(*) FROM users") == [(1,)]


# --- sweep --------------------------------------------------------------------------------------------------------


def test_sweep_on_an_empty_database(db_url: str) -> None:
    result = cli(db_url, "sweep")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "escalated 0 overdue deadlines"


async def test_sweep_escalates_an_overdue_case_once(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                    db_url: str) -> None:
    # Reported 30 days ago and never filed: its one-working-hour filing step is long overdue.
    past = datetime.now(UTC) - timedelta(days=30)
    lat, lon = world.inside
    async with rt.sessionmaker() as s:
        caller = await auth_service.principal_for(s, world.tokens["inspector"], datetime.now(UTC))
        case, created = await case_service.create(rt, s, data=CaseCreate(lat=lat, lon=lon, description="旧案"),
                                                  caller=caller, now=past)
    assert created
    result = await asyncio.to_thread(cli, db_url, "sweep")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "escalated 1 overdue deadlines"
    again = await asyncio.to_thread(cli, db_url, "sweep")
    assert again.stdout.strip() == "escalated 0 overdue deadlines"
    r = await client.get(f"/api/v1/cases/{case.id}", headers=world.h("commander"))
    assert r.json()["escalation_level"] == 1
    assert [e["action"] for e in r.json()["timeline"]] == ["report", "escalate"]
