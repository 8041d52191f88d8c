"""What the worker does with one raw record, decided without any I/O. Pure.

:func:`read` turns a raw-topic record into a :class:`ParsedEvent` (or its DLQ
record); :func:`plan` takes the delivery plus what the tables hold for it and
returns every output record and table write. :mod:`streams.processor` executes
the plans of a batch: outputs first (acknowledged by the broker), table writes
after, so a crash in between repeats outputs (at-least-once) and never loses one.

Every output carries the delivery's dedup key in the ``fedapay-dedup-key``
header (DLQ records: the raw header's, else ``sha256:<hex of the body>``), so
consumers can drop repeats. Outputs of one transaction keep its partition.

Identities are qualified by the delivery's endpoint (:mod:`schemas.keys`): the
dedup table key is ``<endpoint>:<dedup key>``, the state table key and the key
of status and anomaly records ``<endpoint>:<transaction id>``, so live and
sandbox never share a dedup entry or a transaction. A raw record whose
``fedapay-endpoint`` header is not an endpoint name goes to the DLQ
(``invalid_endpoint``).

A record fetched from FedaPay's API (``fedapay-source: api``, written by
``reconcile``) is planned exactly like a webhook delivery (same key, same dedup
key, so whichever arrives first is the one emitted); when it changes a status
the worker had already derived, a ``status_drift`` anomaly says that the
webhook of that change never came.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from schemas import headers, keys
from schemas.envelope import Envelope, MalformedEvent, parse
from schemas.records import Anomaly, StatusRecord
from schemas.topics import Topics
from streams import dedup, normalize
from streams.dedup import SeenEntry
from streams.state_machine import Outcome, Step, TransactionState, advance

HeaderList = tuple[tuple[str, bytes], ...]


class OutputKind(StrEnum):
    EVENT = "event"
    STATUS = "status"
    ANOMALY = "anomaly"
    DLQ = "dlq"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A record of the raw topic, as the consumer hands it over."""

    key: bytes | None
    value: bytes | None
    headers: HeaderList
    partition: int
    offset: int
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Output:
    kind: OutputKind
    topic: str
    key: bytes | None
    value: bytes
    headers: HeaderList


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """A raw record that parsed as a FedaPay event."""

    envelope: Envelope
    record: RawRecord
    received_at_ms: int
    #: The endpoint of the key (:func:`schemas.keys.endpoint_of`): ``-`` without the header.
    endpoint: str
    #: The ``fedapay-source`` header (``None``: absent, a record older than the header).
    source: str | None = None

    @property
    def from_api(self) -> bool:
        """Fetched from FedaPay's API by ``reconcile`` rather than delivered by a webhook."""
        return self.source == headers.SOURCE_API

    @property
    def dedup_key(self) -> str:
        """The delivery's dedup key within its endpoint (the ``fedapay-dedup-key`` header)."""
        return self.envelope.dedup_key

    @property
    def seen_key(self) -> str:
        """The dedup table key: ``<endpoint>:<dedup key>``."""
        return keys.qualified(self.endpoint, self.dedup_key)

    @property
    def record_endpoint(self) -> str | None:
        """The ``endpoint`` field of its records (``None``: the raw record had no header)."""
        return keys.record_endpoint(self.endpoint)

    @property
    def is_transaction(self) -> bool:
        return self.envelope.object == "transaction"

    @property
    def transaction_id(self) -> str | None:
        """The entity id of a transaction event, else ``None``."""
        return self.envelope.entity_id if self.is_transaction else None

    @property
    def state_key(self) -> str | None:
        """The state table key (``<endpoint>:<transaction id>``) of a transaction event, also
        the key of its status and anomaly records; else ``None``."""
        tx_id = self.transaction_id
        return None if tx_id is None else keys.qualified(self.endpoint, tx_id)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    topics: Topics
    dedup_window_ms: int
    keep_account: bool = False
    #: ``PERSONAL_DATA=keep``: pass the entity's personal fields on (default: null them).
    keep_personal: bool = False
    #: ``STALE_DELIVERY_ANOMALIES``: a ``stale_delivery`` anomaly for each stale delivery.
    report_stale: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    outputs: tuple[Output, ...]
    #: Always written: a new entry, or one refreshed by a duplicate.
    seen: SeenEntry
    duplicate: bool
    #: ``None`` when the transaction state must not be written.
    state: TransactionState | None = None
    outcome: Outcome | None = None
    #: The status record and the anomalies among ``outputs``, as records (the metrics read
    #: them; the outputs hold them encoded).
    status: StatusRecord | None = None
    anomalies: tuple[Anomaly, ...] = ()


def read(record: RawRecord, topics: Topics) -> ParsedEvent | Output:
    """Parse a raw record; what cannot be parsed becomes its DLQ record."""
    meta = headers.decode(record.headers)
    body = record.value or b""
    try:
        envelope = parse(body)
    except MalformedEvent as exc:
        return dead_letter(record, topics, exc.code, exc.detail)
    try:
        endpoint = keys.endpoint_of(meta.get(headers.ENDPOINT))
    except keys.InvalidEndpoint as exc:
        return dead_letter(record, topics, keys.INVALID_ENDPOINT, str(exc))
    return ParsedEvent(
        envelope=envelope,
        record=record,
        received_at_ms=_received_at(meta.get(headers.RECEIVED_AT_MS), record.timestamp_ms),
        endpoint=endpoint,
        source=meta.get(headers.SOURCE),
    )


def dead_letter(record: RawRecord, topics: Topics, code: str, detail: str) -> Output:
    """The DLQ record of a raw record: its bytes and headers plus the error headers."""
    body = record.value or b""
    replaced = {headers.ERROR, headers.ERROR_DETAIL, headers.DEDUP_KEY}
    kept = tuple((name, value) for name, value in record.headers if name not in replaced)
    raw_key = headers.decode(record.headers).get(headers.DEDUP_KEY)
    dedup_key = raw_key or f"sha256:{hashlib.sha256(body).hexdigest()}"
    extra = headers.encode(
        {headers.ERROR: code, headers.ERROR_DETAIL: detail, headers.DEDUP_KEY: dedup_key}
    )
    return Output(OutputKind.DLQ, topics.dlq, record.key, body, (*kept, *extra))


def plan(
    delivery: ParsedEvent,
    seen: SeenEntry | None,
    state: TransactionState | None,
    config: PipelineConfig,
) -> Plan:
    """Dedup, normalize and (for transactions) advance the state machine."""
    decision = dedup.decide(
        seen, delivery.received_at_ms, config.dedup_window_ms, delivery.record.partition
    )
    if decision.duplicate:
        return Plan(outputs=(), seen=decision.entry, duplicate=True)
    outputs = [_event_output(delivery, config)]
    if not delivery.is_transaction:
        return Plan(outputs=tuple(outputs), seen=decision.entry, duplicate=False)
    observation = normalize.observation(delivery.envelope, delivery.record_endpoint)
    step = drift(delivery, state, advance(state, observation))
    if step.status_record is not None:
        outputs.append(_status_output(delivery, step.status_record, config.topics))
    anomalies = step.anomalies
    if config.report_stale and step.outcome is Outcome.STALE and state is not None:
        anomalies = (*anomalies, stale_anomaly(state, delivery))
    outputs.extend(_anomaly_output(delivery, anomaly, config.topics) for anomaly in anomalies)
    changed = step.state if step.state is not state else None
    return Plan(
        outputs=tuple(outputs),
        seen=decision.entry,
        duplicate=False,
        state=changed,
        outcome=step.outcome,
        status=step.status_record,
        anomalies=tuple(anomalies),
    )


def drift(delivery: ParsedEvent, before: TransactionState | None, step: Step) -> Step:
    """``step`` plus a ``status_drift`` anomaly when an API-sourced record changed a status
    the worker had derived (the webhook of that change never came)."""
    record = step.status_record
    if not delivery.from_api or record is None or record.previous_status is None:
        return step
    anomaly = Anomaly(
        kind="status_drift",
        transaction_id=record.transaction_id,
        endpoint=record.endpoint,
        from_status=record.previous_status,
        to_status=record.status,
        from_updated_at=None if before is None else before.updated_at,
        to_updated_at=record.updated_at,
        event=record.event,
        dedup_key=record.dedup_key,
        applied=True,
        detail=(
            f"FedaPay's API shows {record.status} where the webhooks left "
            f"{record.previous_status}: the webhook of this change never came"
        ),
    )
    state = step.state
    counted = None if state is None else replace(state, anomalies=state.anomalies + 1)
    return replace(step, state=counted, anomalies=(*step.anomalies, anomaly))


def stale_anomaly(state: TransactionState, delivery: ParsedEvent) -> Anomaly:
    """The ``stale_delivery`` anomaly of a delivery older than the newest one ``state`` knows."""
    envelope = delivery.envelope
    status = envelope.body["entity"].get("status")
    return Anomaly(
        kind="stale_delivery",
        transaction_id=envelope.entity_id,
        endpoint=delivery.record_endpoint,
        from_status=state.status,
        to_status=status if isinstance(status, str) else None,
        from_updated_at=state.updated_at,
        to_updated_at=envelope.updated_at or None,
        event=envelope.name,
        dedup_key=delivery.dedup_key,
        applied=False,
        detail="delivered after a newer event of the transaction; the derived status is kept",
    )


def _event_output(delivery: ParsedEvent, config: PipelineConfig) -> Output:
    event = normalize.normalize(
        delivery.envelope,
        received_at_ms=delivery.received_at_ms,
        endpoint=delivery.record_endpoint,
        keep_account=config.keep_account,
        keep_personal=config.keep_personal,
    )
    return Output(
        OutputKind.EVENT,
        config.topics.for_event(delivery.envelope.name),
        delivery.envelope.key.encode(),
        event.to_json(),
        _headers(delivery),
    )


def _qualified_key(delivery: ParsedEvent) -> bytes:
    key = delivery.state_key
    assert key is not None, "only transaction events have status and anomaly records"
    return key.encode()


def _status_output(delivery: ParsedEvent, record: StatusRecord, topics: Topics) -> Output:
    key = _qualified_key(delivery)
    return Output(OutputKind.STATUS, topics.status, key, record.to_json(), _headers(delivery))


def _anomaly_output(delivery: ParsedEvent, anomaly: Anomaly, topics: Topics) -> Output:
    key = _qualified_key(delivery)
    return Output(OutputKind.ANOMALY, topics.anomalies, key, anomaly.to_json(), _headers(delivery))


def _headers(delivery: ParsedEvent) -> HeaderList:
    pairs: dict[str, str | int] = {
        headers.DEDUP_KEY: delivery.dedup_key,
        headers.EVENT_NAME: delivery.envelope.name,
        headers.RECEIVED_AT_MS: delivery.received_at_ms,
    }
    if delivery.record_endpoint is not None:
        pairs[headers.ENDPOINT] = delivery.record_endpoint
    return tuple(headers.encode(pairs))


def _received_at(header: str | None, fallback_ms: int) -> int:
    if header is not None:
        try:
            return int(header)
        except ValueError:
            pass
    return fallback_ms


def replay(
    records: Sequence[RawRecord], config: PipelineConfig
) -> tuple[list[Output], dict[str, SeenEntry], dict[str, TransactionState]]:
    """Run the pipeline over records of one partition, in order, with in-memory tables.

    The reference model the integration tests compare a real worker against. The
    tables are keyed like the worker's (``<endpoint>:<id>``).
    """
    seen_table: dict[str, SeenEntry] = {}
    state_table: dict[str, TransactionState] = {}
    outputs: list[Output] = []
    for record in records:
        delivery = read(record, config.topics)
        if isinstance(delivery, Output):
            outputs.append(delivery)
            continue
        key = delivery.seen_key
        state_key = delivery.state_key
        state = None if state_key is None else state_table.get(state_key)
        step = plan(delivery, seen_table.get(key), state, config)
        outputs.extend(step.outputs)
        seen_table[key] = step.seen
        if state_key is not None and step.state is not None:
            state_table[state_key] = step.state
    return outputs, seen_table, state_table
