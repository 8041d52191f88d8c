"""Executes the plans of a batch of raw records against the tables and the producer.

No Faust import: the tables are :class:`streams.staging.DurableTable` (Faust
tables behind :class:`streams.faust.tables.ChangelogTable` in the worker,
:class:`streams.staging.MemoryTable` in tests) and the producer is a :class:`Sender`.

A batch is planned first, in memory and in order: each record reads the
tables through the writes staged by the records before it
(:mod:`streams.staging`). Then it is made durable in three steps, each
acknowledged by the broker before the next starts:

1. every output of the batch;
2. the transaction states and the metric windows it changed;
3. its dedup entries (and the expired ones it removes).

Only then does the caller ack the records' offsets. A crash at any point
therefore repeats outputs on restart (the offsets were not committed) but can
neither mark a delivery as seen whose outputs were not durable, nor lose a
state change whose delivery is marked seen: the guarantees of handling one
record at a time, with three broker round trips per batch instead of four or
more per record.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from opentelemetry.trace import SpanKind, Tracer

from common import tracing
from schemas import headers, keys
from streams import aggregates, codec, dedup
from streams.dedup import SeenEntry
from streams.pipeline import (
    Output,
    OutputKind,
    ParsedEvent,
    PipelineConfig,
    Plan,
    RawRecord,
    dead_letter,
    plan,
    read,
)
from streams.staging import DurableTable, StagedTable
from streams.state_machine import Outcome, TransactionState
from streams.window_store import WindowStore

log = logging.getLogger(__name__)

#: DLQ error code of a raw record that parsed but could not be processed.
PROCESSING_ERROR = "processing_error"

#: Longest pause between two attempts of a failing step.
MAX_BACKOFF_S = 30.0

Step = Callable[[], Awaitable[None]]


class Sender(Protocol):
    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        """Send ``outputs`` to ``partition`` of their topics; return once all are acknowledged."""


@dataclass
class ProcessorStats:
    """Counters since the process started (the metrics stage exports them)."""

    records: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    events: int = 0
    status_records: int = 0
    anomalies: int = 0
    stale: int = 0
    expired_keys: int = 0
    expired_windows: int = 0
    corrupt_values: int = 0


@dataclass(frozen=True, slots=True)
class Planned:
    """A record's plan and the encoded table values it writes."""

    plan: Plan
    seen_key: bytes
    seen: bytes
    state_key: bytes | None
    #: ``None``: the transaction state is not written.
    state: bytes | None
    #: The transaction's index entry (:func:`schemas.keys.index_key`) when this record made
    #: the first state of its endpoint; ``None``: not written.
    index_key: bytes | None
    index: bytes | None
    parsed: ParsedEvent
    #: The partition's stream time.
    now_ms: int


@dataclass
class Batch:
    """The planned outputs of a batch, per raw partition."""

    outputs: dict[int, list[Output]] = field(default_factory=dict)
    #: The parsed deliveries, counted in the metric windows once their outputs are sent.
    planned: list[Planned] = field(default_factory=list)

    def add(self, partition: int, outputs: Sequence[Output]) -> None:
        if outputs:
            self.outputs.setdefault(partition, []).extend(outputs)


def _endpoint(record: RawRecord) -> str:
    """The endpoint a raw record's metrics count under: ``-`` without a valid header."""
    try:
        return keys.endpoint_of(headers.decode(record.headers).get(headers.ENDPOINT))
    except keys.InvalidEndpoint:
        return keys.NO_ENDPOINT


class Processor:
    def __init__(
        self,
        config: PipelineConfig,
        seen: DurableTable,
        states: DurableTable,
        sender: Sender,
        *,
        sweep_interval_ms: int,
        retry_backoff_s: float = 0.5,
        window_store: WindowStore | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        tracer: Tracer | None = None,
    ) -> None:
        self.retry_backoff_s = retry_backoff_s
        #: With tracing on: each record's processing is a span continuing the raw record's
        #: trace, and its outputs carry that span's context (``None``: off).
        self.tracer = tracer
        #: The metric windows (see :mod:`streams.window_store`); ``None``: not kept.
        self.window_store = window_store
        #: Wall clock, only for the ingress-to-emit latency.
        self.clock_ms = clock_ms
        self.config = config
        self.seen = StagedTable(seen)
        self.states = StagedTable(states)
        self.sender = sender
        self.sweep_interval_ms = sweep_interval_ms
        self.stats = ProcessorStats()
        #: Partition -> the newest receive time seen there (its stream time).
        self._stream_time: dict[int, int] = {}
        #: Partition -> stream time of its last sweep (in memory: a restart sweeps at once).
        self._last_sweep: dict[int, int] = {}

    async def process(self, records: Sequence[RawRecord]) -> None:
        """Decide ``records`` (in order) and make the result durable, retrying until it is.

        Errors while sending or writing (Kafka, network, a rebalance) are
        retried forever with backoff, each step on its own: an outage pauses
        the worker instead of losing records. An error while deciding what to
        emit is a bug that a retry cannot fix: that raw record then goes to
        the DLQ with ``fedapay-error=processing_error`` (its bytes are kept),
        so one poison record cannot stop the pipeline.
        """

        async def retried(step: Step, name: str) -> None:
            await self._until_done(step, name, records)

        await self._complete(self.plan_batch(records), retried)

    def plan_batch(self, records: Sequence[RawRecord]) -> Batch:
        """Plan every record in order, staging its table writes; nothing is sent."""
        batch = Batch()
        if self.tracer is None:
            for record in records:
                batch.add(record.partition, self._stage(record, batch))
        else:
            for record in records:
                batch.add(record.partition, self._traced(self.tracer, record, batch))
        return batch

    def _traced(self, tracer: Tracer, record: RawRecord, batch: Batch) -> Sequence[Output]:
        """:meth:`_stage` in a span that continues the raw record's trace; the outputs carry
        the span's context instead of any trace headers they had."""
        with tracer.start_as_current_span(
            f"{self.config.topics.raw} process",
            context=tracing.extract(record.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.config.topics.raw,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
            },
        ) as span:
            outputs = self._stage(record, batch)
            return [
                replace(o, headers=tuple(tracing.replace_trace_headers(o.headers, span)))
                for o in outputs
            ]

    async def _complete(self, batch: Batch, run: Callable[[Step, str], Awaitable[None]]) -> None:
        """The durability steps of ``batch``, in the order that makes a crash safe."""
        await run(lambda: self._send(batch), "outputs")
        self._count_windows(batch)
        await run(self._flush_states, "states")
        await run(self.seen.flush, "dedup")

    async def _until_done(self, step: Step, name: str, records: Sequence[RawRecord]) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await step()
                return
            except Exception as exc:
                first = records[0]
                log.warning(
                    "sending failed, retrying",
                    extra={
                        "step": name,
                        "records": len(records),
                        "partition": first.partition,
                        "offset": first.offset,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                await asyncio.sleep(min(self.retry_backoff_s * 2 ** (attempt - 1), MAX_BACKOFF_S))

    async def _send(self, batch: Batch) -> None:
        await asyncio.gather(*(self.sender.send(o, p) for p, o in batch.outputs.items()))

    async def _flush_states(self) -> None:
        if self.window_store is None:
            await self.states.flush()
        else:
            await asyncio.gather(self.states.flush(), self.window_store.flush())

    def _count_windows(self, batch: Batch) -> None:
        """Stage the metric windows of the batch's deliveries, now that their outputs are
        sent (the ingress-to-emit latency is measured here)."""
        if self.window_store is None or not batch.planned:
            return
        emitted_at_ms = self.clock_ms()
        for planned in batch.planned:
            delivery = planned.parsed
            added = aggregates.increments(delivery, planned.plan, emitted_at_ms)
            partition = delivery.record.partition
            self.window_store.add(
                partition, delivery.endpoint, delivery.received_at_ms, planned.now_ms, added
            )

    def _discard(self) -> None:
        self.seen.discard()
        self.states.discard()
        if self.window_store is not None:
            self.window_store.discard()

    def _stage(self, record: RawRecord, batch: Batch) -> Sequence[Output]:
        """Plan one record and stage its table writes; return its outputs."""
        self.stats.records += 1
        try:
            planned = self._plan_record(record)
        except Exception as exc:
            log.error(
                "record cannot be processed, sent to the DLQ",
                extra={"partition": record.partition, "offset": record.offset},
                exc_info=exc,
            )
            self.stats.dead_letters += 1
            return [dead_letter(record, self.config.topics, PROCESSING_ERROR, "processing failed")]
        if isinstance(planned, Output):
            self._stage_dead_letter(record)
            return [planned]
        partition = record.partition
        if planned.state_key is not None and planned.state is not None:
            self.states.put(partition, planned.state_key, planned.state)
        if planned.index_key is not None and planned.index is not None:
            self.states.put(partition, planned.index_key, planned.index)
        batch.planned.append(planned)
        self.seen.put(partition, planned.seen_key, planned.seen)
        result = planned.plan
        self._count(result.duplicate, result.outputs, result.outcome)
        self.sweep(partition, planned.now_ms)
        return result.outputs

    def _stage_dead_letter(self, record: RawRecord) -> None:
        self.stats.dead_letters += 1
        if self.window_store is not None:
            at_ms = self._stream_time.get(record.partition, record.timestamp_ms)
            self.window_store.add(
                record.partition,
                _endpoint(record),
                record.timestamp_ms,
                at_ms,
                aggregates.dead_letter_increments(),
            )
        log.warning(
            "raw record sent to the DLQ",
            extra={"partition": record.partition, "offset": record.offset},
        )

    def _plan_record(self, record: RawRecord) -> Output | Planned:
        """What ``record`` means: its DLQ record, or its plan with every value to write."""
        delivery = read(record, self.config.topics)
        if isinstance(delivery, Output):
            return delivery
        now_ms = max(self._stream_time.get(record.partition, 0), delivery.received_at_ms)
        self._stream_time[record.partition] = now_ms
        seen_key = delivery.seen_key.encode()
        qualified = delivery.state_key
        state_key = None if qualified is None else qualified.encode()
        state = None if state_key is None else self._load_state(state_key, record.partition)
        result = plan(delivery, self._load_seen(seen_key, record.partition), state, self.config)
        index_key, index = None, None
        if state is None and result.state is not None:
            index_key, index = self._indexed(delivery, record.partition)
        return Planned(
            plan=result,
            seen_key=seen_key,
            seen=codec.encode_seen(result.seen),
            state_key=state_key,
            state=None if result.state is None else codec.encode_state(result.state),
            index_key=index_key,
            index=index,
            parsed=delivery,
            now_ms=now_ms,
        )

    def _indexed(self, delivery: ParsedEvent, partition: int) -> tuple[bytes | None, bytes | None]:
        """The index entry of the delivery's transaction with its endpoint added, if missing."""
        assert delivery.transaction_id is not None
        key = keys.index_key(delivery.transaction_id).encode()
        value = self.states.get(key, partition)
        endpoints: list[str] = []
        if value is not None:
            try:
                endpoints = codec.decode_endpoints(value)
            except codec.CorruptValue:
                self.stats.corrupt_values += 1
                log.warning("unreadable transaction index replaced")
        if delivery.endpoint in endpoints:
            return None, None
        return key, codec.encode_endpoints([*endpoints, delivery.endpoint])

    def sweep(self, partition: int, now_ms: int) -> int:
        """Stage the deletion of the expired dedup keys of ``partition`` if a sweep is due;
        return how many.

        Runs while a record of the partition is planned, so the deletions (and
        their changelog tombstones) belong to that partition, in the same
        transaction as its outputs under exactly-once.
        """
        if not dedup.sweep_due(self._last_sweep.get(partition), now_ms, self.sweep_interval_ms):
            return 0
        self._last_sweep[partition] = now_ms
        entries: list[tuple[bytes, SeenEntry]] = []
        for key, value in self.seen.items():
            try:
                entries.append((key, codec.decode_seen(value)))
            except codec.CorruptValue:
                self.stats.corrupt_values += 1
        expired = dedup.expired_keys(entries, partition, now_ms, self.config.dedup_window_ms)
        self.seen.delete(partition, expired)
        self.stats.expired_keys += len(expired)
        if self.window_store is not None:
            self.stats.expired_windows += self.window_store.sweep(partition, now_ms)
        if expired:
            log.info(
                "expired dedup keys removed", extra={"partition": partition, "keys": len(expired)}
            )
        return len(expired)

    def _load_seen(self, key: bytes, partition: int) -> SeenEntry | None:
        value = self.seen.get(key, partition)
        if value is None:
            return None
        try:
            return codec.decode_seen(value)
        except codec.CorruptValue:
            self.stats.corrupt_values += 1
            log.warning("unreadable dedup entry ignored")
            return None

    def _load_state(self, key: bytes, partition: int) -> TransactionState | None:
        value = self.states.get(key, partition)
        if value is None:
            return None
        try:
            return codec.decode_state(value)
        except codec.CorruptValue:
            self.stats.corrupt_values += 1
            log.warning("unreadable transaction state ignored")
            return None

    def _count(self, duplicate: bool, outputs: Sequence[Output], outcome: Outcome | None) -> None:
        if duplicate:
            self.stats.duplicates += 1
            return
        kinds = [output.kind for output in outputs]
        self.stats.events += kinds.count(OutputKind.EVENT)
        self.stats.status_records += kinds.count(OutputKind.STATUS)
        self.stats.anomalies += kinds.count(OutputKind.ANOMALY)
        if outcome is Outcome.STALE:
            self.stats.stale += 1
