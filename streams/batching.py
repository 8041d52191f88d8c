"""Groups a stream of items into batches without waiting for a batch to fill.

A background task collects items from the source while the consumer works
on the previous batch; each time the consumer asks, it gets everything
collected so far (at least one item, at most ``max_size``). So an idle stream
yields each item at once, alone; a backlog yields full batches; and reading
the next batch overlaps with the consumer's work on this one (in the worker:
with its waits for the broker's acks). Nothing waits for items that are not
there, and at most ``max_size`` items wait beside the batch being handled.

No Faust import: the worker passes Faust's event stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Collector(Generic[T]):
    """Moves items from the source into a bounded buffer, in a task of its own."""

    def __init__(self, source: AsyncIterable[T], max_size: int) -> None:
        self.source = source
        self.max_size = max_size
        self.buffer: list[T] = []
        self.finished = False
        #: Set when items were added (or the source ended); cleared when they are taken.
        self.filled = asyncio.Event()
        #: Set when the buffer has room.
        self.room = asyncio.Event()
        self.room.set()

    async def run(self) -> None:
        try:
            async for item in self.source:
                while len(self.buffer) >= self.max_size:
                    self.room.clear()
                    await self.room.wait()
                self.buffer.append(item)
                self.filled.set()
        finally:
            self.finished = True
            self.filled.set()

    def take(self) -> list[T]:
        taken, self.buffer = self.buffer, []
        self.filled.clear()
        self.room.set()
        return taken


async def batches(source: AsyncIterable[T], *, max_size: int) -> AsyncGenerator[list[T], None]:
    """Yield the items of ``source`` in order, as lists of 1 to ``max_size`` items."""
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    collector = _Collector(source, max_size)
    task = asyncio.ensure_future(collector.run())
    try:
        while True:
            if not collector.buffer and not collector.finished:
                await collector.filled.wait()
            if not collector.buffer:
                break  # the source ended
            yield collector.take()
        task.result()  # the source's error, if it ended with one
    finally:
        task.cancel()
