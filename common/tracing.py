"""OpenTelemetry tracing: off unless ``OTEL_TRACES_EXPORTER`` names an exporter.

Read from the standard ``OTEL_*`` variables, not ``FEDAPAY_BRIDGE_*``:

====================  ===============================  =======================================
variable              default                          meaning
====================  ===============================  =======================================
OTEL_TRACES_EXPORTER  ``none``                         ``otlp`` (OTLP over HTTP/protobuf) or
                                                       ``console`` turns tracing on
OTEL_SDK_DISABLED     ``false``                        ``true``: off whatever the exporter
OTEL_SERVICE_NAME     ``fedapay-bridge-ingress`` or    the ``service.name`` of the spans
                      ``fedapay-bridge-worker``
====================  ===============================  =======================================

Everything else is the SDK's and the exporter's own ``OTEL_*`` reading: the collector
(``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``..._HEADERS``),
the sampler (``OTEL_TRACES_SAMPLER``, ``OTEL_TRACES_SAMPLER_ARG``), the batch processor
(``OTEL_BSP_*``), resource attributes (``OTEL_RESOURCE_ATTRIBUTES``) and the propagators
(``OTEL_PROPAGATORS``, default W3C ``tracecontext,baggage``). (The SDK's own default exporter
is ``otlp``; the bridge's is off, so nothing leaves a process that was not asked to.)

The trace context travels in Kafka record headers named as the propagator names them
(``traceparent``, ``tracestate``: :data:`schemas.headers.TRACE_HEADERS`). The SDK is
imported only when tracing is on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from common.errors import ConfigError
from schemas import headers

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

EXPORTERS: Final = ("none", "otlp", "console")
HeaderList = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class TracingSettings:
    exporter: str = "none"
    service_name: str | None = None

    @property
    def enabled(self) -> bool:
        return self.exporter != "none"

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> TracingSettings:
        disabled = environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
        exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() or "none"
        if exporter not in EXPORTERS:
            raise ConfigError("OTEL_TRACES_EXPORTER", f"must be one of {', '.join(EXPORTERS)}")
        service = environ.get("OTEL_SERVICE_NAME", "").strip() or None
        return cls("none" if disabled else exporter, service)


def provider(settings: TracingSettings, default_service: str) -> TracerProvider | None:
    """A tracer provider exporting as configured, or ``None`` when tracing is off."""
    if not settings.enabled:
        return None
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    name = settings.service_name or default_service
    made = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporter: SpanExporter
    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter = ConsoleSpanExporter()
    made.add_span_processor(BatchSpanProcessor(exporter))
    return made


def inject(span: trace.Span) -> HeaderList:
    """The Kafka headers that carry ``span``'s context."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return [(name, value.encode()) for name, value in carrier.items()]


def extract(record_headers: Iterable[tuple[str, bytes]]) -> Context:
    """The context carried in a record's trace headers (empty without them)."""
    carrier = {
        name: value.decode("utf-8", "replace")
        for name, value in record_headers
        if name in headers.TRACE_HEADERS
    }
    return propagate.extract(carrier)


def replace_trace_headers(
    record_headers: Iterable[tuple[str, bytes]], span: trace.Span
) -> HeaderList:
    """``record_headers`` without trace headers, plus ``span``'s."""
    kept = [(n, v) for n, v in record_headers if n not in headers.TRACE_HEADERS]
    return [*kept, *inject(span)]
