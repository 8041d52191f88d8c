"""The raw-topic records ``reconcile`` and ``dlq redrive`` write. Pure.

Key, dedup key and headers come from :mod:`schemas.envelope` and
:mod:`schemas.headers`, exactly as the ingress derives them, so a record
fetched from the API has the key and dedup key of its webhook delivery.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import headers
from schemas.envelope import MalformedEvent, parse
from schemas.topics import Topics


@dataclass(frozen=True, slots=True)
class OutgoingRecord:
    topic: str
    key: bytes | None
    value: bytes
    headers: headers.Headers


#: DLQ error code of an item of ``GET /v1/events`` that cannot be turned into a webhook body.
UNMAPPABLE = "unmappable_api_event"


def unmappable(
    item: bytes, detail: str, endpoint: str, fetched_at_ms: int, topics: Topics
) -> OutgoingRecord:
    """The DLQ record of an API event item that is no event we can map (kept, never dropped)."""
    pairs: dict[str, str | int] = {
        headers.SOURCE: headers.SOURCE_API,
        headers.ENDPOINT: endpoint,
        headers.RECEIVED_AT_MS: fetched_at_ms,
        headers.ERROR: UNMAPPABLE,
        headers.ERROR_DETAIL: detail,
    }
    return OutgoingRecord(topics.dlq, None, item, headers.encode(pairs))


def api_record(body: bytes, endpoint: str, fetched_at_ms: int, topics: Topics) -> OutgoingRecord:
    """The raw record of a body fetched from FedaPay's API (``fedapay-source: api``, no
    signature header: it was fetched over TLS with the merchant's key, not signed). A body
    that is no event goes to the DLQ, as the ingress does with a signed one."""
    common: dict[str, str | int] = {
        headers.SOURCE: headers.SOURCE_API,
        headers.ENDPOINT: endpoint,
        headers.RECEIVED_AT_MS: fetched_at_ms,
    }
    try:
        envelope = parse(body)
    except MalformedEvent as exc:
        extra = {headers.ERROR: exc.code, headers.ERROR_DETAIL: exc.detail}
        return OutgoingRecord(topics.dlq, None, body, headers.encode({**common, **extra}))
    pairs = {headers.EVENT_NAME: envelope.name, **common, headers.DEDUP_KEY: envelope.dedup_key}
    return OutgoingRecord(topics.raw, envelope.key.encode(), body, headers.encode(pairs))


#: DLQ headers a redriven record does not take back to the raw topic (recomputed or stale).
_DROPPED_ON_REDRIVE = frozenset({headers.ERROR, headers.ERROR_DETAIL, headers.DEDUP_KEY})


def redriven(
    key: bytes | None,
    value: bytes,
    dlq_headers: headers.Headers,
    origin: str,
    topics: Topics,
) -> OutgoingRecord:
    """A DLQ record put back on the raw topic: its original headers (endpoint, signature
    time, received-at, source) plus ``fedapay-redriven-from: <origin>``; the key and dedup key
    derived again from the body when it parses now, else the DLQ record's key."""
    kept = [(name, raw) for name, raw in dlq_headers if name not in _DROPPED_ON_REDRIVE]
    kept = [(name, raw) for name, raw in kept if name not in (headers.REDRIVEN_FROM,)]
    pairs: dict[str, str | int] = {headers.REDRIVEN_FROM: origin}
    try:
        envelope = parse(value)
    except MalformedEvent:
        return OutgoingRecord(topics.raw, key, value, [*kept, *headers.encode(pairs)])
    kept = [(name, raw) for name, raw in kept if name != headers.EVENT_NAME]
    pairs = {headers.EVENT_NAME: envelope.name, **pairs, headers.DEDUP_KEY: envelope.dedup_key}
    return OutgoingRecord(topics.raw, envelope.key.encode(), value, [*kept, *headers.encode(pairs)])
