"""What the ingress writes to Kafka for one verified delivery. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas import headers
from schemas.envelope import MalformedEvent
from schemas.routing import route
from schemas.topics import Topics

#: Record kinds, also the ``outcome`` label of an accepted request (ingress.prom).
RAW: Final = "raw"
DLQ: Final = "dlq"
KINDS: Final = (RAW, DLQ)


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
    common: dict[str, str | int] = {
        headers.SOURCE: headers.SOURCE_WEBHOOK,
        headers.ENDPOINT: delivery.endpoint,
        headers.SIGNATURE_TIMESTAMP: delivery.signature_timestamp,
        headers.RECEIVED_AT_MS: delivery.received_at_ms,
    }
    try:
        routing = route(delivery.body)
    except MalformedEvent as exc:
        return Record(
            topic=topics.dlq,
            key=None,
            value=delivery.body,
            headers=headers.encode(
                {**common, headers.ERROR: exc.code, headers.ERROR_DETAIL: exc.detail}
            ),
            kind=DLQ,
        )
    return Record(
        topic=topics.raw,
        key=routing.key.encode(),
        value=delivery.body,
        headers=headers.encode(
            {headers.EVENT_NAME: routing.name, **common, headers.DEDUP_KEY: routing.dedup_key}
        ),
        kind=RAW,
    )
