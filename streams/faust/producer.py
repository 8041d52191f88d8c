"""Sends records straight to aiokafka as whole producer batches, and waits for the acks.

Faust's ``send`` hands aiokafka one record at a time from a background task
(its producer buffer), which costs about twice the CPU per record and returns
before the record is acknowledged. The worker sends the outputs and changelog
records of a batch with :meth:`IdempotentProducer.send_batches` instead and
awaits them before the batch's offsets are acked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from faust.exceptions import ProducerSendError
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP

from streams.faust.transactions import transactional_id
from streams.pipeline import Output

if TYPE_CHECKING:
    from streams.faust.app import BridgeApp

#: Producer batch size per partition: a batch of raw records sends many 6-7 KB outputs to
#: each partition, which Faust's default (16 KiB) would spread over many requests, with one
#: request per partition in flight at a time. Requests stay under the broker's default
#: ``message.max.bytes`` (1 MiB).
PRODUCER_MAX_BATCH_BYTES: Final = 512 * 1024
PRODUCER_MAX_REQUEST_BYTES: Final = 1000 * 1024

#: A record to send: topic, key, value (``None``: a tombstone), headers.
Sendable = tuple[str, bytes | None, bytes | None, Sequence[tuple[str, bytes]]]


@dataclass(frozen=True, slots=True)
class Sent:
    """A producer batch acknowledged by the broker: the offset of its last record."""

    topic: str
    partition: int
    last_offset: int


class IdempotentProducer(AIOKafkaProducer):
    """Faust's aiokafka producer with ``enable_idempotence`` on in every mode.

    Faust enables idempotence only in exactly-once mode (its
    ``_settings_extra``, merged into the aiokafka producer's arguments);
    here it is always on (``acks=all``), so producer retries never duplicate
    an output.

    :meth:`send_batches` sends many records to one partition number as whole
    producer batches.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}

    async def send_batches(
        self, records: Sequence[Sendable], partition: int, transactional_id: str | None
    ) -> list[Sent]:
        """Send ``records`` to ``partition`` of their topics and wait for every ack.

        Per topic, in order, as few batches as fit aiokafka's batch size; under
        exactly-once with the transactional producer of ``transactional_id``
        (as Faust's ``send``: from ``_transaction_producers``, holding its lock
        in ``_trn_locks``).
        """
        if transactional_id is None:
            return await _send_batches(self._ensure_producer(), records, partition)
        producer = self._transaction_producers.get(transactional_id)
        if producer is None:
            raise ProducerSendError(f"No transaction producer found for : {transactional_id}")
        async with self._trn_locks[transactional_id]:
            return await _send_batches(producer, records, partition)


async def _send_batches(producer: Any, records: Sequence[Sendable], partition: int) -> list[Sent]:
    """Send ``records`` with the aiokafka ``producer``, per topic in order; wait for the acks."""
    by_topic: dict[str, list[Sendable]] = {}
    for record in records:
        by_topic.setdefault(record[0], []).append(record)
    pending = []
    for topic, group in by_topic.items():
        for builder, count in _builders(producer, group):
            future = await producer.send_batch(builder, topic, partition=partition)
            pending.append((future, count))
    sent = await asyncio.gather(*(future for future, _ in pending))
    return [
        Sent(meta.topic, meta.partition, meta.offset + count - 1)
        for meta, (_, count) in zip(sent, pending, strict=True)
    ]


def _builders(producer: Any, records: Sequence[Sendable]) -> Iterator[tuple[Any, int]]:
    """aiokafka batch builders holding ``records`` in order, each with its record count."""
    builder, count = producer.create_batch(), 0
    for _, key, value, headers in records:
        record = {"key": key, "value": value, "timestamp": None, "headers": list(headers)}
        if builder.append(**record) is None:  # full: the first record always fits
            builder.close()
            yield builder, count
            builder, count = producer.create_batch(), 0
            builder.append(**record)
        count += 1
    builder.close()
    yield builder, count


class RecordSender:
    """Sends records to one partition and waits for every ack.

    Straight to the producer as whole batches (:meth:`IdempotentProducer.send_batches`),
    not through Faust's producer buffer. Under exactly-once each record goes
    with the transactional id of the raw partition being processed: the one
    Faust commits that partition's offsets with. (Faust's own transactional
    ``send`` picks the destination topic's partition and group instead, which
    fails for output topics the app does not consume: they belong to no group,
    and a send from outside a stream lands in a transaction nothing commits.)
    """

    def __init__(self, app: BridgeApp, exactly_once: bool) -> None:
        self.app = app
        self.exactly_once = exactly_once

    async def send(self, records: Sequence[Sendable], partition: int) -> list[Sent]:
        producer = cast(IdempotentProducer, self.app.producer)
        raw = TP(self.app.raw_topic, partition)
        transaction = transactional_id(self.app, raw) if self.exactly_once else None
        return await producer.send_batches(records, partition, transaction)


class OutputSender:
    """Sends a plan's outputs to the source record's partition and waits for the acks."""

    def __init__(self, records: RecordSender) -> None:
        self.records = records

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        if outputs:
            batch = [(o.topic, o.key, o.value, o.headers) for o in outputs]
            await self.records.send(batch, partition)
