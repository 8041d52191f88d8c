"""What the ingress writes to Kafka for one verified delivery. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import headers
from schemas.envelope import MalformedEvent, parse
from schemas.topics import Topics


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    headers: headers.Headers
    #: ``raw`` for events, ``dlq`` for signed bodies that are not events.
    kind: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery whose signature verified."""

    endpoint: str
    body: bytes
    signature_timestamp: int
    received_at_ms: int


def record_for(delivery: Delivery, topics: Topics) -> Record:
    """The raw-topic record of a signed delivery, or its DLQ record if it is no event."""
    return record_of(
        delivery.endpoint,
        delivery.body,
        delivery.signature_timestamp,
        delivery.received_at_ms,
        topics,
    )


def record_of(
    endpoint: str, body: bytes, signature_timestamp: int, received_at_ms: int, topics: Topics
) -> Record:
    """:func:`record_for` of ``Delivery(endpoint, body, ...)``, without building the Delivery.

    The headers are the pairs ``headers.encode`` gives, written out: each value is
    ``str(value).encode()``.
    """
    try:
        envelope = parse(body)
    except MalformedEvent as exc:
        return Record(
            topic=topics.dlq,
            key=None,
            value=body,
            headers=[
                (headers.ENDPOINT, endpoint.encode()),
                (headers.SIGNATURE_TIMESTAMP, str(signature_timestamp).encode()),
                (headers.RECEIVED_AT_MS, str(received_at_ms).encode()),
                (headers.ERROR, exc.code.encode()),
                (headers.ERROR_DETAIL, exc.detail.encode()),
            ],
            kind="dlq",
        )
    return Record(
        topic=topics.raw,
        key=envelope.key.encode(),
        value=body,
        headers=[
            (headers.EVENT_NAME, envelope.name.encode()),
            (headers.ENDPOINT, endpoint.encode()),
            (headers.SIGNATURE_TIMESTAMP, str(signature_timestamp).encode()),
            (headers.RECEIVED_AT_MS, str(received_at_ms).encode()),
            (headers.DEDUP_KEY, envelope.dedup_key.encode()),
        ],
        kind="raw",
    )
