"""``ingress.publisher`` on its own, with a stand-in for aiokafka's producer.

What the ingress's contract needs from it: a publish returns only once the broker
acknowledged; every failure (send refused, delivery failed, deadline passed) becomes
``BrokerUnavailable`` with the ``Retry-After`` and the error's name; a producer whose
idempotence state is lost is replaced once; a cancellation from outside is not turned into
a 503; the readiness gauge follows the outcomes; the record reaches ``send`` as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)
from opentelemetry.sdk.trace import TracerProvider

from common.kafka import KafkaSettings
from ingress import publisher as publisher_module
from ingress.errors import BrokerUnavailable
from ingress.prom import IngressMetrics
from ingress.publisher import Publisher, PublisherConfig
from ingress.records import DLQ, RAW, Record

pytestmark = pytest.mark.asyncio

TIMEOUT = 0.2
RETRY_AFTER = 7
RECORD = Record("t.raw", b"transaction:1", b'{"name":"x"}', [("fedapay-event", b"x")], RAW)


@dataclass
class FakeProducer:
    """aiokafka's producer as the publisher uses it: ``start``, ``stop``, ``send_and_wait``
    (``send``, then the delivery future, as aiokafka's), ``client``.

    ``outcome``: what a send does: ``"ack"`` (the delivery future resolves), ``"hang"`` (it
    never does), an exception raised by ``send`` (``("raise", exc)``) or set on the future
    (``("fail", exc)``).
    """

    outcome: Any = "ack"
    metadata_ok: bool = True
    sent: list[tuple[str, bytes, bytes | None, Any]] = field(default_factory=list)
    started: bool = False
    stopped: bool = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> asyncio.Future[object]:
        self.sent.append((topic, value, key, headers))
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.outcome == "ack":
            future.set_result(object())
        elif self.outcome == "hang":
            pass
        elif self.outcome[0] == "raise":
            raise self.outcome[1]
        else:
            future.set_exception(self.outcome[1])
        return future

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None
    ) -> object:
        delivered = await self.send(topic, value, key=key, headers=headers)
        return await delivered

    @property
    def client(self) -> FakeProducer:
        return self

    async def force_metadata_update(self) -> bool:
        return self.metadata_ok


@dataclass
class Harness:
    publisher: Publisher
    metrics: IngressMetrics
    producers: list[FakeProducer]

    @property
    def producer(self) -> FakeProducer:
        return self.producers[-1]

    def gauge(self) -> float | None:
        return self.metrics.registry.get_sample_value("fedapay_ingress_producer_ready")

    def publishes(self, kind: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "fedapay_ingress_publish_seconds_count", {"topic_kind": kind}
        )


async def _connected(harness: Harness) -> None:
    for _ in range(100):
        if await harness.publisher.ready():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the publisher never connected")


def _harness(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[], FakeProducer], tracer: Any = None
) -> Harness:
    metrics = IngressMetrics.create()
    config = PublisherConfig(
        kafka=KafkaSettings(), timeout=TIMEOUT, retry_after=RETRY_AFTER, max_record_bytes=1024
    )
    producers: list[FakeProducer] = []

    def new_producer(_: Publisher) -> FakeProducer:
        producers.append(make())
        return producers[-1]

    monkeypatch.setattr(publisher_module.Publisher, "_new_producer", new_producer)
    return Harness(Publisher(config, metrics, tracer), metrics, producers)


@pytest_asyncio.fixture
async def acking(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Harness]:
    harness = _harness(monkeypatch, FakeProducer)
    await harness.publisher.start()
    await _connected(harness)
    try:
        yield harness
    finally:
        await harness.publisher.stop()


async def test_a_publish_hands_the_record_to_send_as_it_is(acking: Harness) -> None:
    await acking.publisher.publish(RECORD)
    assert acking.producer.sent == [(RECORD.topic, RECORD.value, RECORD.key, RECORD.headers)]
    assert acking.producer.sent[0][1] is RECORD.value  # no copy of the body
    assert acking.publishes(RAW) == 1.0
    assert acking.publishes(DLQ) == 0.0
    assert acking.gauge() == 1.0


async def test_not_connected_is_a_503_without_a_send(monkeypatch: pytest.MonkeyPatch) -> None:
    harness = _harness(monkeypatch, FakeProducer)  # never started
    with pytest.raises(BrokerUnavailable) as raised:
        await harness.publisher.publish(RECORD)
    assert raised.value.status == 503
    assert raised.value.headers == {"Retry-After": str(RETRY_AFTER)}
    assert not await harness.publisher.ready()


@pytest.mark.parametrize(
    ("outcome", "error", "replaced"),
    [
        (("raise", KafkaTimeoutError()), "KafkaTimeoutError", False),
        (("raise", KafkaConnectionError()), "KafkaConnectionError", False),
        (("fail", NotLeaderForPartitionError()), "NotLeaderForPartitionError", False),
        (("fail", KafkaError()), "KafkaError", False),
        (("fail", OutOfOrderSequenceNumber()), "OutOfOrderSequenceNumber", True),
        (("fail", UnknownProducerId()), "UnknownProducerId", True),
        (("fail", InvalidProducerEpoch()), "InvalidProducerEpoch", True),
        (("raise", ProducerFenced()), "ProducerFenced", True),
        ("hang", "TimeoutError", False),
    ],
)
async def test_every_failure_is_a_503_naming_the_error(
    monkeypatch: pytest.MonkeyPatch, outcome: Any, error: str, replaced: bool
) -> None:
    harness = _harness(monkeypatch, lambda: FakeProducer(outcome))
    await harness.publisher.start()
    await _connected(harness)
    broken = harness.producer
    try:
        with pytest.raises(BrokerUnavailable) as raised:
            await harness.publisher.publish(RECORD)
        assert str(raised.value) == error
        assert raised.value.headers == {"Retry-After": str(RETRY_AFTER)}
        assert harness.gauge() == 0.0
        assert harness.publishes(RAW) == 0.0
        for _ in range(100):  # a replacement connects in the background
            if not replaced or len(harness.producers) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(harness.producers) == (2 if replaced else 1)
        assert broken.stopped is replaced
    finally:
        await harness.publisher.stop()


async def test_the_deadline_raises_timeout_error_as_asyncio_timeout_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = _harness(monkeypatch, lambda: FakeProducer("hang"))
    await harness.publisher.start()
    await _connected(harness)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(BrokerUnavailable) as raised:
            await harness.publisher.publish(RECORD)
    finally:
        await harness.publisher.stop()
    assert loop.time() - started >= TIMEOUT
    timeout = raised.value.__cause__
    assert isinstance(timeout, TimeoutError)
    assert isinstance(timeout.__cause__, asyncio.CancelledError)


async def test_a_cancellation_from_outside_stays_a_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    harness = _harness(monkeypatch, lambda: FakeProducer("hang"))
    await harness.publisher.start()
    await _connected(harness)
    try:
        task = asyncio.create_task(harness.publisher.publish(RECORD))
        await asyncio.sleep(TIMEOUT / 4)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert harness.gauge() == 1.0  # not the broker's fault
    finally:
        await harness.publisher.stop()


async def test_a_success_after_a_failure_sets_ready_again(monkeypatch: pytest.MonkeyPatch) -> None:
    harness = _harness(monkeypatch, lambda: FakeProducer(("fail", KafkaTimeoutError())))
    await harness.publisher.start()
    await _connected(harness)
    try:
        with pytest.raises(BrokerUnavailable):
            await harness.publisher.publish(RECORD)
        assert harness.gauge() == 0.0
        harness.producer.outcome = "ack"
        await harness.publisher.publish(RECORD)
        assert harness.gauge() == 1.0
    finally:
        await harness.publisher.stop()


async def test_ready_asks_the_broker_at_most_once_a_second(acking: Harness) -> None:
    acking.producer.metadata_ok = False
    assert await acking.publisher.ready()  # just connected: the cached answer
    acking.publisher._checked_at -= 2.0  # the cache is a second old
    assert not await acking.publisher.ready()
    assert acking.gauge() == 0.0


async def test_tracing_adds_the_span_context_to_the_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tracer = TracerProvider().get_tracer("test")
    harness = _harness(monkeypatch, FakeProducer, tracer)
    await harness.publisher.start()
    await _connected(harness)
    try:
        await harness.publisher.publish(RECORD)
    finally:
        await harness.publisher.stop()
    ((_, _, _, headers),) = harness.producer.sent
    names = [name for name, _ in headers]
    assert names[: len(RECORD.headers)] == [name for name, _ in RECORD.headers]
    assert "traceparent" in names


async def test_stop_stops_the_producer_and_clears_ready(acking: Harness) -> None:
    producer = acking.producer
    await acking.publisher.stop()
    assert producer.stopped
    assert acking.gauge() == 0.0
    assert not await acking.publisher.ready()
