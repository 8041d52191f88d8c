"""Kafka record header names of the contract. Values are UTF-8 bytes."""

from __future__ import annotations

from typing import Final

EVENT_NAME: Final = "fedapay-event"
ENDPOINT: Final = "fedapay-endpoint"
SIGNATURE_TIMESTAMP: Final = "fedapay-signature-t"
RECEIVED_AT_MS: Final = "fedapay-received-at-ms"
DEDUP_KEY: Final = "fedapay-dedup-key"
#: On DLQ records: the stable error code and a short, payload-free description.
ERROR: Final = "fedapay-error"
ERROR_DETAIL: Final = "fedapay-error-detail"
#: Where a raw record came from: :data:`SOURCE_WEBHOOK` (a signed delivery the ingress
#: verified) or :data:`SOURCE_API` (fetched from FedaPay's API by ``reconcile``).
SOURCE: Final = "fedapay-source"
SOURCE_WEBHOOK: Final = "webhook"
SOURCE_API: Final = "api"
#: On records ``dlq redrive`` put back on the raw topic: ``<dlq topic>:<partition>:<offset>``.
REDRIVEN_FROM: Final = "fedapay-redriven-from"
#: W3C trace context (only with tracing on, see ``common.tracing``): the raw record carries the
#: ingress's publish span, every output the worker's processing span.
TRACEPARENT: Final = "traceparent"
TRACESTATE: Final = "tracestate"
#: Every header a propagator may write (``baggage`` with ``OTEL_PROPAGATORS``'s default).
TRACE_HEADERS: Final = frozenset({TRACEPARENT, TRACESTATE, "baggage"})

Headers = list[tuple[str, bytes]]


def encode(pairs: dict[str, str | int]) -> Headers:
    return [(name, str(value).encode()) for name, value in pairs.items()]


def decode(headers: Headers | tuple[tuple[str, bytes], ...]) -> dict[str, str]:
    return {name: value.decode("utf-8", "replace") for name, value in headers}
