"""streams.batching: batches grow with what is waiting, never wait to fill."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from streams.batching import batches


class Feed:
    """An async source fed by the test; ``waiting`` is what the look at the queue sees."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[int | None] = asyncio.Queue()

    def put(self, *items: int) -> None:
        for item in items:
            self.queue.put_nowait(item)

    def waiting(self) -> bool:
        return not self.queue.empty()

    async def __aiter__(self) -> AsyncIterator[int]:
        while (item := await self.queue.get()) is not None:
            yield item


async def collect(feed: Feed, **options: object) -> list[list[int]]:
    found: list[list[int]] = []
    settings = {"max_size": 3, "more_waiting": feed.waiting, "linger_s": 0.05, **options}
    async for batch in batches(feed, **settings):  # type: ignore[arg-type]
        found.append(list(batch))
    return found


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
    feed.put(*queued)
    feed.queue.put_nowait(None)

    # The end marker is "waiting" too, so the last batch ends at the end of the source.
    assert await collect(feed) == expected


@pytest.mark.asyncio
async def test_an_item_alone_is_handed_over_at_once() -> None:
    feed = Feed()
    source = batches(feed, max_size=100, more_waiting=feed.waiting, linger_s=10.0)
    feed.put(1)

    first = await asyncio.wait_for(anext(source), timeout=1.0)

    assert first == [1]
    await source.aclose()


@pytest.mark.asyncio
async def test_a_batch_is_not_held_when_the_next_item_does_not_come() -> None:
    """The queue looked non-empty, but the item was dropped (e.g. an old generation)."""
    feed = Feed()
    source = batches(feed, max_size=100, more_waiting=lambda: True, linger_s=0.01)
    feed.put(1)

    first = await asyncio.wait_for(anext(source), timeout=1.0)
    feed.put(2)
    second = await asyncio.wait_for(anext(source), timeout=1.0)

    assert (first, second) == ([1], [2])
    await source.aclose()


@pytest.mark.asyncio
async def test_closing_cancels_the_look_ahead() -> None:
    feed = Feed()
    source = batches(feed, max_size=100, more_waiting=lambda: True, linger_s=0.01)
    feed.put(1)
    assert await anext(source) == [1]

    await source.aclose()
    feed.put(2)
    await asyncio.sleep(0.01)

    assert feed.queue.qsize() == 1  # nobody took it


@pytest.mark.asyncio
async def test_max_size_must_be_positive() -> None:
    source = batches(Feed(), max_size=0, more_waiting=lambda: False, linger_s=0.1)
    with pytest.raises(ValueError, match="max_size"):
        await anext(source)
