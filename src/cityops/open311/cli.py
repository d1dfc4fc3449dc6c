"""``cityops apikey``: admins issue, list and revoke the API keys of Open311 apps."""

from __future__ import annotations

from typing import Annotated, Any

import typer

import cityops.models  # noqa: F401  (every table known: the key's service user references departments, teams)

app = typer.Typer(help="Open311 API keys (GeoReport v2 apps such as FixMyStreet)", no_args_is_help=True)


@app.command("create")
def create(name: str,
           rate_per_minute: Annotated[int, typer.Option(help="sustained requests per minute")] = 60,
           burst: Annotated[int, typer.Option(help="requests allowed at once")] = 20) -> None:
    """Issue a key; it is printed once and only its hash is kept."""
    from cityops.cli import _run
    from cityops.db import writing
    from cityops.open311 import keys

    async def go(rt: Any) -> tuple[str, int]:
        async with rt.sessionmaker() as s, writing(s):
            plain, row = await keys.create_key(s, name=name, now=rt.clock(), rate_per_minute=rate_per_minute,
                                               burst=burst)
            return plain, row.id

    plain, key_id = _run(go)
    typer.echo(f"API key {name} (id {key_id}, {rate_per_minute}/min, burst {burst}) — shown only now:")
    typer.echo(plain)


@app.command("list")
def list_keys() -> None:
    """Keys with their limits and state (never the keys themselves)."""
    from cityops.cli import _run
    from cityops.open311 import keys

    async def go(rt: Any) -> list[Any]:
        async with rt.sessionmaker() as s:
            return await keys.list_keys(s)

    for k in _run(go):
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "active"
        typer.echo(f"{k.id:>4}  {k.name:<24} {k.key_prefix}…  {k.rate_per_minute}/min burst {k.burst}  {state}")


@app.command("revoke")
def revoke(name: str) -> None:
    """Revoke a key; it stops working within a few seconds on every server process."""
    from cityops.cli import _run
    from cityops.db import writing
    from cityops.open311 import keys

    async def go(rt: Any) -> None:
        async with rt.sessionmaker() as s, writing(s):
            await keys.revoke_key(s, name=name, now=rt.clock())

    _run(go)
    typer.echo(f"API key {name} revoked")
