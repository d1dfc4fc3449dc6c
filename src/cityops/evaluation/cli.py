"""`cityops report …`: the monthly report (月度考核报告) as XLSX and PDF files, with a progress bar."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Reports: the monthly evaluation report (月度考核报告)", no_args_is_help=True)
FORMATS = ("xlsx", "pdf", "json")


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option("--month", help="the month to report, e.g. 2026-10")],
    out: Annotated[Path, typer.Option("--out", help="directory for the files")] = Path("."),
    formats: Annotated[list[str] | None, typer.Option("--format", help="xlsx, pdf and/or json (default: xlsx and pdf)")
                       ] = None,
) -> None:
    """Indicators against the previous month, weekly trend, categories, grid heat map, grades and flags."""
    from cityops.config import Settings
    from cityops.errors import AppError
    from cityops.evaluation.config import ConfigError, load
    from cityops.evaluation.periods import PeriodError, parse_month
    from cityops.evaluation.report import monthly as report
    from cityops.runtime import Runtime

    fmts = list(dict.fromkeys(formats or ["xlsx", "pdf"]))
    bad = [f for f in fmts if f not in FORMATS]
    if bad:
        raise typer.BadParameter(f"unknown format {bad[0]!r}; use xlsx, pdf or json", param_hint="--format")
    settings = Settings()
    try:
        from zoneinfo import ZoneInfo

        parse_month(month, ZoneInfo(settings.timezone))
        cfg = load(settings)
    except PeriodError as e:
        raise typer.BadParameter(e.message, param_hint="--month") from None
    except ConfigError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None
    if "pdf" in fmts:  # fail before the long part if no font can render the PDF
        from cityops.evaluation.report.fonts import FontMissing, find_font

        try:
            find_font(cfg.report.font)
        except FontMissing as e:
            typer.secho(f"error: {e.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    with typer.progressbar(length=len(report.STEPS) + len(fmts), label=f"report {month}", show_pos=True) as bar:

        async def go() -> Any:
            rt = Runtime.create(settings)
            try:
                async with rt.sessionmaker() as s:
                    return await report.build(rt, s, month=month, now=rt.clock(), progress=lambda _: bar.update(1))
            finally:
                await rt.close()

        try:
            rep = asyncio.run(go())
        except AppError as e:
            typer.secho(f"\nerror: {e.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None
        for f in fmts:
            path = out / f"cityops-report-{rep.month}.{f}"
            if f == "xlsx":
                from cityops.evaluation.report.xlsx import write_xlsx

                path.write_bytes(write_xlsx(rep))
            elif f == "pdf":
                from cityops.evaluation.report.pdf import write_pdf

                path.write_bytes(write_pdf(rep, font=cfg.report.font, font_index=cfg.report.font_index))
            else:
                path.write_text(json.dumps(report.as_json(rep), ensure_ascii=False, indent=1, default=str), "utf-8")
            written.append(path)
            bar.update(1)
    s = {x.key: x for x in rep.summary}
    typer.echo(f"{rep.title}: 立案 {report.fmt(s['filed'].current, 'count')}，结案率 "
               f"{report.fmt(s['closing_rate'].current, 'rate')}，按期结案率 "
               f"{report.fmt(s['on_time_closing_rate'].current, 'rate')}，满意率 "
               f"{report.fmt(s['satisfaction_rate'].current, 'rate')}；预警 {len(rep.flags)} 条")
    for p in written:
        typer.echo(f"  wrote {p}")
