"""The in-process bus: queues for consumers (optionally filtered), watchers for listeners that only note a change,
and nothing left piling up for listeners that do not consume."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx

from cityops.realtime.bus import Bus
from cityops.realtime.events import Audience, CaseChanged
from cityops.runtime import Runtime
from support import World, new_case

AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def _changed(kind: str, case_id: int) -> CaseChanged:
    return CaseChanged(type=kind, case_id=case_id, case_no=f"2026113000{case_id:03d}", action="x",  # type: ignore[arg-type]
                       status="reported", at=AT, department_id=None, officer_id=None, audience=Audience())


async def test_watchers_see_every_event_at_once_and_queues_only_what_they_accept() -> None:
    bus = Bus()
    seen: list[Any] = []
    everything = bus.subscribe(10)
    only_later = bus.subscribe(10, accept=lambda e: e.type != "case.created")
    bus.watch(seen.append)
    events = [_changed("case.created", 1), _changed("case.transitioned", 1), _changed("case.created", 2)]
    await bus.send_event(events)
    assert seen == events  # synchronously, before anything else ran
    assert [everything.get_nowait() for _ in range(everything.qsize())] == events
    assert [only_later.get_nowait() for _ in range(only_later.qsize())] == [events[1]]
    bus.unwatch(seen.append)
    await bus.send_event([_changed("case.created", 3)])
    assert len(seen) == 3
    await bus.close()


async def test_reports_leave_no_backlog_on_the_bus(client: httpx.AsyncClient, world: World, rt: Runtime) -> None:
    # Arrival detection and the Open311 response cache only need to know that cases changed: they watch the bus.
    # Before, they held a queue each that only a position fix or an Open311 read drained, so every report stayed
    # queued (up to 10,000 events) in a server that received neither.
    for i in range(25):
        await new_case(client, world, description=f"第{i}处")
    for _ in range(5):
        await asyncio.sleep(0)  # let the consumers (the live-map hub) take what is theirs
    assert {q.qsize() for q in rt.bus._subscribers} == {0}
