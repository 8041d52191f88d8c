"""Groups a stream of items into batches without waiting for a batch to fill.

A batch ends when it is full, or when nothing more is waiting
(``more_waiting()`` is false), or when the next item takes longer than
``linger_s`` although something seemed to wait (Faust, for one, drops records
of an older consumer generation from its queue without yielding them). So an
idle stream yields each item at once, alone, and a backlog yields full
batches: the batch grows with the load, and no item waits for others that
are not there.

No Faust import: the worker passes Faust's event stream and a look at its queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import Final, TypeVar

T = TypeVar("T")

_END: Final = object()


async def batches(
    source: AsyncIterable[T],
    *,
    max_size: int,
    more_waiting: Callable[[], bool],
    linger_s: float,
) -> AsyncGenerator[list[T], None]:
    """Yield the items of ``source`` in order, as lists of 1 to ``max_size`` items."""
    if max_size < 1:
        raise ValueError("max_size must be at least 1")
    items = aiter(source)
    ahead: asyncio.Task[object] | None = None
    batch: list[T] = []
    try:
        while True:
            if batch and (len(batch) >= max_size or not more_waiting()):
                yield batch
                batch = []
                continue
            if ahead is None and not batch:
                item = await _next(items)  # nothing to hand over: wait as long as it takes
            else:
                if ahead is None:
                    ahead = asyncio.ensure_future(_next(items))
                if batch and not await _within(ahead, linger_s):
                    yield batch
                    batch = []
                    continue
                item = await ahead
                ahead = None
            if item is _END:
                break
            batch.append(item)  # type: ignore[arg-type]
        if batch:
            yield batch
    finally:
        if ahead is not None:
            ahead.cancel()


async def _next(items: AsyncIterator[T]) -> object:
    try:
        return await anext(items)
    except StopAsyncIteration:
        return _END


async def _within(task: asyncio.Task[object], seconds: float) -> bool:
    """Whether ``task`` is done within ``seconds`` (it keeps running either way)."""
    if task.done():
        return True
    done, _ = await asyncio.wait({task}, timeout=seconds)
    return bool(done)
