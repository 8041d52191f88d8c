"""What to do with one record of ``fedapay.transaction.approved``, and the email. Pure.

:func:`triage` reads a record's headers and value into a :class:`Confirmation` (send it) or a
:class:`Skip` (a counted reason). The identity of a delivery is ``<endpoint>:<dedup key>``: the
bridge may emit an event twice (at-least-once), always with the same ``fedapay-dedup-key``
header, and live and sandbox number their events independently.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from enum import StrEnum
from typing import Any, Final

import orjson

from schemas import headers

#: An address this service will write into a ``To:`` header: one address, no spaces or
#: line breaks (no header injection), a dot in the domain.
ADDRESS: Final = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")
#: The endpoint of a record without the ``fedapay-endpoint`` header (as the bridge keys it).
NO_ENDPOINT: Final = "-"


class Reason(StrEnum):
    """Why an event gets no email."""

    NO_ADDRESS = "no_address"
    INVALID_ADDRESS = "invalid_address"
    NOT_APPROVED = "not_approved"
    MALFORMED = "malformed"
    RECIPIENT_REFUSED = "recipient_refused"


@dataclass(frozen=True, slots=True)
class Confirmation:
    key: str
    transaction_id: str
    recipient: str
    reference: str | None
    amount: int | None
    currency: str | None

    @property
    def message_id(self) -> str:
        """The same for every attempt of one event: a receiving system can drop a repeat."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:32]
        return f"<{digest}@confirmation-email.invalid>"


@dataclass(frozen=True, slots=True)
class Skip:
    key: str
    transaction_id: str | None
    reason: Reason


def delivery_key(record_headers: Sequence[tuple[str, bytes]], value: bytes | None) -> str:
    """``<endpoint>:<fedapay-dedup-key>``; without the header, a digest of the value."""
    meta = headers.decode(tuple(record_headers))
    endpoint = meta.get(headers.ENDPOINT) or NO_ENDPOINT
    dedup_key = meta.get(headers.DEDUP_KEY)
    if not dedup_key:
        dedup_key = "sha256:" + hashlib.sha256(value or b"").hexdigest()
    return f"{endpoint}:{dedup_key}"


def triage(record_headers: Sequence[tuple[str, bytes]], value: bytes | None) -> Confirmation | Skip:
    key = delivery_key(record_headers, value)
    event = _load(value)
    entity = event.get("entity") if event is not None else None
    if not isinstance(entity, dict) or event is None:
        return Skip(key, None, Reason.MALFORMED)
    transaction_id = str(event.get("entity_id") or entity.get("id") or "") or None
    if transaction_id is None:
        return Skip(key, None, Reason.MALFORMED)
    if entity.get("status") != "approved":
        return Skip(key, transaction_id, Reason.NOT_APPROVED)
    recipient = _field(entity, "customer", "email")
    if recipient is None:
        return Skip(key, transaction_id, Reason.NO_ADDRESS)
    if not ADDRESS.fullmatch(recipient):
        return Skip(key, transaction_id, Reason.INVALID_ADDRESS)
    amount = entity.get("amount")
    return Confirmation(
        key=key,
        transaction_id=transaction_id,
        recipient=recipient,
        reference=_text(entity.get("reference")),
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=_field(entity, "currency", "iso"),
    )


def compose(confirmation: Confirmation, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = confirmation.recipient
    message["Subject"] = (
        f"Payment confirmed: {confirmation.reference or confirmation.transaction_id}"
    )
    message["Message-ID"] = confirmation.message_id
    amount = "" if confirmation.amount is None else f" of {confirmation.amount:,}"
    currency = "" if confirmation.currency is None or not amount else f" {confirmation.currency}"
    message.set_content(
        f"Your payment{amount}{currency} was approved.\n"
        f"Reference: {confirmation.reference or '-'}\n"
        f"Transaction: {confirmation.transaction_id}\n"
    )
    return message


def _load(value: bytes | None) -> dict[str, Any] | None:
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return document if isinstance(document, dict) else None


def _field(entity: dict[str, Any], outer: str, inner: str) -> str | None:
    node = entity.get(outer)
    return _text(node.get(inner)) if isinstance(node, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
