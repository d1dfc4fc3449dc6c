"""SingleFlight: callers asking for the same key meanwhile share one computation, its answer and its error; when
the computing caller is cancelled, a waiting caller computes instead."""

from __future__ import annotations

import asyncio

import pytest

from cityops.singleflight import SingleFlight


async def test_concurrent_callers_share_one_computation_and_its_error() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    calls: list[str] = []

    async def compute(key: str) -> int:
        calls.append(key)
        n = len(calls)  # which computation this is
        await asyncio.sleep(0.01)
        if key == "bad":
            raise LookupError(key)
        return n

    answers = await asyncio.gather(*(flights.run("a", lambda: compute("a")) for _ in range(5)),
                                   flights.run("b", lambda: compute("b")))
    assert answers == [1, 1, 1, 1, 1, 2] and calls == ["a", "b"]
    errors = await asyncio.gather(*(flights.run("bad", lambda: compute("bad")) for _ in range(3)),
                                  return_exceptions=True)
    assert all(isinstance(e, LookupError) for e in errors) and calls.count("bad") == 1
    assert await flights.run("a", lambda: compute("a")) == 4  # nothing is cached: a later call computes again


async def test_a_waiter_computes_when_the_computing_caller_is_cancelled() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    started = asyncio.Event()

    async def slow() -> str:
        started.set()
        await asyncio.sleep(10)
        return "slow"

    async def quick() -> str:
        return "quick"

    first = asyncio.create_task(flights.run("k", slow))
    await started.wait()
    waiter = asyncio.create_task(flights.run("k", quick))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await waiter == "quick"
