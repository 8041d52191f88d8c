"""The Faust app of the workers, built from :class:`WorkerSettings` (no module-level app).

:func:`build` makes the app, its raw topic, tables and agent; :func:`run`
runs it in this process. The web routes are in :mod:`streams.web`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import ConsumerT, ProducerT
from mode.utils.queues import ThrowableQueue

from common import tracing
from common.kafka import KafkaSettings
from streams import tables, web
from streams.faust.agent import agent, refetch_overdue
from streams.faust.consumer import GuardedConsumer
from streams.faust.producer import (
    PRODUCER_MAX_BATCH_BYTES,
    PRODUCER_MAX_REQUEST_BYTES,
    IdempotentProducer,
    OutputSender,
    RecordSender,
)
from streams.faust.tables import BatchEvents, Changelogs, ChangelogTable, CommitAwareTableManager
from streams.offsets import OffsetTracker
from streams.pipeline import PipelineConfig
from streams.processor import Processor
from streams.settings import WorkerSettings
from streams.window_store import WindowStore

#: How often the worker looks for raw gaps whose re-fetch did not come (seconds).
REFETCH_CHECK_SECONDS = 1.0


class BridgeApp(faust.App):
    """A Faust app with an idempotent producer and record-atomic commits."""

    def __init__(self, id: str, *, raw_topic: str, **options: Any) -> None:
        super().__init__(id, **options)
        #: Held around each batch the agent processes and each offset commit.
        self.processing_guard = asyncio.Lock()
        #: The raw offsets the agent finished; commits never name one past them.
        self.offsets = OffsetTracker()
        self.raw_topic = raw_topic
        #: The changelog tables, told when their partitions' writes are durable.
        self.changelogs = Changelogs()

    def _new_producer(self) -> ProducerT:
        return IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)

    def FlowControlQueue(
        self, maxsize: int | None = None, *, clear_on_resume: bool = False
    ) -> ThrowableQueue[Any]:
        # faust-streaming issue #596: at the end of recovery Faust resumes the
        # stream partitions, seeks them to the committed offsets, then resumes
        # flow control, which clears every queue its channels, streams and
        # table manager made with clear_on_resume=True. Records fetched between
        # the resume and the clear are dropped, and their re-fetched copies are
        # then skipped as already read: a gap that blocks commits (and is lost
        # until the next restart). Queues that are never cleared keep them;
        # events of an older consumer generation are still skipped by the stream.
        return super().FlowControlQueue(maxsize, clear_on_resume=False)

    def _new_consumer(self) -> ConsumerT:
        # As faust.App._new_consumer (transport.create_consumer), with GuardedConsumer.
        return GuardedConsumer(
            self.transport,
            callback=self.topics.on_message,
            loop=self.transport.loop,
            on_partitions_revoked=self._on_partitions_revoked,
            on_partitions_assigned=self._on_partitions_assigned,
            beacon=self.beacon,
        )


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


#: ``service.name`` of the worker's spans unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE_NAME = "fedapay-bridge-worker"


def build(settings: WorkerSettings, partitions: int) -> Worker:
    """The app, its raw topic, tables and agent, for a raw topic of ``partitions``."""
    app = _app(settings, partitions)
    raw = app.topic(
        settings.topics.raw,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )
    events = BatchEvents()
    records = RecordSender(app, settings.exactly_once)
    table = {
        name: app.changelogs.register(
            ChangelogTable(
                app.Table(
                    name,
                    key_type=bytes,
                    value_type=bytes,
                    partitions=partitions,
                    options=settings.rocksdb_options,
                ),
                events,
                records,
                deferred=settings.exactly_once,
            )
        )
        for name in (tables.DEDUP, tables.TRANSACTIONS, tables.WINDOWS)
    }
    window_store = WindowStore(table[tables.WINDOWS], settings.metrics_windows)
    provider = tracing.provider(settings.tracing, SERVICE_NAME)
    processor = Processor(
        PipelineConfig(
            topics=settings.topics,
            dedup_window_ms=settings.dedup_window_ms,
            keep_account=settings.keep_account,
            keep_personal=settings.keep_personal,
            report_stale=settings.stale_delivery_anomalies,
        ),
        table[tables.DEDUP],
        table[tables.TRANSACTIONS],
        OutputSender(records),
        sweep_interval_ms=settings.dedup_sweep_interval_ms,
        window_store=window_store,
        tracer=None if provider is None else provider.get_tracer("streams.processor"),
    )
    if settings.web_enabled:
        _install_web(app, settings, partitions, window_store, table[tables.TRANSACTIONS], processor)
    process = agent(app, processor, events, max_batch=settings.batch_max_records)
    app.agent(raw, name="streams.process")(process)

    async def refetch() -> None:
        await refetch_overdue(app)

    app.timer(interval=REFETCH_CHECK_SECONDS, name="streams.refetch")(refetch)
    return Worker(app, processor)


def _install_web(
    app: BridgeApp,
    settings: WorkerSettings,
    partitions: int,
    window_store: WindowStore,
    states: ChangelogTable,
    processor: Processor,
) -> None:
    service = web.QueryService(
        app,
        window_store,
        states,
        raw_topic=settings.topics.raw,
        partitions=partitions,
        resolutions=settings.metrics_windows,
        timeout_s=settings.query_timeout_seconds,
        token=settings.query_token,
        allow_unauthenticated=settings.query_allow_unauthenticated,
    )
    web.install(app, service, processor.stats)


def _app(settings: WorkerSettings, partitions: int) -> BridgeApp:
    return BridgeApp(
        settings.app_id,
        raw_topic=settings.topics.raw,
        broker=[
            f"kafka://{server.strip()}" for server in settings.kafka.bootstrap_servers.split(",")
        ],
        broker_credentials=faust_credentials(settings.kafka),
        store="rocksdb://" if settings.store == "rocksdb" else "memory://",
        datadir=str(settings.data_dir),
        processing_guarantee=settings.processing_guarantee,
        TableManager=CommitAwareTableManager,
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
        # Faust's own routes are off: /table/* reads table keys, /router/* shows the
        # topology (the workers route by the assignor's distribution, not @table_route),
        # and the statistics, graph and performance pages show internal state. "/" answers
        # the plain production index (behind the query token, as every route but the probes).
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        autodiscover=False,
    )


def run(worker: Worker, *, log_level: str) -> int:
    """Run the worker in this process until it is stopped; return its exit code."""
    faust_worker = faust.Worker(worker.app, quiet=True, override_logging=False, loglevel=log_level)
    # No constructor option: faust.Worker.__init__ always makes a terminal
    # spinner, and only its root-logger setup (skipped with
    # override_logging=False) drops it below WARN; it would write to stdout.
    faust_worker.spinner = None
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
