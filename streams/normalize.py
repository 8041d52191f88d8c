"""Raw FedaPay deliveries to the records the workers emit. Pure."""

from __future__ import annotations

from typing import Any

from schemas import personal
from schemas.envelope import Envelope
from schemas.records import NormalizedEvent
from streams.clock import iso_ms
from streams.state_machine import Observation


def account_id(body: dict[str, Any]) -> int | str | None:
    """``account.id``, else the entity's ``account_id``, else ``None``."""
    account = body.get("account")
    found = _as_id(account.get("id")) if isinstance(account, dict) else None
    if found is None:
        entity = body.get("entity")
        found = _as_id(entity.get("account_id")) if isinstance(entity, dict) else None
    return found


def normalize(
    envelope: Envelope,
    *,
    received_at_ms: int,
    endpoint: str | None,
    keep_account: bool,
    keep_personal: bool = False,
) -> NormalizedEvent:
    """The normalized event: the account reduced to its id unless ``keep_account``, the
    entity's personal fields (:mod:`schemas.personal`) set to null unless ``keep_personal``."""
    body = envelope.body
    account = body.get("account")
    entity: dict[str, Any] = body["entity"]
    return NormalizedEvent(
        name=envelope.name,
        object=envelope.object,
        entity_id=envelope.entity_id,
        event_id=envelope.event_id,
        updated_at=envelope.updated_at or None,
        dedup_key=envelope.dedup_key,
        received_at=iso_ms(received_at_ms),
        endpoint=endpoint,
        account_id=account_id(body),
        entity=entity if keep_personal else personal.redact(envelope.object, entity),
        account=account if keep_account and isinstance(account, dict) else None,
    )


def observation(envelope: Envelope, endpoint: str | None) -> Observation:
    """What the state machine needs from a transaction event (``endpoint``: the records'
    ``endpoint`` field)."""
    entity: dict[str, Any] = envelope.body["entity"]
    status = entity.get("status")
    currency = entity.get("currency")
    iso = currency.get("iso") if isinstance(currency, dict) else None
    amount = entity.get("amount")
    reference = entity.get("reference")
    return Observation(
        transaction_id=envelope.entity_id,
        status=status if isinstance(status, str) else repr(status),
        updated_at=envelope.updated_at or None,
        event=envelope.name,
        dedup_key=envelope.dedup_key,
        endpoint=endpoint,
        reference=reference if isinstance(reference, str) else None,
        amount=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        currency=iso if isinstance(iso, str) else None,
    )


def _as_id(value: object) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) or (isinstance(value, str) and value):
        return value
    return None
