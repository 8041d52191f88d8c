"""Executes the plan of each raw record against the tables and the producer.

No Faust import: the tables are :class:`BytesTable` (Faust tables behind
:class:`streams.app.ChangelogTable` in the worker, :class:`MemoryTable` in
tests) and the producer is a :class:`Sender`.

Order per record: outputs are sent and acknowledged first, the transaction
state is written next, the dedup entry last, each write acknowledged before
the next. A crash at any point therefore repeats outputs on restart (the raw
offset was not committed) but cannot mark a delivery as seen whose outputs
were not durable, nor lose a state change whose delivery is marked seen.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from common.errors import BridgeError
from streams import aggregates, codec, dedup
from streams.dedup import SeenEntry
from streams.metric_store import MetricStore
from streams.pipeline import (
    Delivery,
    Output,
    OutputKind,
    PipelineConfig,
    Plan,
    RawRecord,
    dead_letter,
    plan,
    read,
)
from streams.state_machine import Outcome, TransactionState

log = logging.getLogger(__name__)

#: DLQ error code of a raw record that parsed but could not be processed.
PROCESSING_ERROR = "processing_error"


class PoisonRecord(BridgeError):
    """Deciding what a raw record means failed: a bug, the same on every retry."""


class BytesTable(Protocol):
    """A table of bytes whose writes return once they are durable (changelog acknowledged)."""

    def get(self, key: bytes) -> bytes | None: ...

    def items(self) -> Iterable[tuple[bytes, bytes]]: ...

    async def put(self, key: bytes, value: bytes) -> None: ...

    async def delete(self, keys: Sequence[bytes]) -> None: ...


class MemoryTable:
    """A :class:`BytesTable` in a dict, for tests."""

    def __init__(self, data: dict[bytes, bytes] | None = None) -> None:
        self.data = {} if data is None else data

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return list(self.data.items())

    async def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value

    async def delete(self, keys: Sequence[bytes]) -> None:
        for key in keys:
            self.data.pop(key, None)


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


class OffsetWatch:
    """Raw offsets already handled, per partition and consumer generation.

    Faust may hand the agent a record again within one generation: it seeks
    its partitions back to the committed offsets at the end of recovery while
    already fetched records are still queued (see :class:`streams.app.BridgeApp`).
    Such a repeat was fully processed and acked already; handling it again
    could even emit it twice if its dedup entry expired in between. Raw records
    come from a non-transactional producer, so offsets are contiguous and a
    jump means records never reached the agent.
    """

    def __init__(self) -> None:
        self._last: dict[int, tuple[int, int]] = {}

    def observe(self, partition: int, generation: int, offset: int) -> tuple[bool, int]:
        """``(repeat, skipped)``: whether ``offset`` was handled already in this
        generation, and how many offsets were jumped over right before it."""
        previous = self._last.get(partition)
        if previous is not None and previous[0] == generation:
            if offset <= previous[1]:
                return True, 0
            skipped = offset - previous[1] - 1
        else:
            skipped = 0
        self._last[partition] = (generation, offset)
        return False, skipped


class Processor:
    def __init__(
        self,
        config: PipelineConfig,
        seen: BytesTable,
        states: BytesTable,
        sender: Sender,
        *,
        sweep_interval_ms: int,
        retry_backoff_s: float = 0.5,
        metrics: MetricStore | None = None,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.retry_backoff_s = retry_backoff_s
        #: The metric windows (see :mod:`streams.metric_store`); ``None``: not kept.
        self.metrics = metrics
        #: Wall clock, only for the ingress-to-emit latency.
        self.clock_ms = clock_ms
        self.config = config
        self.seen = seen
        self.states = states
        self.sender = sender
        self.sweep_interval_ms = sweep_interval_ms
        self.stats = ProcessorStats()
        #: Partition -> the newest receive time seen there (its stream time).
        self._stream_time: dict[int, int] = {}
        #: Partition -> stream time of its last sweep (in memory: a restart sweeps at once).
        self._last_sweep: dict[int, int] = {}

    async def handle_reliably(self, record: RawRecord) -> None:
        """:meth:`handle`, retried until it succeeds.

        Errors while sending or writing (Kafka, network, a rebalance) are
        retried forever with backoff: an outage pauses the worker instead of
        losing records. An error while deciding what to emit is a bug that a
        retry cannot fix: the raw record then goes to the DLQ with
        ``fedapay-error=processing_error`` (its bytes are kept), so one poison
        record cannot stop the pipeline.
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handle(record)
                return
            except PoisonRecord as exc:
                log.error(
                    "record cannot be processed, sent to the DLQ",
                    extra={"partition": record.partition, "offset": record.offset},
                    exc_info=exc.__cause__,
                )
                break
            except Exception as exc:
                log.warning(
                    "sending failed, retrying",
                    extra={
                        "partition": record.partition,
                        "offset": record.offset,
                        "attempt": attempt,
                        "error": type(exc).__name__,
                    },
                )
                await asyncio.sleep(min(self.retry_backoff_s * 2 ** (attempt - 1), 30.0))
        failed = dead_letter(record, self.config.topics, PROCESSING_ERROR, "processing failed")
        await self.sender.send([failed], record.partition)
        self.stats.dead_letters += 1

    async def handle(self, record: RawRecord) -> None:
        """Decide, then send the outputs and write the tables (in that order)."""
        self.stats.records += 1
        try:
            decision = self._decide(record)
        except Exception as exc:
            raise PoisonRecord(type(exc).__name__) from exc
        if isinstance(decision, Output):
            await self.sender.send([decision], record.partition)
            self.stats.dead_letters += 1
            if self.metrics is not None:
                at_ms = self._stream_time.get(record.partition, record.timestamp_ms)
                await self.metrics.add(
                    record.partition,
                    record.timestamp_ms,
                    at_ms,
                    aggregates.dead_letter_increments(),
                )
            log.warning(
                "raw record sent to the DLQ",
                extra={"partition": record.partition, "offset": record.offset},
            )
            return
        delivery, result, state_key, seen_key, now_ms = decision
        await self.sender.send(result.outputs, record.partition)
        if state_key is not None and result.state is not None:
            await self.states.put(state_key, codec.encode_state(result.state))
        if self.metrics is not None:
            added = aggregates.increments(delivery, result, self.clock_ms())
            await self.metrics.add(record.partition, delivery.received_at_ms, now_ms, added)
        await self.seen.put(seen_key, codec.encode_seen(result.seen))
        self._count(result.duplicate, result.outputs, result.outcome)
        await self.sweep(record.partition, now_ms)

    def _decide(
        self, record: RawRecord
    ) -> Output | tuple[Delivery, Plan, bytes | None, bytes, int]:
        delivery = read(record, self.config.topics)
        if isinstance(delivery, Output):
            return delivery
        now_ms = max(self._stream_time.get(record.partition, 0), delivery.received_at_ms)
        self._stream_time[record.partition] = now_ms
        seen_key = delivery.dedup_key.encode()
        tx_id = delivery.transaction_id
        state_key = None if tx_id is None else tx_id.encode()
        state = None if state_key is None else self._load_state(state_key)
        result = plan(delivery, self._load_seen(seen_key), state, self.config)
        return delivery, result, state_key, seen_key, now_ms

    async def sweep(self, partition: int, now_ms: int) -> int:
        """Delete the expired dedup keys of ``partition`` if a sweep is due; return how many.

        Runs inside the partition's own event processing, so the deletions (and
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
        if expired:
            await self.seen.delete(expired)
        self.stats.expired_keys += len(expired)
        if self.metrics is not None:
            self.stats.expired_windows += await self.metrics.sweep(partition, now_ms)
        if expired:
            log.info(
                "expired dedup keys removed", extra={"partition": partition, "keys": len(expired)}
            )
        return len(expired)

    def _load_seen(self, key: bytes) -> SeenEntry | None:
        value = self.seen.get(key)
        if value is None:
            return None
        try:
            return codec.decode_seen(value)
        except codec.CorruptValue:
            self.stats.corrupt_values += 1
            log.warning("unreadable dedup entry ignored")
            return None

    def _load_state(self, key: bytes) -> TransactionState | None:
        value = self.states.get(key)
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
