"""Monthly indicators over a million cases, against a plain count of the same month's rows, measured in one run.

    .venv/bin/python bench/report.py [--rows 1000000] [--sqlite-rows N] [--pg-url URL] [--skip-pg] [--skip-sqlite]

For each database: a fresh database (PostgreSQL: cityops_bench_report, dropped and recreated; SQLite: a temporary
file), migrated, with the demo district, catalog and people (`cityops demo --days 0`), then N synthetic cases
spread over 12 months generated inside the database in filing order, as a live system writes them (INSERT …
SELECT over generate_series / a recursive CTE; about
5 % reworked with first-round timeline entries, 1 % suspended once, survey answers on some), then ANALYZE.

Timed (best of 5 after a warm-up), for the last full month (~N/12 cases):
- baseline:  SELECT count(*) FROM cases WHERE filed_at in the month
- indicators: the month's district indicators (cityops.evaluation.service.indicator_table, p90 included)
- report set: what the monthly report computes from indicators — this month, last month, and the breakdowns by
  week, category, street, department and grid (3 passes on PostgreSQL with GROUPING SETS, 7 on SQLite)
and prints the ratios to the baseline. Goal: indicators ≤ 1 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import text  # noqa: E402

from cityops.config import Settings  # noqa: E402
from cityops.evaluation import service  # noqa: E402
from cityops.evaluation.periods import parse_month, previous_month  # noqa: E402
from cityops.migrate import upgrade  # noqa: E402
from cityops.runtime import Runtime  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
MONTH = "2026-10"  # the measured month: the 11th of the 12 generated (2025-12 … 2026-11)
START = parse_month("2025-12", TZ).start
SPAN_S = int((parse_month("2026-11", TZ).end - START).total_seconds())

# Per-row values from the row number g: cheap, deterministic, spread. {g} is the row number expression.
ROW = """
  {g} AS g,
  {start} + ({g} * {span}) / {n} AS t_filed,
  ({g} * 7919) % 100 AS r_status,
  ({g} * 104729) % 100 AS r_rework,
  (({g} * 31) % 15 + 5) * 60 AS d_dispatch,
  (({g} * 17) % 20 + 3) * 60 AS d_arrive,
  (({g} * 13) % 30 + 10) * 60 AS d_handle,
  (({g} * 11) % 20 + 2) * 60 AS d_feedback,
  (({g} * 7) % 60 + 20) * 60 AS d_close,
  (({g} * 19) % 6 + 2) * 3600 AS d_due,
  ({g} * 61) % 10 AS r_channel,
  ({g} * 53) % 10 AS r_sat
"""

INSERT = """
INSERT INTO cases (case_no, status, channel, title, description, address, lat, lon, grid_id, community_id, street_id,
  category_id, condition_id, reporter_id, inspector_id, department_id, officer_id, rework_count, return_count,
  extension_count, due_at, due_provisional, pauses, escalation_level, satisfaction, created_at, updated_at, filed_at,
  dispatched_at, arrived_at, handled_at, fed_back_at, closed_at, version)
SELECT 'B' || r.g,
  CASE WHEN r_status < 3 THEN 'voided' WHEN r_status < 4 THEN 'suspended' WHEN r_status < 7 THEN 'dispatched'
       WHEN r_sat < 3 THEN 'evaluated' ELSE 'closed' END,
  CASE WHEN r_channel < 6 THEN 'inspector' WHEN r_channel < 8 THEN 'public' WHEN r_channel < 9 THEN 'hotline'
       ELSE 'open311' END,
  'bench', '', NULL, 35.23, 113.24, gr.grid_id, gr.community_id, gr.street_id, ca.category_id, ca.condition_id,
  {reporter}, {reporter}, o.department_id, o.officer_id,
  CASE WHEN r_rework < 5 THEN 1 ELSE 0 END, 0, CASE WHEN ({g} * 37) % 100 < 4 THEN 1 ELSE 0 END,
  TS(t_filed + d_dispatch + d_due), {false}, {empty_json}, 0,
  CASE WHEN r_status >= 7 AND r_sat < 3 THEN (CASE WHEN ({g} * 59) % 10 < 9 THEN 'satisfied' ELSE 'dissatisfied' END)
       END,
  TS(t_filed - 600), TS(t_filed + 7200), TS(t_filed), TS(t_filed + d_dispatch),
  CASE WHEN r_status >= 7 THEN TS(t_filed + d_dispatch + d_arrive + CASE WHEN r_rework < 5 THEN 7200 ELSE 0 END)
       END,
  CASE WHEN r_status >= 7 THEN TS(t_filed + d_dispatch + d_arrive + d_handle
       + CASE WHEN r_rework < 5 THEN 7200 ELSE 0 END) END,
  CASE WHEN r_status >= 7 THEN TS(t_filed + d_dispatch + d_arrive + d_handle + d_feedback
       + CASE WHEN r_rework < 5 THEN 7200 ELSE 0 END) END,
  CASE WHEN r_status >= 7 THEN TS(t_filed + d_dispatch + d_arrive + d_handle + d_feedback + d_close
       + CASE WHEN r_rework < 5 THEN 7200 ELSE 0 END) END,
  1
FROM ({rows}) r
JOIN bench_grids gr ON gr.idx = r.g % {ngrids}
JOIN bench_cats ca ON ca.idx = r.g % {ncats}
JOIN bench_officers o ON o.idx = r.g % {nofficers}
ORDER BY r.g
"""


def expand_ts(sql: str, fn: Callable[[str], str]) -> str:
    """Replace every TS(expr) (seconds since the epoch) with the dialect's timestamp expression."""
    out, i = [], 0
    while (j := sql.find("TS(", i)) >= 0:
        depth, k = 1, j + 3
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[k], 0)
            k += 1
        out += [sql[i:j], fn(sql[j + 3:k - 1])]
        i = k
    return "".join(out) + sql[i:]


def pg_ts(x: str) -> str:
    return f"to_timestamp({x})"


def sqlite_ts(x: str) -> str:
    # The text SQLAlchemy stores for a UTC timestamp on SQLite.
    return f"(strftime('%Y-%m-%d %H:%M:%S', {x}, 'unixepoch') || '.000000')"


async def _lookup_tables(conn: Any) -> dict[str, int]:
    """Small id tables to join the generated rows to (grids with their parents, categories, officers)."""
    stmts = [
        "CREATE TEMP TABLE bench_grids AS SELECT (row_number() OVER (ORDER BY g.id)) - 1 AS idx, g.id AS grid_id, "
        "c.id AS community_id, c.parent_id AS street_id FROM areas g JOIN areas c ON c.id = g.parent_id "
        "WHERE g.layer = 'grid'",
        "CREATE TEMP TABLE bench_cats AS SELECT (row_number() OVER (ORDER BY c.id)) - 1 AS idx, c.id AS category_id, "
        "min(f.id) AS condition_id FROM categories c JOIN filing_conditions f ON f.category_id = c.id "
        "WHERE c.level = 'subclass' GROUP BY c.id",
        "CREATE TEMP TABLE bench_officers AS SELECT (row_number() OVER (ORDER BY u.id)) - 1 AS idx, "
        "u.id AS officer_id, u.department_id FROM users u JOIN user_roles r ON r.user_id = u.id "
        "WHERE r.role = 'officer'",
    ]
    for s in stmts:
        await conn.execute(text(s))
    counts = {}
    for t in ("bench_grids", "bench_cats", "bench_officers"):
        counts[t] = (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
    counts["reporter"] = (await conn.execute(text(
        "SELECT min(user_id) FROM user_roles WHERE role = 'inspector'"))).scalar_one()
    return counts


async def generate(rt: Runtime, n: int, pg: bool) -> None:
    async with rt.engine.begin() as conn:
        ids = await _lookup_tables(conn)
        g = "r.g"
        if pg:
            rows = "SELECT " + ROW.format(g="s.g", start=int(START.timestamp()), span=SPAN_S, n=n) + \
                   f" FROM generate_series(1::bigint, {n}) AS s(g)"
        else:
            rows = (f"WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) SELECT "
                    + ROW.format(g="s.g", start=int(START.timestamp()), span=SPAN_S, n=n) + " FROM s")
        sql = INSERT.format(rows=rows, g=g, false="false" if pg else "0",
                            empty_json="'[]'::jsonb" if pg else "'[]'", reporter=ids["reporter"],
                            ngrids=ids["bench_grids"], ncats=ids["bench_cats"], nofficers=ids["bench_officers"])
        await conn.execute(text(expand_ts(sql, pg_ts if pg else sqlite_ts)))
        # First-round timeline entries of reworked cases (the indicator reads them for first arrival/feedback).
        json_list, json_obj = ("'[]'::jsonb", "'{}'::jsonb") if pg else ("'[]'", "'{}'")
        for action, offset in (("arrive", 480), ("feed_back", 2400)):
            at = f"dispatched_at + interval '{offset} seconds'" if pg else \
                f"strftime('%Y-%m-%d %H:%M:%S', julianday(dispatched_at) + {offset} / 86400.0) || '.000000'"
            await conn.execute(text(
                f"INSERT INTO case_events (case_id, action, from_status, to_status, actor_id, actor_role, at, "
                f"attachments, data) SELECT id, '{action}', 'x', 'x', officer_id, 'officer', {at}, {json_list}, "
                f"{json_obj} FROM cases WHERE rework_count > 0 AND case_no LIKE 'B%'"))
        await conn.execute(text(
            "INSERT INTO case_requests (case_id, kind, reason, requested_by, requested_at, decision, decided_by, "
            "decided_at) SELECT id, 'suspend', 'bench', reporter_id, dispatched_at, 'approved', reporter_id, "
            "dispatched_at FROM cases WHERE case_no LIKE 'B%' AND (status = 'suspended' OR id % 97 = 0)"))
        await conn.execute(text(
            "INSERT INTO survey_responses (case_id, channel, satisfaction, responded_at) SELECT id, 'callback', "
            "'basically_satisfied', closed_at FROM cases WHERE case_no LIKE 'B%' AND status = 'closed' "
            "AND channel = 'hotline' AND id % 5 = 0"))
    async with rt.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


async def best(fn: Callable[[], Awaitable[Any]], runs: int = 5) -> float:
    await fn()  # warm-up: caches, plans
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await fn()
        times.append(time.perf_counter() - t0)
    return min(times)


async def measure(rt: Runtime, label: str) -> dict[str, float]:
    period = parse_month(MONTH, TZ)
    prev = previous_month(period, TZ)
    now = datetime(2026, 12, 15, tzinfo=UTC)

    async def baseline() -> int:
        async with rt.sessionmaker() as s:
            return int((await s.execute(text("SELECT count(*) FROM cases WHERE filed_at >= :a AND filed_at < :b"),
                                        {"a": _bind(rt, period.start), "b": _bind(rt, period.end)})).scalar_one())

    async def month_indicators() -> Any:
        async with rt.sessionmaker() as s:
            return await service.indicator_table(rt, s, period=period, now=now)

    async def report_set() -> None:
        async with rt.sessionmaker() as s:
            await service.indicator_table(rt, s, period=period, now=now)
            await service.indicator_table(rt, s, period=prev, now=now)
            await service.breakdowns(rt, s, period=period, now=now,
                                     bys=("week", "category", "street", "department", "grid"))

    rows = await baseline()
    t = await month_indicators()
    v = t.total.values
    print(f"[{label}] month {MONTH}: {rows} cases filed; 结案率 {v['closing_rate']:.3f}, "
          f"按时到场率 {v['on_time_arrival_rate']:.3f}, p90 {v['p90_enforcement_minutes']:.1f} min", flush=True)
    return {"rows": rows, "baseline": await best(baseline), "indicators": await best(month_indicators),
            "report": await best(report_set, runs=3)}


def _bind(rt: Runtime, at: datetime) -> Any:
    return at if not rt.settings.is_sqlite else at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


async def run_db(url: str, n: int, label: str) -> dict[str, float]:
    from cityops.demo.seed import seed

    rt = Runtime.create(Settings(database_url=url, redis_url=None))
    try:
        t0 = time.perf_counter()
        await seed(rt, days=0)
        print(f"[{label}] district, catalog and people seeded ({time.perf_counter() - t0:.1f} s)", flush=True)
        t0 = time.perf_counter()
        await generate(rt, n, pg=not rt.settings.is_sqlite)
        print(f"[{label}] {n} cases generated and analysed ({time.perf_counter() - t0:.1f} s)", flush=True)
        return await measure(rt, label)
    finally:
        await rt.close()


async def reset_pg(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, name = dsn.rpartition("/")
    admin = await asyncpg.connect(f"{base}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def report(label: str, r: dict[str, float]) -> None:
    print(f"{label:<10} rows in month {r['rows']:>8.0f}")
    print(f"{label:<10} baseline count(*)        {r['baseline'] * 1000:9.1f} ms")
    goal = "   (goal <= 1000 ms)" if label == "postgresql" else ""
    print(f"{label:<10} monthly indicators       {r['indicators'] * 1000:9.1f} ms   "
          f"ratio {r['indicators'] / r['baseline']:7.1f}{goal}")
    print(f"{label:<10} report set               {r['report'] * 1000:9.1f} ms   "
          f"ratio {r['report'] / r['baseline']:7.1f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--sqlite-rows", type=int, default=None, help="default: --rows")
    ap.add_argument("--pg-url", default=os.environ.get(
        "CITYOPS_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/cityops_bench_report"))
    ap.add_argument("--skip-pg", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args()
    results: list[tuple[str, dict[str, float]]] = []
    if not args.skip_pg:
        asyncio.run(reset_pg(args.pg_url))
        upgrade(args.pg_url)
        results.append(("postgresql", asyncio.run(run_db(args.pg_url, args.rows, "postgresql"))))
    if not args.skip_sqlite:
        tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-report-"))
        try:
            n = args.sqlite_rows or args.rows
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade(url)
            results.append(("sqlite", asyncio.run(run_db(url, n, "sqlite"))))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"cases in table: {args.rows} (PostgreSQL), {args.sqlite_rows or args.rows} (SQLite); "
          f"month {MONTH}; best of 5 (report set: best of 3)")
    for label, r in results:
        report(label, r)


if __name__ == "__main__":
    main()
