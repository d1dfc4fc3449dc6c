"""The catalog in the database: built-in editions over the API, codes keyed by edition + kind + code, and a
bureau's filing standard imported all or nothing (service and `cityops catalog import`)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from cityops.catalog import service as catalog_service
from cityops.catalog.filing_import import parse_filing_standard
from cityops.catalog.models import Category, FilingCondition
from cityops.cli import app as cli_app
from cityops.db import writing
from cityops.deadlines.units import TimeUnit
from cityops.errors import InvalidInput
from cityops.runtime import Runtime
from support import World

NEW = "GB/T 47678.5-2026"
OLD = "GB/T 30428.2-2013"
HEADER = ("edition,kind,category_code,category_name,condition_code,description,deadline_value,deadline_unit,"
          "closing_condition,department")
# Two new conditions on existing subclasses and one new subclass (09101 under event class 09).
GOOD_ROWS = [
    f"{NEW},,06010,暴露垃圾,03,在学校周边发现暴露垃圾,2,工作时,垃圾清理干净,sanitation",
    f"{NEW},,09009,机动车乱停放,02,占用盲道停放,1,紧急工作时,车辆已驶离,enforcement",
    f"{NEW},,09101,违规夜市,01,夜市超出核定范围,0.5,自然日,恢复核定范围,enforcement",
]


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


async def _counts(rt: Runtime) -> tuple[int, int]:
    async with rt.sessionmaker() as s:
        cats = await s.scalar(select(func.count()).select_from(Category))
        conds = await s.scalar(select(func.count()).select_from(FilingCondition))
    return int(cats or 0), int(conds or 0)


async def _categories(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    r = await client.get("/api/v1/catalog/categories", params=params)
    assert r.status_code == 200, r.text
    return list(r.json())


async def _import(rt: Runtime, path: Path, replace: bool = False) -> dict[str, int]:
    async with rt.sessionmaker() as s, writing(s):
        return await catalog_service.import_filing_standard(s, path=path, now=datetime.now(UTC), actor_id=None,
                                                            replace=replace)


def _cli(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args), env={"CITYOPS_DATABASE_URL": db_url})


# --- the built-in editions ------------------------------------------------------------------------------------------


async def test_search_finds_exposed_garbage_with_its_conditions(client: httpx.AsyncClient, world: World) -> None:
    found = await _categories(client, edition=NEW, q="垃圾")
    # Name or keyword containing 垃圾 in the 2026 edition: 03 (keyword 垃圾箱), 06 (keyword 垃圾), 06010, 06011, 06042.
    assert [(c["code"], c["kind"]) for c in found] == [
        ("03", "component"), ("06", "event"), ("06010", "event"), ("06011", "event"), ("06042", "event")]
    garbage = next(c for c in found if c["code"] == "06010")
    assert garbage["name"] == "暴露垃圾" and garbage["level"] == "subclass" and garbage["parent_code"] == "06"
    assert garbage["edition"] == NEW and garbage["department_code"] == "sanitation"
    assert [(f["code"], f["deadline_value"], f["deadline_unit"]) for f in garbage["conditions"]] == [
        ("01", 4, "working_hours"), ("02", 8, "working_hours")]
    # English keywords match too, case-insensitively.
    assert [c["code"] for c in await _categories(client, edition=NEW, q="Exposed")] == ["06010"]


async def test_both_editions_are_listed(client: httpx.AsyncClient, world: World) -> None:
    r = await client.get("/api/v1/catalog/editions")
    assert r.status_code == 200
    assert [e["code"] for e in r.json()] == [OLD, NEW]
    assert all(e["name"] for e in r.json())


async def test_old_code_0102_is_both_a_component_and_an_event(client: httpx.AsyncClient, world: World) -> None:
    found = [c for c in await _categories(client, edition=OLD) if c["code"] == "0102"]
    assert sorted((c["kind"], c["name"]) for c in found) == [("component", "污水井盖"), ("event", "暴露垃圾")]
    event = next(c for c in found if c["kind"] == "event")
    assert [(f["code"], f["deadline_value"], f["deadline_unit"]) for f in event["conditions"]] == [
        ("01", 4, "working_hours"), ("02", 8, "working_hours")]


async def test_case_with_ambiguous_old_code_needs_its_kind(client: httpx.AsyncClient, world: World) -> None:
    lat, lon = world.inside
    body = {"lat": lat, "lon": lon, "description": "垃圾", "category_code": "0102", "edition": OLD}
    r = await client.post("/api/v1/cases", json=body, headers=world.h("inspector"))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["field"] == "category_kind" and "污水井盖" in err["message"] and "暴露垃圾" in err["message"]
    listed = await client.get("/api/v1/cases", headers=world.h("commander"))
    assert listed.json()["total"] == 0

    r = await client.post("/api/v1/cases", json={**body, "category_kind": "event"}, headers=world.h("inspector"))
    assert r.status_code == 201, r.text
    assert (r.json()["category_code"], r.json()["category_name"], r.json()["condition_code"]) == (
        "0102", "暴露垃圾", "01")
    r = await client.post("/api/v1/cases", json={**body, "category_kind": "component"}, headers=world.h("inspector"))
    assert r.status_code == 201 and r.json()["category_name"] == "污水井盖"


async def test_unknown_code_and_class_code_are_refused(client: httpx.AsyncClient, world: World) -> None:
    lat, lon = world.inside
    base = {"lat": lat, "lon": lon, "description": "x"}
    r = await client.post("/api/v1/cases", json={**base, "category_code": "99999"}, headers=world.h("inspector"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "category_code"
    r = await client.post("/api/v1/cases", json={**base, "category_code": "06"}, headers=world.h("inspector"))
    assert r.status_code == 422 and "subclasses" in r.json()["error"]["message"]


async def test_builtin_load_is_idempotent(world: World, rt: Runtime) -> None:
    before = await _counts(rt)
    async with rt.sessionmaker() as s, writing(s):
        assert await catalog_service.load_builtin(s, now=datetime.now(UTC)) == (0, 0)
    assert await _counts(rt) == before


# --- importing a bureau's filing standard ---------------------------------------------------------------------------


async def test_import_adds_conditions_and_a_subclass(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                     tmp_path: Path) -> None:
    cats, conds = await _counts(rt)
    summary = await _import(rt, _csv(tmp_path / "standard.csv", GOOD_ROWS))
    assert summary == {"rows": 3, "categories_created": 1, "conditions_created": 3, "conditions_updated": 0}
    assert await _counts(rt) == (cats + 1, conds + 3)
    garbage = next(c for c in await _categories(client, edition=NEW, q="暴露垃圾") if c["code"] == "06010")
    assert [(f["code"], f["deadline_value"], f["deadline_unit"]) for f in garbage["conditions"]] == [
        ("01", 4, "working_hours"), ("02", 8, "working_hours"), ("03", 2, "working_hours")]
    (market,) = await _categories(client, edition=NEW, q="违规夜市")
    assert (market["code"], market["kind"], market["parent_code"], market["department_code"]) == (
        "09101", "event", "09", "enforcement")
    assert [(f["code"], f["deadline_value"], f["deadline_unit"]) for f in market["conditions"]] == [
        ("01", 0.5, "natural_days")]
    # A case can now be filed under the imported condition.
    lat, lon = world.inside
    r = await client.post("/api/v1/cases", json={"lat": lat, "lon": lon, "category_code": "09101",
                                                  "condition_code": "01"}, headers=world.h("inspector"))
    assert r.status_code == 201 and r.json()["category_name"] == "违规夜市"


async def test_bad_unit_in_row_3_changes_nothing(world: World, rt: Runtime, tmp_path: Path) -> None:
    before = await _counts(rt)
    bad = [GOOD_ROWS[0], f"{NEW},,09009,机动车乱停放,02,占用盲道停放,1,小时,车辆已驶离,enforcement"]
    with pytest.raises(InvalidInput) as e:
        await _import(rt, _csv(tmp_path / "bad.csv", bad))
    assert e.value.field == "row 3, deadline_unit" and "小时" in e.value.message
    assert await _counts(rt) == before


async def test_failure_after_earlier_rows_were_written_rolls_back(world: World, rt: Runtime, tmp_path: Path) -> None:
    before = await _counts(rt)
    # Row 2 creates subclass 09102 and its condition; row 3 names a subclass that does not exist, without a name.
    rows = [f"{NEW},,09102,违规灯箱,01,灯箱破损,3,工作日,修复,enforcement",
            f"{NEW},event,09103,,01,不明,1,工作日,处理,enforcement"]
    with pytest.raises(InvalidInput) as e:
        await _import(rt, _csv(tmp_path / "half.csv", rows))
    assert e.value.field == "row 3, category_name"
    assert await _counts(rt) == before
    async with rt.sessionmaker() as s:
        assert await s.scalar(select(Category.id).where(Category.code == "09102")) is None


async def test_cli_import_bad_file_names_row_and_column(world: World, rt: Runtime, db_url: str,
                                                        tmp_path: Path) -> None:
    before = await _counts(rt)
    bad_row = f"{NEW},,09009,机动车乱停放,02,占用盲道停放,1,fortnights,车辆已驶离,"
    bad = _csv(tmp_path / "bad.csv", [GOOD_ROWS[0], bad_row])
    result = await asyncio.to_thread(_cli, db_url, "catalog", "import", str(bad))
    assert result.exit_code == 2, result.output
    assert "(field: row 3, deadline_unit)" in result.stderr and "fortnights" in result.stderr
    assert await _counts(rt) == before
    result = await asyncio.to_thread(_cli, db_url, "catalog", "import", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "no such file" in result.stderr


async def test_cli_import_twice_is_refused_and_replace_updates(client: httpx.AsyncClient, world: World,
                                                              rt: Runtime, db_url: str, tmp_path: Path) -> None:
    cats, conds = await _counts(rt)
    path = _csv(tmp_path / "standard.csv", GOOD_ROWS)
    first = await asyncio.to_thread(_cli, db_url, "catalog", "import", str(path))
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"rows": 3, "categories_created": 1, "conditions_created": 3,
                                        "conditions_updated": 0}
    assert await _counts(rt) == (cats + 1, conds + 3)

    second = await asyncio.to_thread(_cli, db_url, "catalog", "import", str(path))
    assert second.exit_code == 2
    assert "already exists" in second.stderr and "(field: row 2, condition_code)" in second.stderr
    assert await _counts(rt) == (cats + 1, conds + 3)

    # The bureau shortens 06010/03 from 2 to 1.5 working hours and re-imports with --replace.
    _csv(path, [GOOD_ROWS[0].replace(",2,工作时,", ",1.5,工作时,"), *GOOD_ROWS[1:]])
    third = await asyncio.to_thread(_cli, db_url, "catalog", "import", str(path), "--replace")
    assert third.exit_code == 0, third.output
    assert json.loads(third.stdout) == {"rows": 3, "categories_created": 0, "conditions_created": 0,
                                        "conditions_updated": 3}
    assert await _counts(rt) == (cats + 1, conds + 3)
    garbage = next(c for c in await _categories(client, edition=NEW, q="暴露垃圾") if c["code"] == "06010")
    assert [(f["code"], f["deadline_value"]) for f in garbage["conditions"]] == [("01", 4), ("02", 8), ("03", 1.5)]


async def test_cli_template_writes_an_xlsx_that_imports(world: World, rt: Runtime, db_url: str,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "立案标准模板.xlsx"
    result = await asyncio.to_thread(_cli, db_url, "catalog", "template", str(target))
    assert result.exit_code == 0 and "template written" in result.stdout
    rows = parse_filing_standard(target)
    assert [(r.edition, r.kind, r.category_code, r.condition_code, r.deadline_value, r.deadline_unit, r.department)
            for r in rows] == [
        (NEW, "event", "06010", "01", 4.0, TimeUnit.WORKING_HOURS, "sanitation"),
        (NEW, "event", "09009", "01", 3.0, TimeUnit.URGENT_HOURS, "enforcement"),
    ]
    # Its two example conditions are the built-in ones: refused as they are, updated with replace.
    before = await _counts(rt)
    with pytest.raises(InvalidInput) as e:
        await _import(rt, target)
    assert e.value.field == "row 2, condition_code"
    assert await _import(rt, target, replace=True) == {"rows": 2, "categories_created": 0, "conditions_created": 0,
                                                       "conditions_updated": 2}
    assert await _counts(rt) == before
