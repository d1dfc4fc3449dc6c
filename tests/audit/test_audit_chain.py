"""The audit log is a hash chain the database refuses to rewrite; when an owner rewrites it anyway (triggers off),
`GET /api/v1/audit/verify` and `cityops audit verify` name the first broken entry."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from cityops.audit.chain import GENESIS, Break, ChainEntry, entry_hash, find_break
from cityops.audit.models import AuditEntry
from cityops.cli import app as cli_app
from cityops.runtime import Runtime
from support import World, act, new_case

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


# --- pure chain rules -------------------------------------------------------------------------------------------


def _chain(n: int) -> list[ChainEntry]:
    out: list[ChainEntry] = []
    prev = GENESIS
    for seq in range(1, n + 1):
        at = T0 + timedelta(minutes=seq)
        data = f'{{"n":{seq}}}'
        h = entry_hash(seq=seq, at=at, actor_id=7, action="case.report", entity_type="case", entity_id=str(seq),
                       data=data, prev_hash=prev)
        out.append(ChainEntry(seq, at, 7, "case.report", "case", str(seq), data, prev, h))
        prev = h
    return out


def _replace(e: ChainEntry, **changes: Any) -> ChainEntry:
    fields = {k: getattr(e, k) for k in ChainEntry.__dataclass_fields__}
    fields.update(changes)
    return ChainEntry(**fields)


def test_entry_hash_is_sha256_of_the_canonical_body() -> None:
    # The body written out by hand: sorted keys, no spaces, UTF-8 kept, `at` with microseconds.
    body = ('{"action":"case.report","actor_id":null,"at":"2026-11-30T08:00:00.000000+00:00",'
            '"data":"{\\"地址\\":\\"人民路\\"}","entity_id":"12","entity_type":"case","prev_hash":"' + "0" * 64
            + '","seq":1}')
    expected = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert entry_hash(seq=1, at=T0, actor_id=None, action="case.report", entity_type="case", entity_id="12",
                      data='{"地址":"人民路"}', prev_hash=GENESIS) == expected
    # The same instant written in another zone hashes the same once normalised to UTC by the caller.
    assert entry_hash(seq=1, at=T0.astimezone(UTC), actor_id=None, action="case.report", entity_type="case",
                      entity_id="12", data='{"地址":"人民路"}', prev_hash=GENESIS) == expected


def test_find_break_on_intact_and_empty_chains() -> None:
    assert find_break([]) == (0, None)
    assert find_break(_chain(5)) == (5, None)


def test_find_break_names_the_first_bad_entry() -> None:
    c = _chain(5)
    # Edited data of entry 3: its own hash no longer fits.
    checked, broken = find_break([*c[:2], _replace(c[2], data='{"n":99}'), *c[3:]])
    assert checked == 3 and broken is not None and broken.seq == 3 and "edited" in broken.reason
    # Entry 3 deleted: a gap at the next one.
    checked, broken = find_break([*c[:2], *c[3:]])
    assert checked == 3 and broken == Break(4, "sequence gap: expected entry 3, found 4 (deleted row?)")
    # A first entry that does not start from the genesis hash.
    checked, broken = find_break([_replace(c[0], prev_hash="f" * 64), *c[1:]])
    assert checked == 1 and broken is not None and broken.seq == 1 and "prev_hash" in broken.reason
    # A chain that starts at 2 (entry 1 removed).
    checked, broken = find_break(c[1:])
    assert checked == 1 and broken is not None and broken.seq == 2 and "gap" in broken.reason
    # A correctly hashed forgery appended after entry 5 but chained onto entry 4.
    forged_at = T0 + timedelta(hours=1)
    forged_hash = entry_hash(seq=6, at=forged_at, actor_id=1, action="x", entity_type="case", entity_id="1",
                             data="{}", prev_hash=c[3].hash)
    checked, broken = find_break([*c, ChainEntry(6, forged_at, 1, "x", "case", "1", "{}", c[3].hash, forged_hash)])
    assert checked == 6 and broken is not None and broken.seq == 6 and "prev_hash" in broken.reason
    # Two entries swapped: the seq walk notices at once.
    checked, broken = find_break([c[0], c[2], c[1], *c[3:]])
    assert checked == 2 and broken is not None and broken.seq == 3


# --- against the database ----------------------------------------------------------------------------------------


async def _activity(client: httpx.AsyncClient, w: World, rt: Runtime) -> int:
    """A case reported, verified, filed and dispatched over HTTP; returns the case id. No officer is involved, and
    background listeners of case events are waited for, so the log holds a known set of rows afterwards."""
    cid = (await new_case(client, w))["id"]
    await act(client, w, cid, "intake", "send_verify", inspector_id=w.users["inspector2"])
    await act(client, w, cid, "inspector2", "verify", confirmed=True, lat=w.inside[0], lon=w.inside[1])
    await act(client, w, cid, "shiftlead", "file")
    await act(client, w, cid, "dispatcher", "dispatch", department_id=w.departments["sanitation"])
    await _settle(rt)
    return int(cid)


async def _settle(rt: Runtime) -> None:
    """Wait until in-process listeners of case events (field tracking) have handled what was published."""
    try:
        from cityops.tracking.state import state_of
    except ImportError:  # no such listeners
        return
    tracker = state_of(rt).tracker
    if tracker is not None:
        await tracker.settled()


async def _rows(rt: Runtime) -> list[dict[str, Any]]:
    async with rt.engine.connect() as conn:
        rows = await conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.seq))
        return [dict(r._mapping) for r in rows]


async def _verify(client: httpx.AsyncClient, w: World) -> dict[str, Any]:
    r = await client.get("/api/v1/audit/verify", headers=w.h("commander"))
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_verify_after_activity_checks_every_row(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    cid = await _activity(client, world, rt)
    rows = await _rows(rt)
    # The case's own entries, one per step.
    assert [r["action"] for r in rows if r["entity_type"] == "case" and r["entity_id"] == str(cid)] == [
        "case.report", "case.send_verify", "case.verify", "case.file", "case.dispatch"]
    body = await _verify(client, world)
    assert body == {"ok": True, "checked": len(rows), "head_hash": rows[-1]["hash"], "broken": None}
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))


async def test_verify_is_for_supervisors_only(client: httpx.AsyncClient, world: World) -> None:
    assert (await client.get("/api/v1/audit/verify", headers=world.h("admin"))).status_code == 200
    for who in ("dispatcher", "officer", "resident"):
        r = await client.get("/api/v1/audit/verify", headers=world.h(who))
        assert r.status_code == 403, (who, r.text)


async def test_entity_history_lists_the_case_entries(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    cid = await _activity(client, world, rt)
    r = await client.get(f"/api/v1/audit/case/{cid}", headers=world.h("commander"))
    assert r.status_code == 200
    entries = r.json()
    assert [e["action"] for e in entries] == [
        "case.report", "case.send_verify", "case.verify", "case.file", "case.dispatch"]
    assert entries[3]["data"]["from"] == "verified" and entries[3]["data"]["to"] == "filed"
    assert entries[0]["actor_id"] == world.users["inspector"]


async def test_database_refuses_update_and_delete(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    await _activity(client, world, rt)
    before = await _rows(rt)
    target = before[len(before) // 2]
    with pytest.raises(DBAPIError, match="append-only"):
        async with rt.engine.begin() as conn:
            await conn.execute(update(AuditEntry).where(AuditEntry.seq == target["seq"]).values(data='{"x":1}'))
    with pytest.raises(DBAPIError, match="append-only"):
        async with rt.engine.begin() as conn:
            await conn.execute(delete(AuditEntry).where(AuditEntry.seq == target["seq"]))
    with pytest.raises(DBAPIError, match="append-only"):
        async with rt.engine.begin() as conn:
            await conn.execute(delete(AuditEntry))
    assert await _rows(rt) == before
    assert (await _verify(client, world))["ok"] is True


# --- tampering by someone with owner rights ---------------------------------------------------------------------


@pytest.fixture
async def triggers_off(rt: Runtime) -> AsyncIterator[None]:
    """Switch the append-only triggers off, as an owner could; put them back for the next test (PostgreSQL keeps
    the schema between tests)."""
    async with rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        else:
            await conn.execute(text("DROP TRIGGER audit_log_no_update"))
            await conn.execute(text("DROP TRIGGER audit_log_no_delete"))
    try:
        yield
    finally:
        async with rt.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))


async def _shift_up_after(rt: Runtime, seq: int) -> None:
    """Make room at seq + 1: move every later entry one up, highest first (seq is the primary key)."""
    async with rt.engine.begin() as conn:
        later = (await conn.execute(select(AuditEntry.seq).where(AuditEntry.seq > seq)
                                    .order_by(AuditEntry.seq.desc()))).scalars().all()
        for s in later:
            await conn.execute(update(AuditEntry).where(AuditEntry.seq == s).values(seq=s + 1))


def _forged(seq: int, prev_hash: str, digest: str | None = None) -> dict[str, Any]:
    row = {"seq": seq, "at": datetime(2026, 1, 1, tzinfo=UTC), "actor_id": 1, "action": "case.close",
           "entity_type": "case", "entity_id": "1", "data": '{"forged":true}', "prev_hash": prev_hash}
    row["hash"] = digest or entry_hash(**{k: v for k, v in row.items()})
    return row


async def test_edited_row_is_reported_at_its_seq(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                 triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    k = rows[len(rows) // 2]["seq"]
    async with rt.engine.begin() as conn:
        await conn.execute(update(AuditEntry).where(AuditEntry.seq == k).values(data='{"note":"rewritten"}'))
    body = await _verify(client, world)
    assert body["ok"] is False and body["head_hash"] is None
    assert body["broken"]["seq"] == k and "edited" in body["broken"]["reason"]
    assert body["checked"] == k


async def test_deleted_row_leaves_a_gap_at_the_next_seq(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                        triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    k = rows[len(rows) // 2]["seq"]
    async with rt.engine.begin() as conn:
        await conn.execute(delete(AuditEntry).where(AuditEntry.seq == k))
    body = await _verify(client, world)
    assert body["ok"] is False
    assert body["broken"] == {"seq": k + 1,
                              "reason": f"sequence gap: expected entry {k}, found {k + 1} (deleted row?)"}


async def test_inserted_row_with_made_up_hash_is_reported(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                          triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    k = rows[len(rows) // 2]["seq"]
    await _shift_up_after(rt, k)
    async with rt.engine.begin() as conn:
        # Chained onto entry k so only its made-up hash gives it away.
        await conn.execute(insert(AuditEntry).values(**_forged(k + 1, rows[k - 1]["hash"], digest="ab" * 32)))
    assert len(await _rows(rt)) == len(rows) + 1
    body = await _verify(client, world)
    assert body["ok"] is False
    assert body["broken"]["seq"] == k + 1 and "edited" in body["broken"]["reason"]


async def test_inserted_row_with_a_valid_hash_breaks_the_next_link(client: httpx.AsyncClient, world: World,
                                                                   rt: Runtime, triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    k = rows[len(rows) // 2]["seq"]
    await _shift_up_after(rt, k)
    async with rt.engine.begin() as conn:
        # A careful forger computes the hash properly; the old entry k+1 (now k+2) still points at entry k.
        await conn.execute(insert(AuditEntry).values(**_forged(k + 1, rows[k - 1]["hash"])))
    body = await _verify(client, world)
    assert body["ok"] is False
    assert body["broken"]["seq"] == k + 2 and "prev_hash" in body["broken"]["reason"]


async def test_appended_row_with_wrong_prev_hash_is_reported(client: httpx.AsyncClient, world: World, rt: Runtime,
                                                             triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    n = len(rows)
    async with rt.engine.begin() as conn:
        # Points at the second-to-last entry instead of the head.
        await conn.execute(insert(AuditEntry).values(**_forged(n + 1, rows[-2]["hash"])))
    body = await _verify(client, world)
    assert body["ok"] is False and body["checked"] == n + 1
    assert body["broken"]["seq"] == n + 1 and "prev_hash" in body["broken"]["reason"]


async def test_cut_tail_is_caught_only_by_a_recorded_head_hash(client: httpx.AsyncClient, world: World,
                                                               rt: Runtime, triggers_off: None) -> None:
    # What docs/operations.md says: a consistent rewrite (here: the newest entries removed) still walks cleanly;
    # the head hash an operator wrote down earlier is what reveals it.
    await _activity(client, world, rt)
    recorded = await _verify(client, world)
    rows = await _rows(rt)
    async with rt.engine.begin() as conn:
        await conn.execute(delete(AuditEntry).where(AuditEntry.seq > len(rows) - 2))
    after = await _verify(client, world)
    assert after["ok"] is True and after["checked"] == len(rows) - 2
    assert after["head_hash"] == rows[-3]["hash"] != recorded["head_hash"]


# --- the CLI ------------------------------------------------------------------------------------------------------


def _cli_verify(db_url: str) -> Any:
    return CliRunner().invoke(cli_app, ["audit", "verify"], env={"CITYOPS_DATABASE_URL": db_url})


async def test_cli_verify_intact_then_broken(client: httpx.AsyncClient, world: World, rt: Runtime, db_url: str,
                                             triggers_off: None) -> None:
    await _activity(client, world, rt)
    rows = await _rows(rt)
    # The CLI runs its own event loop, so it runs in a thread here.
    result = await asyncio.to_thread(_cli_verify, db_url)
    assert result.exit_code == 0, result.output
    assert f"audit chain intact: {len(rows)} entries, head {rows[-1]['hash']}" in result.stdout
    k = rows[3]["seq"]
    async with rt.engine.begin() as conn:
        await conn.execute(update(AuditEntry).where(AuditEntry.seq == k).values(action="case.close"))
    result = await asyncio.to_thread(_cli_verify, db_url)
    assert result.exit_code == 1, result.output
    assert f"BROKEN at entry {k}" in result.stderr and "edited" in result.stderr
    async with rt.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(AuditEntry)) == len(rows)
