"""The Faust app of the workers, built from :class:`WorkerSettings` (no module-level app).

Everything Faust-specific lives here: the app and its configuration, the raw
topic, the tables, the producer, and one thin agent that hands batches of
raw records (:mod:`streams.batching`) to :class:`streams.processor.Processor`;
the web routes are in :mod:`streams.web`.

Workarounds of Faust behaviour, each tied to its cause:

* Idempotent producer: Faust enables idempotence only in exactly-once mode;
  :class:`IdempotentProducer` enables it always (``acks=all``), so producer
  retries never duplicate an output.
* Exactly-once sends: Faust's transaction manager picks a record's transaction
  from the destination topic's own partition and consumer group, which fails
  for output topics the app does not consume (they belong to no group, and a
  send from outside a stream lands in a transaction nothing commits).
  :class:`RecordSender` sends every output and changelog record with the
  transactional id of the raw partition being processed, the one Faust
  commits that partition's offsets with.
* Stream queues are never cleared on resume (faust-streaming issue #596),
  see :meth:`BridgeApp.FlowControlQueue`.
* Exactly-once commits: Faust commits while records are being processed;
  :class:`GuardedConsumer` makes commits wait for the batch in progress.
* Exactly-once recovery after a rebalance: Faust reads the changelog end
  offsets from a value that is unknown right after an assignment (-1), so it
  skips recovery or fails with ``ConsistencyError``; see
  :meth:`GuardedConsumer.highwaters`.
* Exactly-once producers of lost partitions: Faust keeps them when the worker
  stays a standby of the partition, and reuses them, fenced, when the partition
  comes back; see :class:`ReassigningTransactionManager`.
* Table writes: :class:`ChangelogTable` sends and awaits the changelog
  records of a batch instead of leaving them in Faust's producer buffer, so
  they are in the same transaction as the outputs (and durable before the
  records' offsets are acked); :class:`BatchEvents` gives each read and write
  of a batch the partition Faust's RocksDB store expects.
* Fetch stalls: Faust's consumer long-polls 1.5 s, and aiokafka then cannot
  fetch partitions drained meanwhile; see :class:`ShortPollConsumerThread`.
* Commits past unfinished records: Faust commits the first run of acked
  offsets wherever it starts, and acks records it skips in a rebalance;
  :meth:`GuardedConsumer._new_offset` caps each commit at the first raw offset
  the agent has not finished, and missing records are fetched again.
* Exactly-once with RocksDB: Faust writes table values to RocksDB as they are
  set, outside the Kafka transaction, so after a crash the local store may hold
  writes of an aborted transaction (a dedup entry whose outputs were never
  committed). :func:`reset_local_tables` discards the local stores before the
  worker starts in that mode; the tables are rebuilt from their committed
  changelogs.
* Windowed-table expiry after recovery (faust-streaming issue #385): not used;
  the dedup table is a plain table whose entries carry their own time, see
  :mod:`streams.dedup`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import faust
import faust.streams as faust_streams
from faust.exceptions import ProducerSendError
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP, ConsumerT, EventT, ProducerT
from faust.types.transports import TPorTopicSet
from mode.utils.queues import ThrowableQueue

from common.kafka import KafkaSettings
from streams import batching, staging, tables, web
from streams.metric_store import MetricStore
from streams.offsets import OffsetTracker, Verdict
from streams.pipeline import Output, PipelineConfig, RawRecord
from streams.processor import Processor
from streams.settings import WorkerSettings
from streams.staging import Write

log = logging.getLogger(__name__)

#: Longest wait of the consumer's fetch requests (see :class:`ShortPollConsumerThread`).
FETCH_MAX_WAIT_MS: Final = 100

#: Producer batch size per partition: a batch of raw records sends many 6-7 KB outputs to
#: each partition, which Faust's default (16 KiB) would spread over many requests, with one
#: request per partition in flight at a time. Requests stay under the broker's default
#: ``message.max.bytes`` (1 MiB).
PRODUCER_MAX_BATCH_BYTES: Final = 512 * 1024
PRODUCER_MAX_REQUEST_BYTES: Final = 1000 * 1024


#: A record to send: topic, key, value (``None``: a tombstone), headers.
Record = tuple[str, bytes | None, bytes | None, Sequence[tuple[str, bytes]]]


class IdempotentProducer(AIOKafkaProducer):
    """Faust's aiokafka producer with ``enable_idempotence`` on in every mode.

    :meth:`send_batches` sends many records to one partition number as whole
    producer batches: Faust's ``send`` hands aiokafka one record at a time,
    which costs about twice the CPU per record.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {"acks": "all", "enable_idempotence": True}

    async def send_batches(
        self, records: Sequence[Record], partition: int, transactional_id: str | None
    ) -> list[Sent]:
        """Send ``records`` to ``partition`` of their topics and wait for every ack.

        Per topic, in order, as few batches as fit aiokafka's batch size; under
        exactly-once with the transactional producer of ``transactional_id``
        (as Faust's ``send``, holding its lock for that id).
        """
        if transactional_id is None:
            return await self._send_batches(self._ensure_producer(), records, partition)
        producer = self._transaction_producers.get(transactional_id)
        if producer is None:
            raise ProducerSendError(f"No transaction producer found for : {transactional_id}")
        async with self._trn_locks[transactional_id]:
            return await self._send_batches(producer, records, partition)

    @staticmethod
    async def _send_batches(producer: Any, records: Sequence[Record], partition: int) -> list[Sent]:
        by_topic: dict[str, list[Record]] = {}
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


def _builders(producer: Any, records: Sequence[Record]) -> Iterator[tuple[Any, int]]:
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


@dataclass(frozen=True, slots=True)
class Sent:
    """A producer batch acknowledged by the broker: the offset of its last record."""

    topic: str
    partition: int
    last_offset: int


class ReassigningTransactionManager(TransactionManager):
    """Faust's transaction manager, which stops the producers of every partition it lost.

    On a rebalance Faust stops the transactional producers of the revoked
    partitions, but leaves out every partition the assignor lists as a standby,
    and the assignor lists the raw topic's partitions of a standby group there
    too: a raw partition that moves to another worker while this one keeps its
    tables as a standby keeps its producer here. The new owner's producer with
    the same transactional id fences it; when the partition comes back, Faust
    reuses the fenced producer, and every send of that partition fails
    (``ProducerFenced``, then ``IllegalOperation``) until the worker restarts.
    Here every producer whose partition is no longer actively assigned is
    stopped first, so a partition that comes back gets a new producer.
    """

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]
    ) -> None:
        active = self._tps_to_transactional_ids(assigned)
        producers = cast(AIOKafkaProducer, self.producer)._transaction_producers
        lost = sorted(set(producers) - active)
        if lost:
            log.info("stopping transactional producers of lost partitions", extra={"ids": lost})
        for transactional_id in lost:
            await self.producer.stop_transaction(transactional_id)
        await super().on_rebalance(assigned, revoked, newly_assigned)


class ShortPollConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer long-polls for at most
    :data:`FETCH_MAX_WAIT_MS` instead of Faust's fixed 1.5 s.

    aiokafka keeps one fetch request per broker in flight, for the partitions
    that have no fetched records left when it is sent. When those happen to be
    idle (Faust's assignor topic always is), the request waits the whole
    long-poll, and the partitions drained meanwhile, with records waiting on
    the broker, are not fetched before it returns: a worker reading a backlog
    idled about a second every few thousand records.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class GuardedConsumer(AIOKafkaConsumer):
    """Faust's consumer, whose offset commits wait for the batch being processed.

    Faust commits from its own task while the agent runs. Under exactly-once, a
    commit that lands between a record's output sends and its ack puts those
    outputs in the committed transaction without the record's offset; after a
    crash the record is processed again and its outputs are committed twice.
    Holding :attr:`BridgeApp.processing_guard` around each batch and each
    commit keeps every transaction to whole batches.

    Its commits also never name a raw offset the agent has not finished
    (see :meth:`_new_offset` and :mod:`streams.offsets`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transactions = ReassigningTransactionManager(
            self.transport,
            consumer=self,
            producer=self.app.producer,
            beacon=self.beacon,
            loop=self.loop,
        )

    async def commit(
        self, topics: TPorTopicSet | None = None, start_new_transaction: bool = True
    ) -> bool:
        async with cast(BridgeApp, self.app).processing_guard:
            result: bool = await super().commit(topics, start_new_transaction=start_new_transaction)
            return result

    def committed(self, tp: TP) -> int | None:
        """The committed offset of ``tp`` as this consumer last knew it."""
        offset: int | None = self._committed_offset.get(tp)
        return offset

    def _new_offset(self, tp: TP) -> int | None:
        """Faust's next commit offset of ``tp``, capped at the first raw offset the agent
        has not finished (see :mod:`streams.offsets`)."""
        offset: int | None = super()._new_offset(tp)
        app = cast(BridgeApp, self.app)
        if offset is None or tp.topic != app.raw_topic:
            return offset
        cap = app.offsets.committable(tp.partition)
        committed = self.committed(tp)
        if cap is None or (committed is not None and cap <= committed):
            return None
        return min(offset, cap)

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ShortPollConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """The end offsets of ``partitions`` as the broker reports them now.

        Table recovery compares these with the offsets persisted in the local
        stores. In exactly-once mode Faust reads them from aiokafka's
        ``last_stable_offset``, which stays unknown until a fetch response for
        the partition arrives, and a new assignment (every rebalance) forgets it
        again; Faust turns unknown into -1. Recovery then skips every changelog
        partition (nothing to read up to -1, so the tables stay as they were
        locally), or, when a store already holds data of a partition that comes
        back, fails with ``ConsistencyError`` (persisted offset > -1). The
        consumer's ``end_offsets`` asks the broker with the consumer's isolation
        level: the last stable offset under exactly-once (``read_committed``),
        the high-water mark otherwise (what Faust itself uses in that mode).
        """
        thread = self._thread
        offsets: Mapping[TP, int] = await thread.call_thread(self._end_offsets, list(partitions))
        return offsets

    async def _end_offsets(self, partitions: list[TP]) -> Mapping[TP, int]:
        # Runs in the consumer's thread (its event loop owns the aiokafka consumer).
        offsets: Mapping[TP, int] = await self._thread._ensure_consumer().end_offsets(partitions)
        return offsets


class BridgeApp(faust.App):
    """A Faust app with an idempotent producer and record-atomic commits."""

    processing_guard: asyncio.Lock
    #: The raw offsets the agent finished; commits never name one past them.
    offsets: OffsetTracker
    raw_topic: str

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def FlowControlQueue(
        self, maxsize: int | None = None, *, clear_on_resume: bool = False
    ) -> ThrowableQueue[Any]:
        # faust-streaming issue #596: at the end of recovery Faust resumes the
        # stream partitions, seeks them to the committed offsets, then resumes
        # flow control, which clears every stream queue. Records fetched between
        # the resume and the clear are dropped, and their re-fetched copies are
        # then skipped as already read: a gap that blocks commits (and is lost
        # until the next restart). Queues that are never cleared keep them;
        # events of an older consumer generation are still skipped by the stream.
        return super().FlowControlQueue(maxsize, clear_on_resume=False)

    def _new_consumer(self) -> ConsumerT:
        # As faust.App._new_consumer, with GuardedConsumer.
        return GuardedConsumer(
            self.transport,
            callback=self.topics.on_message,
            loop=self.transport.loop,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
        )


class RecordSender:
    """Sends records to one partition and waits for every ack.

    Straight to the producer as whole batches (:meth:`IdempotentProducer.send_batches`),
    not through Faust's producer buffer (which sends its records one at a time
    from a background task). Under exactly-once each record goes with the
    transactional id of the raw partition being processed: the one Faust
    commits that partition's offsets with.
    """

    def __init__(self, app: BridgeApp, exactly_once: bool) -> None:
        self.app = app
        self.exactly_once = exactly_once

    async def send(self, records: Sequence[Record], partition: int) -> list[Sent]:
        producer = cast(IdempotentProducer, self.app.producer)
        transactional_id = self._transactional_id(partition) if self.exactly_once else None
        return await producer.send_batches(records, partition, transactional_id)

    def _transactional_id(self, partition: int) -> str:
        # The id faust's TransactionManager.commit uses for this raw partition.
        group = self.app.assignor.group_for_topic(self.app.raw_topic)
        return f"{self.app.conf.id}-{group}-{partition}"


class OutputSender:
    """Sends a plan's outputs to the source record's partition and waits for the acks."""

    def __init__(self, records: RecordSender) -> None:
        self.records = records

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        if outputs:
            batch = [(o.topic, o.key, o.value, o.headers) for o in outputs]
            await self.records.send(batch, partition)


class BatchEvents:
    """The Faust event of each raw partition in the batch being processed.

    Faust's RocksDB store picks the database of a key it reads or writes from
    the *current* event's partition (a context variable the stream sets while
    it hands that event over). A batch mixes partitions, its events are
    fetched ahead (in other tasks, see :mod:`streams.batching`) and its writes
    are made after all of it was decided, so each read and write is made with
    an event of its own partition made current (see :meth:`acting_for`).
    """

    def __init__(self) -> None:
        self.by_partition: dict[int, EventT[Any]] = {}

    def start(self, events: Iterable[EventT[Any]]) -> None:
        self.by_partition = {event.message.partition: event for event in events}

    @contextlib.contextmanager
    def acting_for(self, partition: int) -> Iterator[None]:
        event = self.by_partition.get(partition)
        if event is None:
            yield
            return
        token = faust_streams._current_event.set(weakref.ref(event))
        try:
            yield
        finally:
            faust_streams._current_event.reset(token)


class ChangelogTable:
    """A Faust table whose writes return once their changelog records are acknowledged.

    ``table[key] = value`` hands the changelog record to Faust's producer
    buffer and returns; under exactly-once that record may then fall into the
    transaction after the one holding the record's outputs and offset, and be
    aborted by a crash (the key is lost while its delivery counts as done).
    Here the local store is written directly, and the changelog records are
    sent to the partition of the raw record that made them and awaited while
    the batch is being processed, so they always belong to the same
    transaction as its outputs. Then the changelog offset is recorded for the
    local store as Faust does after its own sends (at once, or under
    exactly-once when the transaction commits), so a restart reads the
    changelog from there.
    """

    def __init__(self, table: Any, events: BatchEvents, sender: RecordSender) -> None:
        self.table = table
        self.events = events
        self.sender = sender

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        if partition is None:
            value: bytes | None = self.table.get(key)
            return value
        with self.events.acting_for(partition):
            value = self.table.get(key)
        return value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        items: Iterable[tuple[bytes, bytes]] = self.table.items()
        return items

    async def write(self, writes: Sequence[Write]) -> None:
        by_partition: dict[int, list[Write]] = {}
        for write in writes:
            by_partition.setdefault(write.partition, []).append(write)
        sent = await asyncio.gather(
            *(self._write(partition, group) for partition, group in by_partition.items())
        )
        for batches in sent:
            self._persisted(max(batches, key=lambda b: b.last_offset))

    async def _write(self, partition: int, writes: Sequence[Write]) -> list[Sent]:
        with self.events.acting_for(partition):
            staging.apply(writes, self.table.data)
        topic = self.table.changelog_topic.get_topic_name()
        return await self.sender.send([(topic, w.key, w.value, ()) for w in writes], partition)

    def _persisted(self, last: Sent) -> None:
        # As faust's Table._on_changelog_sent, once per partition and write.
        tp = TP(last.topic, last.partition)
        if self.table.app.in_transaction:
            self.table.app.tables.persist_offset_on_commit(self.table.data, tp, last.last_offset)
        else:
            self.table.data.set_persisted_offset(tp, last.last_offset)


@dataclass
class Worker:
    app: faust.App
    processor: Processor


def faust_credentials(kafka: KafkaSettings) -> faust.auth.Credentials | None:
    context = kafka.ssl_context()
    if kafka.uses_sasl:
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password,
            ssl_context=context,
            mechanism=kafka.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def broker_urls(kafka: KafkaSettings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")]


def build(settings: WorkerSettings, partitions: int) -> Worker:
    """The app, its raw topic, tables and agent, for a raw topic of ``partitions``."""
    app = BridgeApp(
        settings.app_id,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
        ],
        broker_credentials=faust_credentials(settings.kafka),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(settings.data_dir),
        processing_guarantee=settings.processing_guarantee,
        topic_partitions=partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,
        producer_acks=-1,
        producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        consumer_auto_offset_reset="earliest",
        consumer_group_instance_id=settings.worker_id,
        broker_commit_interval=settings.commit_interval_seconds,
        broker_session_timeout=settings.session_timeout_seconds,
        web_enabled=settings.web_enabled,
        web_bind=settings.web_bind,
        web_port=settings.web_port,
        web_host=settings.web_host,
        autodiscover=False,
    )
    app.processing_guard = asyncio.Lock()
    app.offsets = OffsetTracker()
    app.raw_topic = settings.topics.raw
    raw = app.topic(
        settings.topics.raw,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    events = BatchEvents()
    records = RecordSender(app, settings.exactly_once)
    seen = app.Table(tables.DEDUP, key_type=bytes, value_type=bytes, partitions=partitions)
    states = app.Table(tables.TRANSACTIONS, key_type=bytes, value_type=bytes, partitions=partitions)
    windows = app.Table(tables.METRICS, key_type=bytes, value_type=bytes, partitions=partitions)
    metrics = MetricStore(ChangelogTable(windows, events, records), settings.metrics_windows)
    config = PipelineConfig(
        topics=settings.topics,
        dedup_window_ms=settings.dedup_window_ms,
        keep_account=settings.keep_account,
    )
    processor = Processor(
        config,
        ChangelogTable(seen, events, records),
        ChangelogTable(states, events, records),
        OutputSender(records),
        sweep_interval_ms=settings.dedup_sweep_interval_ms,
        metrics=metrics,
    )
    if settings.web_enabled:
        service = web.QueryService(
            app,
            metrics,
            ChangelogTable(states, events, records),
            raw_topic=settings.topics.raw,
            partitions=partitions,
            resolutions=settings.metrics_windows,
            timeout_s=settings.query_timeout_seconds,
        )
        web.install(app, service, processor.stats)

    async def process(stream: faust.StreamT[bytes]) -> None:
        # Acks are explicit: Faust acks an event in a ``finally`` even when the
        # agent raised, which would commit the offset of a record whose outputs
        # were never sent. Unacked, it is processed again after a restart.
        manual = cast(faust.Stream[bytes], stream).noack()
        flowing = _while_flowing(app, manual.events())
        source = batching.batches(flowing, max_size=settings.batch_max_records)
        # Closed with the agent: its collector must not read on once the agent stopped.
        async with contextlib.aclosing(source):
            async for batch in source:
                async with app.processing_guard:
                    fresh = await _fresh(app, batch)
                    if fresh:
                        events.start(fresh)
                        await processor.process([raw_record(event.message) for event in fresh])
                    for event in batch:
                        await manual.ack(event)
                    for event in fresh:
                        app.offsets.finished(event.message.partition, event.message.offset)

    app.agent(raw, name="streams.process")(process)
    return Worker(app, processor)


async def _while_flowing(
    app: faust.App, events: AsyncIterable[EventT[Any]]
) -> AsyncIterator[EventT[Any]]:
    """Faust's events, read only while its flow control is active.

    A record the stream reads while flow control is suspended (a rebalance,
    recovery, shutdown) is skipped *and acked* by Faust, so its offset can be
    committed although the agent never saw it: it would be lost. Faust's own
    agent loop reads only when it wants the next event; the batch collector
    reads ahead all the time, so it waits for flow control first.
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
    for event in batch:
        message = event.message
        tp = TP(app.raw_topic, message.partition)
        generation = -1 if message.generation_id is None else message.generation_id
        committed = cast(GuardedConsumer, app.consumer).committed(tp)
        seen = app.offsets.observe(message.partition, generation, message.offset, committed)
        if seen.missing_from is not None:
            where = {"partition": message.partition, "offset": message.offset}
            log.warning(
                "raw records missing before this one, fetching them again",
                extra={**where, "from_offset": seen.missing_from},
            )
            await app.consumer.seek(tp, seen.missing_from)
        if seen.verdict is Verdict.NEW:
            fresh.append(event)
    return fresh


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


def reset_local_tables(app: faust.App) -> None:
    """Delete the local table stores (exactly-once + RocksDB; see the module docstring)."""
    tabledir = app.conf.tabledir
    if tabledir.exists():
        log.info("exactly-once: discarding local table stores", extra={"path": str(tabledir)})
        shutil.rmtree(tabledir)


def run(worker: Worker, *, log_level: str) -> int:
    """Run the worker in this process until it is stopped; return its exit code."""
    faust_worker = faust.Worker(worker.app, quiet=True, override_logging=False, loglevel=log_level)
    faust_worker.spinner = None
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
