"""The monthly report: the same figures in JSON (console page), XLSX (tables + charts + heat map) and PDF (charts,
CJK font); a missing font is a 503 that says what to install; `cityops report monthly` writes the files."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cityops.cli import app as cli_app
from cityops.demo.history import generate
from cityops.evaluation.report.fonts import FontMissing, find_font
from cityops.runtime import Runtime
from evaluation.ev_support import Clock, T
from support import World


@pytest.fixture
async def history(rt: Runtime, world: World, clock: Clock) -> None:
    await generate(rt, months=2, end=T(11, 1), per_month=50, seed=4)
    clock.now = T(11, 5)


async def test_the_json_report_compares_with_the_previous_month(ev_client: httpx.AsyncClient, world: World,
                                                                history: None) -> None:
    r = await ev_client.get("/api/v1/evaluation/reports/monthly", params={"month": "2026-10"},
                            headers=world.h("commander"))
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["month"] == "2026-10" and rep["previous"]["month"] == "2026-09"
    ind = await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10"},
                              headers=world.h("commander"))
    prev = await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-09"},
                               headers=world.h("commander"))
    line = {s["key"]: s for s in rep["summary"]}
    now, before = ind.json()["total"]["values"], prev.json()["total"]["values"]
    assert line["filed"]["current"] == now["filed"] > 0 and line["filed"]["previous"] == before["filed"] > 0
    assert line["closing_rate"]["change"] == pytest.approx(now["closing_rate"] - before["closing_rate"])
    # October 2026 has five calendar weeks (Thu 1st … Sat 31st), all present, quiet or not.
    assert [w["label"] for w in rep["weekly"]] == ["10-01~10-04", "10-05~10-11", "10-12~10-18", "10-19~10-25",
                                                   "10-26~10-31"]
    assert sum(w["counts"]["filed"] for w in rep["weekly"]) == now["filed"]
    assert sum(g["filed"] for g in rep["grid"]) == now["filed"] and len(rep["grid"]) == 4
    assert {f["rule"] for f in rep["flags"]} >= {"no_position", "fine_without_order", "equity"}
    assert set(rep["composite"]) == {"department", "street", "officer", "inspector", "intake", "dispatcher"}
    assert all(s["grade"] in "ABCDE" for s in rep["composite"]["department"] if s["score"] is not None)


async def test_the_xlsx_has_tables_charts_and_a_heat_map(ev_client: httpx.AsyncClient, world: World,
                                                         history: None) -> None:
    r = await ev_client.get("/api/v1/evaluation/reports/monthly.xlsx", params={"month": "2026-10"},
                            headers=world.h("shiftlead"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert 'filename="cityops-report-2026-10.xlsx"' in r.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(r.content))
    assert wb.sheetnames == ["概览", "周趋势", "分类", "网格热力", "街道与部门", "综合评价", "监督预警"]
    filed = (await ev_client.get("/api/v1/evaluation/indicators", params={"month": "2026-10"},
                                 headers=world.h("commander"))).json()["total"]["values"]["filed"]
    summary = wb["概览"]
    assert summary["A5"].value == "立案数" and summary["C5"].value == filed
    assert summary["C8"].number_format == "0.0%"  # 结案率 is a number formatted as a percentage, not text
    assert len(wb["周趋势"]._charts) == 2 and len(wb["分类"]._charts) == 1  # noqa: SLF001
    heat = wb["网格热力"]
    assert heat.conditional_formatting  # the colour scale of the map
    # The 2 × 2 test grids sit as on the map: 03 04 on the top row, 01 02 below.
    assert [[heat.cell(r, c).comment.text.split(" ")[0] for c in (1, 2)] for r in (3, 4)] == [
        ["测试社区03网格", "测试社区04网格"], ["测试社区01网格", "测试社区02网格"]]


async def test_the_pdf_embeds_a_cjk_font(ev_client: httpx.AsyncClient, world: World, history: None) -> None:
    r = await ev_client.get("/api/v1/evaluation/reports/monthly.pdf", params={"month": "2026-10"},
                            headers=world.h("commander"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and b"/FontFile2" in r.content  # an embedded TrueType font
    assert len(r.content) > 20_000


async def test_without_a_font_the_pdf_says_what_to_install(rt: Runtime, ev_client: httpx.AsyncClient,
                                                           world: World) -> None:
    rt.settings.evaluation = {"report": {"font": "/nonexistent/font.ttc"}}
    r = await ev_client.get("/api/v1/evaluation/reports/monthly.pdf", params={"month": "2026-10"},
                            headers=world.h("commander"))
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "font_missing" and "/nonexistent/font.ttc" in r.json()["error"]["message"]
    with pytest.raises(FontMissing, match="fonts-wqy-microhei"):
        find_font("", candidates=("/nonexistent/a.ttc",))


@pytest.mark.parametrize("who, status", [("officer", 403), ("resident", 403), ("dispatcher", 403)])
async def test_only_supervisors_read_reports(ev_client: httpx.AsyncClient, world: World, who: str,
                                             status: int) -> None:
    r = await ev_client.get("/api/v1/evaluation/reports/monthly", params={"month": "2026-10"}, headers=world.h(who))
    assert r.status_code == status


async def test_a_bad_month_names_the_field(ev_client: httpx.AsyncClient, world: World) -> None:
    r = await ev_client.get("/api/v1/evaluation/reports/monthly.xlsx", params={"month": "2026-1"},
                            headers=world.h("commander"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "month"


def test_the_cli_seeds_history_and_writes_the_report(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CITYOPS_DATABASE_URL": db_url, "CITYOPS_MEDIA_DIR": str(tmp_path / "media")}
    seeded = runner.invoke(cli_app, ["demo", "--days", "1", "--per-day", "2", "--months", "1"], env=env)
    assert seeded.exit_code == 0, seeded.output
    assert "history" in seeded.output and "planted" in seeded.output
    verify = runner.invoke(cli_app, ["audit", "verify"], env=env)
    assert verify.exit_code == 0 and "intact" in verify.output
    now = datetime.now(UTC)
    last_month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    out = tmp_path / "reports"
    done = runner.invoke(cli_app, ["report", "monthly", "--month", last_month, "--out", str(out), "--format", "xlsx",
                                   "--format", "pdf", "--format", "json"], env=env)
    assert done.exit_code == 0, done.output
    for ext in ("xlsx", "pdf", "json"):
        assert (out / f"cityops-report-{last_month}.{ext}").stat().st_size > 1000
    assert "结案率" in done.output
    bad = runner.invoke(cli_app, ["report", "monthly", "--month", "October", "--out", str(out)], env=env)
    assert bad.exit_code == 2 and "2026-10" in bad.output
