"""The agent: hands batches of raw records (:mod:`streams.batching`) to the processor.

Acks are explicit (the stream is ``noack``), each batch is processed and
acked holding :attr:`BridgeApp.processing_guard`, and only records not
finished before (:mod:`streams.offsets`) reach the processor.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import faust
from faust.types import TP, EventT

from streams import batching
from streams.faust.consumer import GuardedConsumer
from streams.faust.tables import BatchEvents
from streams.offsets import Verdict
from streams.pipeline import RawRecord
from streams.processor import Processor

if TYPE_CHECKING:
    from streams.faust.app import BridgeApp

log = logging.getLogger(__name__)

Agent = Callable[[faust.StreamT[bytes]], Awaitable[None]]


def agent(app: BridgeApp, processor: Processor, events: BatchEvents, *, max_batch: int) -> Agent:
    """The agent function of the raw topic, batches of at most ``max_batch`` records."""

    async def process(stream: faust.StreamT[bytes]) -> None:
        # Acks are explicit: Faust acks an event in a ``finally`` even when the
        # agent raised, which would commit the offset of a record whose outputs
        # were never sent. Unacked, it is processed again after a restart.
        manual = cast(faust.Stream[bytes], stream).noack()
        flowing = _while_flowing(app, manual.events())
        source = batching.batches(flowing, max_size=max_batch)
        # Closed with the agent: its collector must not read on once the agent stopped.
        async with contextlib.aclosing(source):
            async for batch in source:
                async with app.processing_guard:
                    await _handle(app, processor, events, manual, batch)

    return process


async def _handle(
    app: BridgeApp,
    processor: Processor,
    events: BatchEvents,
    stream: faust.StreamT[bytes],
    batch: Sequence[EventT[Any]],
) -> None:
    """Process the fresh events of ``batch``, ack all of it, record the fresh ones finished."""
    fresh = await _fresh(app, batch)
    if fresh:
        events.start(fresh)
        await processor.process([raw_record(event.message) for event in fresh])
    for event in batch:
        await stream.ack(event)
    for event in fresh:
        app.offsets.finished(event.message.partition, event.message.offset)


async def _while_flowing(
    app: faust.App, events: AsyncIterable[EventT[Any]]
) -> AsyncIterator[EventT[Any]]:
    """Faust's events, read only while its flow control is active.

    A record the stream reads while flow control is suspended (a rebalance,
    recovery, shutdown) is dropped by Faust's ``Stream`` iterator; the
    pure-Python iterator also acks it (the Cython one, used when its extension
    is installed, does not), so its offset can be committed although the agent
    never saw it: it would be lost. Faust's own agent loop reads only when it
    wants the next event; the batch collector reads ahead all the time, so it
    waits for flow control first.
    """
    iterator = aiter(events)
    while True:
        await app.flow_control.acquire()
        try:
            event = await anext(iterator)
        except StopAsyncIteration:
            return
        yield event


async def _fresh(app: BridgeApp, batch: Sequence[EventT[Any]]) -> list[EventT[Any]]:
    """The events of ``batch`` not finished yet (see :mod:`streams.offsets`).

    Records missing before one of them are fetched again: the partition is
    sought back to the first missing offset (Faust would otherwise commit past
    them as soon as a later record is acked).
    """
    fresh = []
    consumer = cast(GuardedConsumer, app.consumer)
    for event in batch:
        message = event.message
        tp = TP(app.raw_topic, message.partition)
        generation = -1 if message.generation_id is None else message.generation_id
        committed = consumer.committed(tp)
        if committed is None and not app.offsets.counting(message.partition, generation):
            # Faust does not know where this partition starts (it has not sought it yet,
            # or the group never committed it): records before the first one handed over
            # may have been dropped, and nothing would fetch them again. The broker knows.
            committed = await consumer.start_offset(tp)
        seen = app.offsets.observe(message.partition, generation, message.offset, committed)
        if seen.missing_from is not None:
            where = {"partition": message.partition, "offset": message.offset}
            log.warning(
                "raw records missing before this one, fetching them again",
                extra={**where, "from_offset": seen.missing_from},
            )
            await consumer.seek(tp, seen.missing_from)
        if seen.verdict is Verdict.NEW:
            fresh.append(event)
    return fresh


async def refetch_overdue(app: BridgeApp) -> None:
    """Seek again to the raw gaps whose re-fetch did not come (:meth:`OffsetTracker.overdue`),
    between batches, for the partitions this consumer holds now."""
    consumer = cast(GuardedConsumer, app.consumer)
    if app.rebalancing:
        return
    async with app.processing_guard:
        assigned = consumer.assignment()
        for partition, offset in list(app.offsets.overdue(app.consumer_generation_id)):
            tp = TP(app.raw_topic, partition)
            if tp not in assigned:
                continue
            log.warning(
                "raw records still missing, fetching them again",
                extra={"partition": partition, "from_offset": offset},
            )
            await consumer.seek(tp, offset)


def raw_record(message: Any) -> RawRecord:
    """The Faust message of a raw-topic record as a :class:`RawRecord`."""
    headers = message.headers or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return RawRecord(
        key=message.key,
        value=message.value,
        headers=tuple((str(name), bytes(value or b"")) for name, value in pairs),
        partition=int(message.partition),
        offset=int(message.offset),
        timestamp_ms=round(float(message.timestamp) * 1000),
    )
