"""``cityops evidence``: re-hash the store, purge expired uploads, export a file with its chain of custody."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

import cityops.models  # noqa: F401  (every table known: evidence references cases, users)

app = typer.Typer(help="Evidence store (证据): verify, purge, export", no_args_is_help=True)


@app.command("verify")
def verify() -> None:
    """Re-hash every stored file; exit 1 and list the ones that changed or vanished (with their evidence ids)."""
    from cityops.cli import _run
    from cityops.media import maintenance

    async def go(rt: Any) -> maintenance.VerifyReport:
        async with rt.sessionmaker() as s:
            return await maintenance.verify(rt, s, now=rt.clock())

    r = _run(go)
    for d in r.unreferenced:
        typer.echo(f"note: {d} is in the store but no evidence or upload refers to it")
    if r.ok:
        typer.echo(f"evidence store intact: {r.checked} files, {r.bytes} bytes re-hashed")
        return
    for p in r.problems:
        ids = ", ".join(str(i) for i in p.evidence_ids) or "none"
        found = f" (now {p.found_sha256})" if p.found_sha256 else ""
        typer.secho(f"{p.issue.upper()}: {p.what} {p.sha256}{found}; evidence ids: {ids}", fg=typer.colors.RED,
                    err=True)
    typer.secho(f"{len(r.problems)} of {r.checked} stored files changed or vanished", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@app.command("purge-expired")
def purge_expired() -> None:
    """Delete unfinished uploads past their Upload-Expires and stored files nothing refers to any more."""
    from cityops.cli import _run
    from cityops.media import maintenance

    async def go(rt: Any) -> maintenance.PurgeReport:
        async with rt.sessionmaker() as s:
            return await maintenance.purge_expired(rt, s, now=rt.clock())

    r = _run(go)
    typer.echo(f"expired {r.expired_unfinished} unfinished uploads, closed the attach window of "
               f"{r.expired_finished} finished ones, removed {len(r.removed_blobs)} unreferenced stored files")


@app.command("export")
def export(evidence_id: int, out: Annotated[Path, typer.Option(help="folder to write into")] = Path(".")) -> None:
    """Copy an original out with a JSON manifest of its hash and chain of custody (recorded as an export)."""
    from cityops.cli import _run
    from cityops.media import maintenance

    async def go(rt: Any) -> maintenance.Exported:
        async with rt.sessionmaker() as s:
            return await maintenance.export(rt, s, evidence_id=evidence_id, out_dir=out, now=rt.clock())

    r = _run(go)
    typer.echo(f"{r.file} (sha256 {r.sha256})")
    typer.echo(f"{r.manifest}")
