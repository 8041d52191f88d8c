"""Kafka for ``reconcile``, ``dlq redrive`` and ``replay``: one publisher, bounded reads.

Every read stops at the end offsets the topic had when it started, so a tool
that writes back into what it reads (a redriven record failing again) ends.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition

from common.kafka import KafkaSettings
from reconcile.errors import ReconcileError
from reconcile.records import OutgoingRecord
from reconcile.window import Checkpoint
from schemas.topics import Topics
from streams import provision

Consumed: TypeAlias = ConsumerRecord[bytes, bytes]
#: Records sent and not yet acknowledged before :meth:`Publisher.send` waits for them.
MAX_IN_FLIGHT = 1000
#: ``(records read, records to read)`` after each batch.
Progress = Callable[[int, int], None]


class Publisher:
    """An idempotent producer with acks=all; :meth:`flush` waits for every acknowledgement."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._producer = AIOKafkaProducer(
            **kafka.aiokafka_options(), acks="all", enable_idempotence=True
        )
        self._pending: list[asyncio.Future[object]] = []
        self.sent = 0

    async def __aenter__(self) -> Publisher:
        await self._producer.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                await self.flush()
        finally:
            await self._producer.stop()

    async def send(self, record: OutgoingRecord, partition: int | None = None) -> None:
        future = await self._producer.send(
            record.topic, record.value, key=record.key, headers=record.headers, partition=partition
        )
        self._pending.append(future)
        if len(self._pending) >= MAX_IN_FLIGHT:
            await self.flush()

    async def flush(self) -> None:
        """Until the broker acknowledged every record sent so far (raises if one failed)."""
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)
        self.sent += len(pending)


async def read(
    kafka: KafkaSettings,
    topic: str,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    progress: Progress | None = None,
    stall_seconds: float = 60.0,
) -> AsyncIterator[Consumed]:
    """The records of ``topic`` up to its current end, or stamped from ``start_ms`` to ``end_ms``
    when given (each partition read from the first offset stamped ``start_ms`` or later up to
    the first stamped after ``end_ms``; a record stamped out of order in between is skipped).
    Fails when no record arrives for ``stall_seconds`` before the end."""
    counts = await provision.partition_counts(kafka, [topic])
    if topic not in counts:
        raise ReconcileError(f"topic {topic} does not exist")
    partitions = [TopicPartition(topic, p) for p in range(counts[topic])]
    consumer = AIOKafkaConsumer(**kafka.aiokafka_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        starts = await _offsets_at(consumer, partitions, start_ms, beginning=True)
        ends = await _offsets_at(consumer, partitions, None if end_ms is None else end_ms + 1)
        total = sum(max(0, ends[tp] - starts[tp]) for tp in partitions)
        done = 0
        deadline = time.monotonic() + stall_seconds
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        remaining = [tp for tp in partitions if starts[tp] < ends[tp]]
        while remaining:
            if time.monotonic() > deadline:
                raise ReconcileError(f"reading {topic} stalled for {stall_seconds}s before its end")
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=2000)
            if batches:
                deadline = time.monotonic() + stall_seconds
            for tp, batch in batches.items():
                for record in batch:
                    if record.offset >= ends[tp]:
                        continue
                    done += 1
                    in_range = start_ms is None or start_ms <= record.timestamp
                    if in_range and (end_ms is None or record.timestamp <= end_ms):
                        yield record
            if progress is not None and batches:
                progress(done, total)
            remaining = [tp for tp in remaining if await consumer.position(tp) < ends[tp]]
    finally:
        await consumer.stop()


async def _offsets_at(
    consumer: AIOKafkaConsumer,
    partitions: Sequence[TopicPartition],
    at_ms: int | None,
    *,
    beginning: bool = False,
) -> dict[TopicPartition, int]:
    """Per partition: the first offset stamped ``at_ms`` or later (the end when none is); with
    ``at_ms`` ``None``, the beginning or the end."""
    ends: dict[TopicPartition, int] = await consumer.end_offsets(list(partitions))
    if at_ms is None:
        if beginning:
            found: dict[TopicPartition, int] = await consumer.beginning_offsets(list(partitions))
            return found
        return ends
    times = await consumer.offsets_for_times({tp: at_ms for tp in partitions})
    return {tp: ends[tp] if times[tp] is None else times[tp].offset for tp in partitions}


async def latest(kafka: KafkaSettings, topic: str) -> dict[bytes, bytes]:
    """The last value of each key of a (compacted) topic; a tombstone removes its key."""
    values: dict[bytes, bytes] = {}
    async for record in read(kafka, topic):
        if record.key is None:
            continue
        if record.value is None:
            values.pop(record.key, None)
        else:
            values[record.key] = record.value
    return values


# ------------------------------------------------------------------------ checkpoints


async def ensure_checkpoint_topic(
    kafka: KafkaSettings, topics: Topics, replication: int, *, within: float = 30.0
) -> None:
    """The compacted one-partition topic of the checkpoints (created when missing; returns once
    the broker describes it, as a topic just created may not be yet)."""
    name = topics.reconcile_checkpoints
    spec = provision.TopicSpec(name, 1, replication, dict(provision.COMPACT))
    await provision.ensure_topics(kafka, [spec])
    deadline = time.monotonic() + within
    while name not in await provision.partition_counts(kafka, [name]):
        if time.monotonic() > deadline:
            raise ReconcileError(f"topic {name} was created but is not described in {within}s")
        await asyncio.sleep(0.2)


async def load_checkpoint(kafka: KafkaSettings, topics: Topics, endpoint: str) -> Checkpoint | None:
    value = (await latest(kafka, topics.reconcile_checkpoints)).get(endpoint.encode())
    return None if value is None else Checkpoint.from_json(value)


async def save_checkpoint(publisher: Publisher, topics: Topics, checkpoint: Checkpoint) -> None:
    record = OutgoingRecord(
        topics.reconcile_checkpoints, checkpoint.endpoint.encode(), checkpoint.to_json(), []
    )
    await publisher.send(record)
    await publisher.flush()
