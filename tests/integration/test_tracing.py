"""Tracing end to end: one trace links the webhook request, the publish to the raw topic and the
worker's processing of that record, through the record's headers on the real broker.

The ingress runs in-process with a tracer provider whose spans go to the SDK's in-memory
exporter; the raw record is read back from the broker and handed to the worker's
:class:`streams.processor.Processor` with a tracer of the same provider.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from common.config import Env
from ingress.app import create_app
from ingress.settings import IngressSettings
from ingress.signature import sign
from schemas import headers
from schemas.topics import Topics
from streams.pipeline import Output, OutputKind, PipelineConfig, RawRecord
from streams.staging import MemoryTable
from tests.fixtures import fixture_bytes
from tests.integration.ingress_harness import Client, environ, wait_until_ready
from tests.kafka_io import Consumed, consume_all, create_topics
from tests.support.processing import SingleAttemptProcessor

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio]

BODY = fixture_bytes("transaction.approved.json")
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


class Captured:
    def __init__(self) -> None:
        self.sent: list[Output] = []

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        self.sent.extend(outputs)


def raw_record(record: Consumed) -> RawRecord:
    return RawRecord(
        record.key,
        record.value,
        tuple(record.headers),
        record.partition,
        record.offset,
        record.timestamp,
    )


async def deliver(
    bootstrap: str, prefix: str, provider: TracerProvider | None, extra: dict[str, str]
) -> tuple[RawRecord, list[Output]]:
    """Post the fixture through the ingress, read its raw record, process it as the worker."""
    from aiohttp.test_utils import TestClient, TestServer

    topics = Topics(prefix)
    await create_topics(bootstrap, [topics.raw, topics.dlq])
    app = create_app(IngressSettings.from_env(Env(environ(bootstrap, prefix))), provider)
    client: Client
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        await wait_until_ready(client)
        signed = {"X-FEDAPAY-SIGNATURE": sign(BODY, "wh_sandbox_test_secret_0123456789")}
        response = await client.post("/webhooks/sandbox", data=BODY, headers={**signed, **extra})
        assert response.status == 200
    [record] = await consume_all(bootstrap, topics.raw, expect=1, timeout=20)
    captured = Captured()
    processor = SingleAttemptProcessor(
        PipelineConfig(topics=topics, dedup_window_ms=10**9),
        MemoryTable(),
        MemoryTable(),
        captured,
        sweep_interval_ms=10**9,
        tracer=None if provider is None else provider.get_tracer("test-worker"),
    )
    raw = raw_record(record)
    await processor.handle(raw)
    return raw, captured.sent


def in_memory() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def header(record_headers: Sequence[tuple[str, bytes]], name: str) -> str | None:
    return headers.decode(tuple(record_headers)).get(name)


def span_of(spans: Sequence[ReadableSpan], kind: SpanKind) -> ReadableSpan:
    """The one span of ``kind`` (of the servers: the webhook's, not the readiness probes')."""
    [found] = [s for s in spans if s.kind is kind and not s.name.startswith(("GET", "HEAD"))]
    return found


def traceparent_of(span: ReadableSpan) -> str:
    context = span.get_span_context()
    assert context is not None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


async def test_one_trace_links_request_publish_and_processing(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    provider, exporter = in_memory()

    raw, outputs = await deliver(
        kafka_bootstrap, topic_prefix, provider, {"traceparent": TRACEPARENT}
    )

    spans = exporter.get_finished_spans()
    request = span_of(spans, SpanKind.SERVER)
    publish = span_of(spans, SpanKind.PRODUCER)
    process = span_of(spans, SpanKind.CONSUMER)
    assert {f"{span.context.trace_id:032x}" for span in (request, publish, process)} == {TRACE_ID}
    assert request.parent is not None
    assert f"{request.parent.span_id:016x}" == CALLER_SPAN
    assert publish.parent is not None
    assert publish.parent.span_id == request.context.span_id
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id
    assert publish.name == f"{topic_prefix}.raw publish"
    assert process.name == f"{topic_prefix}.raw process"
    # The raw record carries the publish span; every output the processing span.
    assert header(raw.headers, headers.TRACEPARENT) == traceparent_of(publish)
    assert {o.kind for o in outputs} == {OutputKind.EVENT, OutputKind.STATUS}
    for output in outputs:
        assert header(output.headers, headers.TRACEPARENT) == traceparent_of(process)
    assert raw.value == BODY  # the body is untouched: the context rides in headers only


async def test_a_request_without_traceparent_starts_a_trace_at_the_ingress(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    provider, exporter = in_memory()

    raw, outputs = await deliver(kafka_bootstrap, topic_prefix, provider, {})

    spans = exporter.get_finished_spans()
    request = span_of(spans, SpanKind.SERVER)
    publish = span_of(spans, SpanKind.PRODUCER)
    process = span_of(spans, SpanKind.CONSUMER)
    assert request.parent is None
    assert len({span.context.trace_id for span in (request, publish, process)}) == 1
    assert process.parent is not None
    assert process.parent.span_id == publish.context.span_id
    assert header(raw.headers, headers.TRACEPARENT) == traceparent_of(
        span_of(spans, SpanKind.PRODUCER)
    )
    assert all(header(o.headers, headers.TRACEPARENT) for o in outputs)


async def test_with_tracing_off_no_trace_header_is_written(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    raw, outputs = await deliver(kafka_bootstrap, topic_prefix, None, {"traceparent": TRACEPARENT})

    assert header(raw.headers, headers.TRACEPARENT) is None
    assert outputs
    assert not any(header(o.headers, headers.TRACEPARENT) for o in outputs)
