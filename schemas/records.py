"""The records the stream workers emit, as Python models.

These dataclasses are the single source of the output contract: the JSON
Schemas in ``schemas/json/`` are generated from them (``python -m
schemas.generate``) and a test fails when the two drift apart. Consumers in any
language read the JSON files; Python consumers may import these classes.

Field metadata: ``description`` (copied into the schema), ``format`` (a JSON
Schema format such as ``date-time``) and ``omit_if_none`` (the key is left out,
not set to null, when the value is ``None``; such a field is optional in the
schema).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal, get_args

import orjson

from schemas import personal

Status = Literal[
    "pending",
    "approved",
    "declined",
    "canceled",
    "expired",
    "refunded",
    "transferred",
    "approved_partially_refunded",
    "transferred_partially_refunded",
]

#: FedaPay's transaction statuses (``entity.status``).
STATUSES: Final[tuple[Status, ...]] = get_args(Status)

AnomalyKind = Literal[
    "illegal_transition",
    "conflicting_status",
    "unknown_status",
    "invalid_updated_at",
    "status_drift",
    "stale_delivery",
]

ANOMALY_KINDS: Final[tuple[AnomalyKind, ...]] = get_args(AnomalyKind)


def doc(description: str, **extra: Any) -> dict[str, Any]:
    """Field metadata: a description plus optional ``format`` / ``omit_if_none``."""
    return {"description": description, **extra}


#: The documentation of the fields that identify a transaction, in every record that has them.
_TRANSACTION_ID = doc("FedaPay transaction id (entity.id), as a string.")
_ENDPOINT = doc(
    "The webhook endpoint (fedapay-endpoint) of the transaction, e.g. live or sandbox: "
    "live and sandbox number transactions independently, so a transaction is "
    "(endpoint, transaction_id). Null when the raw record had no endpoint header."
)

_LAYOUTS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _layout(cls: type) -> tuple[tuple[str, bool], ...]:
    """Each field's name and whether it is left out when ``None``, in order (cached)."""
    layout = _LAYOUTS.get(cls)
    if layout is None:
        layout = tuple(
            (item.name, bool(item.metadata.get("omit_if_none", False))) for item in fields(cls)
        )
        _LAYOUTS[cls] = layout
    return layout


class _RecordValue:
    """Serialization shared by the output records."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {}
        for name, omit_if_none in _layout(type(self)):
            value = getattr(self, name)
            if value is None and omit_if_none:
                continue
            document[name] = value
        return document

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


@dataclass(frozen=True, slots=True)
class NormalizedEvent(_RecordValue):
    """One distinct FedaPay webhook delivery, on <prefix>.<event name> (or <prefix>.unknown)."""

    name: str = field(metadata=doc("FedaPay event name, e.g. transaction.approved."))
    object: str = field(metadata=doc("Kind of entity: transaction, customer, ..."))
    entity_id: str = field(metadata=doc("The entity's id (entity.id), as a string."))
    event_id: str | None = field(
        metadata=doc("The payload's top-level id when FedaPay sent one, else null.")
    )
    updated_at: str | None = field(
        metadata=doc("entity.updated_at as FedaPay sent it (its clock), or null if absent.")
    )
    dedup_key: str = field(
        metadata=doc(
            "The delivery's identity: the top-level id, else "
            "<name>:<object>:<entity.id>:<entity.updated_at>. Also the fedapay-dedup-key header."
        )
    )
    received_at: str = field(
        metadata=doc(
            "When the ingress received the delivery (UTC, milliseconds).", format="date-time"
        )
    )
    endpoint: str | None = field(
        metadata=doc("The configured webhook endpoint name the delivery came through.")
    )
    account_id: int | str | None = field(
        metadata=doc("The merchant account's id (account.id), kept instead of the account.")
    )
    entity: dict[str, Any] = field(
        metadata=doc("The FedaPay entity as delivered. " + personal.describe())
    )
    account: dict[str, Any] | None = field(
        default=None,
        metadata=doc(
            "The merchant account object; present only when the worker keeps it "
            "(FEDAPAY_BRIDGE_KEEP_ACCOUNT=true): it holds personal data.",
            omit_if_none=True,
        ),
    )


@dataclass(frozen=True, slots=True)
class StatusRecord(_RecordValue):
    """A transaction's derived status, on the compacted <prefix>.transaction.status.

    Keyed <endpoint>:<transaction_id> (endpoint "-" when the raw record had no
    endpoint header): one latest record per (endpoint, transaction).
    """

    transaction_id: str = field(metadata=_TRANSACTION_ID)
    endpoint: str | None = field(metadata=_ENDPOINT)
    status: Status = field(metadata=doc("The status now derived for the transaction."))
    previous_status: Status | None = field(
        metadata=doc("The status derived before this one, or null for the first one seen.")
    )
    updated_at: str = field(
        metadata=doc("entity.updated_at of the event that set this status (FedaPay's clock).")
    )
    event: str = field(metadata=doc("Name of the event that set this status."))
    dedup_key: str = field(metadata=doc("Dedup key of the event that set this status."))
    reference: str | None = field(metadata=doc("entity.reference (trx_...), if present."))
    amount: int | None = field(metadata=doc("entity.amount, in currency units, if present."))
    currency: str | None = field(metadata=doc("entity.currency.iso, e.g. XOF, if present."))


@dataclass(frozen=True, slots=True)
class Anomaly(_RecordValue):
    """Something in FedaPay's own timeline that should not happen, on <prefix>.anomalies
    (keyed <endpoint>:<transaction_id>).

    illegal_transition: two consecutive statuses (by updated_at) that the
    transition table does not allow, e.g. approved then pending; reported once
    per illegal step, whichever order the deliveries arrive in.
    conflicting_status: two different statuses with the same updated_at.
    unknown_status, invalid_updated_at: the event cannot be placed in the
    timeline; the derived status is left unchanged.
    status_drift: a record fetched from FedaPay's API (fedapay-source: api, by
    reconcile) changed a status the worker had derived: the webhook of that
    change never came (or has not come yet). The API's status is applied.
    stale_delivery: only when the worker reports them
    (FEDAPAY_BRIDGE_STALE_DELIVERY_ANOMALIES=true): a delivery older (by updated_at) than
    the newest one known; from_* is the newest known, to_* the delivery; the derived status
    is left unchanged.
    """

    kind: AnomalyKind = field(metadata=doc("What is wrong."))
    transaction_id: str = field(metadata=_TRANSACTION_ID)
    endpoint: str | None = field(metadata=_ENDPOINT)
    from_status: str | None = field(
        metadata=doc("The earlier status of the offending pair (or the status kept).")
    )
    to_status: str | None = field(
        metadata=doc("The later status of the offending pair (or the status delivered).")
    )
    from_updated_at: str | None = field(metadata=doc("updated_at of from_status."))
    to_updated_at: str | None = field(metadata=doc("updated_at of to_status."))
    event: str = field(metadata=doc("Name of the event whose delivery revealed the anomaly."))
    dedup_key: str = field(metadata=doc("Dedup key of that event."))
    applied: bool = field(
        metadata=doc("True when that event's status became the derived status anyway.")
    )
    detail: str = field(metadata=doc("A short human-readable explanation (no payload data)."))


#: Every output record model, by the base name of its schema file.
RECORD_MODELS: Final[dict[str, type[_RecordValue]]] = {
    "normalized-event": NormalizedEvent,
    "status-record": StatusRecord,
    "anomaly": Anomaly,
}
