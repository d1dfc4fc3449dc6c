"""Group commit: items that arrive while a write is in flight are written together in the next transaction.

Under no load a batch is one item, so latency is unchanged; under load the cost per item falls with the batch
size. A failed batch is written again item by item, so one bad item fails alone. Subclasses implement
``write(batch)`` and resolve each item's future with its result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Generic, Protocol, TypeVar

log = logging.getLogger(__name__)


class Item(Protocol):
    future: asyncio.Future[Any]


T = TypeVar("T", bound=Item)


class GroupWriter(Generic[T]):
    max_batch = 200

    def __init__(self) -> None:
        self.queue: list[T] = []
        self.task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> Any:
        self.queue.append(item)
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())
        # A client that goes away cancels only its own future: the batch goes on (the item is still written, as
        # it was accepted), and results are never set on a cancelled future (see ``_fail`` and ``write``).
        return await item.future

    async def close(self) -> None:
        if self.task is not None:
            with contextlib.suppress(Exception):
                await self.task

    async def write(self, batch: list[T]) -> None:
        raise NotImplementedError

    async def _drain(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[: self.max_batch], self.queue[self.max_batch:]
            try:
                await self.write(batch)
            except Exception as batch_error:
                if len(batch) == 1:
                    self._fail(batch[0], batch_error)
                    continue
                log.warning("%s: a batch of %d failed; writing them one by one", type(self).__name__, len(batch),
                            exc_info=True)
                for one in batch:
                    try:
                        await self.write([one])
                    except Exception as e:
                        self._fail(one, e)

    @staticmethod
    def _fail(item: T, exc: BaseException) -> None:
        if not item.future.done():
            item.future.set_exception(exc)
