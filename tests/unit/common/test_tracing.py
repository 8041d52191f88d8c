"""common.tracing: which OTEL_* settings turn tracing on, and the Kafka header carrier."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from common import tracing
from common.errors import ConfigError
from common.tracing import TracingSettings


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, TracingSettings("none")),
        ({"OTEL_TRACES_EXPORTER": "none"}, TracingSettings("none")),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, TracingSettings("otlp")),
        ({"OTEL_TRACES_EXPORTER": " Console "}, TracingSettings("console")),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, TracingSettings("none")),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SERVICE_NAME": "bridge-a"},
            TracingSettings("otlp", "bridge-a"),
        ),
    ],
    ids=["unset", "none", "otlp", "console", "sdk-disabled", "service-name"],
)
def test_settings(environ: dict[str, str], expected: TracingSettings) -> None:
    assert TracingSettings.from_environ(environ) == expected


def test_an_unknown_exporter_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        TracingSettings.from_environ({"OTEL_TRACES_EXPORTER": "zipkin"})

    assert caught.value.setting == "OTEL_TRACES_EXPORTER"


def test_off_by_default_means_no_provider() -> None:
    assert tracing.provider(TracingSettings(), "svc") is None


def test_on_a_provider_named_by_the_service() -> None:
    made = tracing.provider(TracingSettings("console", "bridge-a"), "svc")

    assert isinstance(made, TracerProvider)
    assert made.resource.attributes["service.name"] == "bridge-a"
    made.shutdown()


def test_a_span_travels_in_headers_and_replaces_older_trace_headers() -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("a", kind=SpanKind.PRODUCER) as span:
        stale = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"), ("k", b"v")]
        carried = tracing.replace_trace_headers(stale, span)

    names = [name for name, _ in carried]
    assert names.count("traceparent") == 1
    assert ("k", b"v") in carried
    context = tracing.extract(carried)
    with tracer.start_as_current_span("b", context=context) as child:
        assert child.get_span_context().trace_id == span.get_span_context().trace_id


def test_without_headers_the_context_is_empty() -> None:
    tracer = TracerProvider().get_tracer("t")
    with tracer.start_as_current_span("b", context=tracing.extract([("k", b"v")])) as span:
        assert span.parent is None  # type: ignore[attr-defined]
