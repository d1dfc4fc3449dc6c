"""The `cityops` command: serve, migrate, seed the demo, import catalog and geography, verify the audit log."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from cityops.config import Settings
from cityops.evaluation.cli import app as report_app
from cityops.media.cli import app as evidence_app
from cityops.open311.cli import app as apikey_app

app = typer.Typer(help="cityops — smart city-management dispatch platform (智慧城管)", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
catalog_app = typer.Typer(help="Classification catalog and filing standards (立案标准)", no_args_is_help=True)
geo_app = typer.Typer(help="Geography: streets, communities, grids, road segments", no_args_is_help=True)
audit_app = typer.Typer(help="Audit log", no_args_is_help=True)
user_app = typer.Typer(help="Users", no_args_is_help=True)
for sub, name in ((db_app, "db"), (catalog_app, "catalog"), (geo_app, "geo"), (audit_app, "audit"),
                  (user_app, "user")):
    app.add_typer(sub, name=name)
app.add_typer(apikey_app, name="apikey")
app.add_typer(evidence_app, name="evidence")
app.add_typer(report_app, name="report")

T = TypeVar("T")


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run one coroutine against a fresh Runtime; AppErrors become a one-line message naming the field."""
    from cityops.errors import AppError
    from cityops.runtime import Runtime

    async def main() -> T:
        rt = Runtime.create(Settings())
        try:
            return await fn(rt)
        finally:
            await rt.close()

    try:
        return asyncio.run(main())
    except AppError as e:
        _fail(f"{e.message}" + (f" (field: {e.field})" if e.field else ""))
    raise AssertionError("unreachable")


@db_app.command("upgrade")
def db_upgrade(revision: str = "heads") -> None:
    """Create or migrate the schema (Alembic)."""
    from cityops.migrate import upgrade

    settings = Settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}: {settings.database_url}")


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          no_sweeper: Annotated[bool, typer.Option("--no-sweeper")] = False,
          osmand_port: Annotated[int | None, typer.Option(
              "--osmand-port", help="also take OsmAnd / Traccar Client reports at / on this port (Traccar: 5055)")
          ] = None) -> None:
    """Serve the API (and run the deadline sweeper)."""
    import os

    import uvicorn

    from cityops.app import create_app
    from cityops.logging import configure

    if osmand_port is not None:
        os.environ["CITYOPS_OSMAND_PORT"] = str(osmand_port)  # worker processes read their settings afresh
    settings = Settings()
    configure(settings.log_level, settings.log_json)
    if workers > 1:
        uvicorn.run("cityops.asgi:app", host=host, port=port, workers=workers, log_level="warning")
    else:
        uvicorn.run(create_app(settings, run_sweeper=not no_sweeper, server_process=True), host=host, port=port,
                    log_level="warning")


@app.command()
def demo(days: int = 21, per_day: float = 5.0, seed: int = 7,
         if_empty: Annotated[bool, typer.Option("--if-empty", help="do nothing if already seeded")] = False,
         months: Annotated[int, typer.Option("--months", help="also bulk-generate this many months of history "
                                             "before the seeded weeks, with planted unfair patterns")] = 0) -> None:
    """Seed an empty database with the demo district around 焦作 and weeks of case history."""
    from cityops.demo.seed import DEMO_PASSWORD, DemoRefused
    from cityops.demo.seed import seed as do_seed
    from cityops.migrate import upgrade

    upgrade(Settings().database_url)

    def progress(done: int, total: int) -> None:
        if done % 10 == 0 or done == total:
            typer.echo(f"\r  cases {done}/{total}", nl=done == total)

    async def go(rt: Any) -> Any:
        return await do_seed(rt, days=days, cases_per_day=per_day, seed_value=seed, progress=progress)

    try:
        result = _run(go)
    except DemoRefused as e:
        if if_empty:
            typer.echo(f"demo data present, not seeding again ({e})")
            return
        _fail(str(e))
    typer.echo(f"demo district: {result.geo}; {result.cases} cases")
    if months:
        from cityops.demo.history import history_end

        async def more(rt: Any) -> Any:
            from cityops.demo.history import generate

            return await generate(rt, months=months, end=history_end(rt, days), seed=seed,
                                  progress=lambda m: typer.echo(f"  history: {m}"))

        h = _run(more)
        typer.echo(f"history {h.period.label}: {h.cases} cases; planted: "
                   + ", ".join(f"{k} {len(v)}" for k, v in h.planted.items()))
    typer.echo(f"logins (password for all: {DEMO_PASSWORD}):")
    for username, p in result.users.items():
        typer.echo(f"  {username:<12} {p.display_name:<10} {', '.join(sorted(p.roles))}")


@catalog_app.command("load-builtin")
def catalog_load_builtin() -> None:
    """Load the shipped (partial) GB/T 30428.2-2013 and GB/T 47678.5-2026 catalogs."""
    from cityops.catalog import service
    from cityops.db import writing

    async def go(rt: Any) -> tuple[int, int]:
        async with rt.sessionmaker() as s, writing(s):
            return await service.load_builtin(s, now=rt.clock())

    cats, conds = _run(go)
    typer.echo(f"loaded {cats} categories and {conds} filing conditions")


@catalog_app.command("import")
def catalog_import(file: Path, replace: bool = False) -> None:
    """Import a bureau's 立案标准 from CSV or XLSX (all rows checked before anything is written)."""
    from cityops.catalog import service
    from cityops.db import writing

    if not file.is_file():
        _fail(f"no such file: {file}")

    async def go(rt: Any) -> dict[str, int]:
        async with rt.sessionmaker() as s, writing(s):
            return await service.import_filing_standard(s, path=file, now=rt.clock(), actor_id=None, replace=replace)

    typer.echo(json.dumps(_run(go), ensure_ascii=False))


@catalog_app.command("template")
def catalog_template(file: Path) -> None:
    """Write an XLSX template of the filing standard to fill in."""
    from cityops.catalog.filing_import import write_template

    write_template(file)
    typer.echo(f"template written: {file}")


@geo_app.command("import")
def geo_import(file: Path, layer: str | None = None, replace: bool = False) -> None:
    """Import a GeoJSON FeatureCollection of streets/communities/grids/roads (all or nothing)."""
    from cityops.db import writing
    from cityops.geo import service
    from cityops.geo.geojson import parse_layer

    if not file.is_file():
        _fail(f"no such file: {file}")
    try:
        lay = parse_layer(layer) if layer else None
    except ValueError as e:
        _fail(f"{e} (field: layer)")
        return

    async def go(rt: Any) -> dict[str, int]:
        async with rt.sessionmaker() as s, writing(s):
            data = await asyncio.to_thread(file.read_bytes)
            return await service.import_geojson(s, data=data, layer=lay, now=rt.clock(), actor_id=None,
                                                replace=replace)

    typer.echo(json.dumps(_run(go), ensure_ascii=False))


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit hash chain; exit 1 and name the first broken entry if it was tampered with."""
    from cityops.audit import service

    async def go(rt: Any) -> Any:
        async with rt.sessionmaker() as s:
            return await service.verify(s)

    r = _run(go)
    if r.ok:
        typer.echo(f"audit chain intact: {r.checked} entries, head {r.head_hash}")
    else:
        typer.secho(f"audit chain BROKEN at entry {r.broken.seq}: {r.broken.reason} ({r.checked} entries read)",
                    fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@user_app.command("create")
def user_create(username: str, display_name: str, roles: Annotated[list[str], typer.Option("--role")],
                password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
                department: str | None = None) -> None:
    """Create a user (e.g. the first admin)."""
    from cityops.auth import service
    from cityops.db import writing
    from cityops.org import service as org_service

    async def go(rt: Any) -> int:
        async with rt.sessionmaker() as s, writing(s):
            dept_id = None
            if department:
                d = await org_service.by_code(s, department)
                if d is None:
                    from cityops.errors import InvalidInput

                    raise InvalidInput(f"no department with code {department!r}", field="department")
                dept_id = d.id
            u = await service.create_user(s, username=username, display_name=display_name, password=password,
                                          roles=roles, now=rt.clock(), department_id=dept_id)
            return u.id

    typer.echo(f"user {username} created (id {_run(go)})")


@app.command()
def sweep() -> None:
    """Run the deadline sweeper once (督办 of overdue cases)."""
    from cityops.case.sweeper import sweep as do_sweep

    async def go(rt: Any) -> list[tuple[int, str]]:
        async with rt.sessionmaker() as s:
            return await do_sweep(rt, s, now=rt.clock())

    won = _run(go)
    typer.echo(f"escalated {len(won)} overdue deadlines")


@app.command()
def simulate(url: str = "http://127.0.0.1:8000", officers: int = 10, interval: float = 2.0, speedup: float = 3.0,
             password: Annotated[str, typer.Option(help="the officers' and admin's password")] = "cityops-demo",
             act: Annotated[bool, typer.Option("--act/--no-act", help="accept, go, handle like the field app")] = True,
             seed: int = 7, wait: float = 60.0) -> None:
    """Move demo officers along the road network, reporting over the real OsmAnd endpoint (Ctrl-C stops)."""
    import logging

    from cityops.tracking.simulate import run

    logging.basicConfig(level=logging.WARNING, format="simulate: %(message)s")
    try:
        asyncio.run(run(url.rstrip("/"), officers=officers, interval=interval, speedup=speedup, password=password,
                        act=act, seed=seed, wait=wait))
    except KeyboardInterrupt:
        pass
    except RuntimeError as e:
        _fail(str(e))


def main() -> None:  # pragma: no cover
    sys.exit(app())
