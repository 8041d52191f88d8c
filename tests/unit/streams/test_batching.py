"""streams.batching: batches hold what was collected, never wait to fill."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from streams.batching import batches


class Feed:
    """An async source fed by the test (``None`` ends it)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()
        self.taken = 0

    def put(self, *items: int | None) -> None:
        for item in items:
            self.queue.put_nowait(item)

    async def __aiter__(self) -> AsyncIterator[int]:
        while (item := await self.queue.get()) is not None:
            self.taken += 1
            yield item


class Broken:
    async def __aiter__(self) -> AsyncIterator[int]:
        yield 1
        raise ConnectionError("source failed")


async def settle() -> None:
    """Let the collector run until it waits."""
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("queued", "expected"),
    [
        ([1], [[1]]),
        ([1, 2], [[1, 2]]),
        ([1, 2, 3], [[1, 2, 3]]),
        ([1, 2, 3, 4], [[1, 2, 3], [4]]),
        ([1, 2, 3, 4, 5, 6, 7], [[1, 2, 3], [4, 5, 6], [7]]),
    ],
)
async def test_a_backlog_comes_in_full_batches_in_order(
    queued: list[int], expected: list[list[int]]
) -> None:
    feed = Feed()
    feed.put(*queued, None)
    source = batches(feed, max_size=3)
    await settle()

    assert [batch async for batch in source] == expected


@pytest.mark.asyncio
async def test_an_item_alone_is_handed_over_at_once() -> None:
    feed = Feed()
    source = batches(feed, max_size=100)
    feed.put(1)

    first = await asyncio.wait_for(anext(source), timeout=1.0)

    assert first == [1]
    await source.aclose()


@pytest.mark.asyncio
async def test_the_next_batch_is_collected_while_one_is_handled() -> None:
    feed = Feed()
    source = batches(feed, max_size=3)
    feed.put(1)
    assert await anext(source) == [1]

    feed.put(2, 3, 4, 5, 6)  # arrive while [1] is being handled
    await settle()

    assert feed.taken == 5  # 2, 3, 4 collected (max_size), 5 taken and waiting for room
    assert await anext(source) == [2, 3, 4]
    await settle()
    assert await anext(source) == [5, 6]
    await source.aclose()


@pytest.mark.asyncio
async def test_closing_stops_the_collector() -> None:
    feed = Feed()
    source = batches(feed, max_size=100)
    feed.put(1)
    assert await anext(source) == [1]

    await source.aclose()
    feed.put(2)
    await settle()

    assert feed.queue.qsize() == 1  # nobody took it


@pytest.mark.asyncio
async def test_an_error_of_the_source_comes_after_its_items() -> None:
    source = batches(Broken(), max_size=10)

    assert await anext(source) == [1]
    with pytest.raises(ConnectionError, match="source failed"):
        await anext(source)


@pytest.mark.asyncio
async def test_max_size_must_be_positive() -> None:
    source = batches(Feed(), max_size=0)
    with pytest.raises(ValueError, match="max_size"):
        await anext(source)
