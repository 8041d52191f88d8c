"""Publishes records with acks=all and an idempotent producer, within a deadline.

Broker errors become :class:`BrokerUnavailable` here and nowhere else. The
producer connects in the background, so the ingress starts (and answers 503)
while Kafka is still down, and recovers by itself when it comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from typing import NoReturn

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from opentelemetry.trace import SpanKind, Tracer

from common import tracing
from common.kafka import KafkaSettings, KafkaSettingsError
from common.kafka_access import check_access
from ingress.deadline import Deadlines
from ingress.errors import BrokerUnavailable
from ingress.prom import IngressMetrics
from ingress.records import Record

log = logging.getLogger(__name__)

_MAX_BATCH_BYTES = 512 * 1024
_READY_CACHE_SECONDS = 1.0
#: After these the idempotent producer never sends again: its sequence numbers or
#: producer id no longer match the broker's. aiokafka gives a batch that expires
#: while its partition has no leader (a broker restart) a sequence number, then
#: drops it, so every later batch of that partition is out of order
#: (aio-libs/aiokafka#1017). Only a new producer (a new producer id) recovers.
_BROKEN_PRODUCER_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


@dataclass(frozen=True, slots=True)
class PublisherConfig:
    kafka: KafkaSettings
    timeout: float
    retry_after: int
    max_record_bytes: int
    linger_ms: int = 0
    compression: str = "none"


class Publisher:
    def __init__(
        self, config: PublisherConfig, metrics: IngressMetrics, tracer: Tracer | None = None
    ) -> None:
        self._config = config
        #: ``None``: tracing off, and :meth:`publish` costs one comparison more.
        self._tracer = tracer
        self._metrics = metrics
        self._producer: AIOKafkaProducer | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._healthy = False
        self._checked_at = 0.0
        self._deadlines = Deadlines(config.timeout)

    async def start(self) -> None:
        """Begin connecting; returns at once. :meth:`ready` tells when it is done."""
        self._connecting = asyncio.create_task(self._connect(), name="kafka-connect")

    async def stop(self) -> None:
        """Stop connecting, flush what is in flight, close."""
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
        self._deadlines.close()
        self._set_healthy(False)

    async def publish(self, record: Record) -> None:
        """Return only once the broker acknowledged ``record`` (acks=all)."""
        if self._tracer is None:
            return await self._publish(record)
        with self._tracer.start_as_current_span(
            f"{record.topic} publish",
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "send",
                "messaging.destination.name": record.topic,
            },
        ) as span:
            traced = replace(record, headers=tracing.replace_trace_headers(record.headers, span))
            return await self._publish(traced)

    async def _publish(self, record: Record) -> None:
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable(self._config.retry_after, "producer not connected")
        started = time.perf_counter()
        deadlines = self._deadlines
        task = deadlines.start()  # as `asyncio.timeout(config.timeout)`, without a timer each
        try:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=record.headers
            )
        except asyncio.CancelledError as exc:
            if not deadlines.expired(task):
                raise
            timeout = TimeoutError()
            timeout.__cause__ = exc  # as `asyncio.timeout` raises it
            self._failed(producer, record, timeout)
        except (KafkaError, TimeoutError) as exc:
            self._failed(producer, record, exc)
        finally:
            deadlines.finish(task)
        self._metrics.observe_publish(record.kind, time.perf_counter() - started)
        self._succeeded()

    def _failed(self, producer: AIOKafkaProducer, record: Record, exc: Exception) -> NoReturn:
        self._set_healthy(False)
        log.warning("publish failed", extra={"topic": record.topic, "error": type(exc).__name__})
        if isinstance(exc, _BROKEN_PRODUCER_ERRORS):
            self._replace(producer)
        raise BrokerUnavailable(self._config.retry_after, type(exc).__name__) from exc

    async def ready(self) -> bool:
        """Connected, and the broker answers (checked at most once a second)."""
        producer = self._producer
        if producer is None:
            return False
        if time.monotonic() - self._checked_at < _READY_CACHE_SECONDS:
            return self._healthy
        try:
            async with asyncio.timeout(min(self._config.timeout, 2.0)):
                ok = bool(await producer.client.force_metadata_update())
        except (KafkaError, TimeoutError):
            ok = False
        self._set_healthy(ok)
        return ok

    def _succeeded(self) -> None:
        """``_set_healthy(True)``, without setting the gauge to the value it has."""
        self._checked_at = time.monotonic()
        if not self._healthy:
            self._set_healthy(True)

    def _set_healthy(self, healthy: bool) -> None:
        self._healthy = healthy
        self._checked_at = time.monotonic()
        self._metrics.producer_ready.set(1 if healthy else 0)

    def _replace(self, broken: AIOKafkaProducer) -> None:
        """Drop a producer that can no longer send and connect a new one (once)."""
        if self._producer is not broken:
            return
        self._producer = None
        log.warning("kafka producer lost its idempotence state, replacing it")
        self._connecting = asyncio.create_task(self._reconnect(broken), name="kafka-reconnect")

    async def _reconnect(self, broken: AIOKafkaProducer) -> None:
        with contextlib.suppress(KafkaError, TimeoutError):
            async with asyncio.timeout(self._config.timeout):
                await broken.stop()
        await self._connect()

    async def _connect(self) -> None:
        delay = 0.2
        while True:
            producer = self._new_producer()
            try:
                await producer.start()
            except KafkaError as exc:
                await producer.stop()
                await self._explain(exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._producer = producer
            self._set_healthy(True)
            log.info("kafka producer connected")
            return

    async def _explain(self, exc: KafkaError, delay: float) -> None:
        """Log why connecting failed: the setting to fix when the broker refused the settings
        (it came up after the start-up check, or changed since), else that it is not reachable."""
        try:
            await check_access(self._config.kafka, timeout_s=min(self._config.timeout, 5.0))
        except KafkaSettingsError as refused:
            log.error(
                "kafka refuses the settings, retrying",
                extra={"setting": refused.setting, "problem": refused.problem, "retry_in_s": delay},
            )
            return
        log.warning(
            "kafka not reachable, retrying",
            extra={"error": type(exc).__name__, "retry_in_s": delay},
        )

    def _new_producer(self) -> AIOKafkaProducer:
        config = self._config
        return AIOKafkaProducer(
            **config.kafka.aiokafka_options(),
            client_id="fedapay-bridge-ingress",
            acks="all",
            enable_idempotence=True,
            linger_ms=config.linger_ms,
            compression_type=None if config.compression == "none" else config.compression,
            max_batch_size=_MAX_BATCH_BYTES,
            max_request_size=max(1024 * 1024, config.max_record_bytes + 64 * 1024),
            request_timeout_ms=max(int(config.timeout * 1000), 5000),
        )
