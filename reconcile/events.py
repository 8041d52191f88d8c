"""FedaPay API events as the webhook bodies they stand for. Pure.

FedaPay's Events API (``GET /v1/events``) lists ``{"id", "klass": "v1/event",
"type", "entity", "object_id", "account_id", "created_at", "updated_at"}``.
A webhook carries ``{"name", "object", "entity", "account"}``. The two
vocabularies are not assumed equal: the official SDK's fixture names a type
``transaction.update`` where webhooks say ``transaction.updated``. So
:data:`TYPE_TO_NAME` maps every API type we know of to its webhook name, every
webhook name maps to itself, and any other type is kept as it is (it then goes
to ``<prefix>.unknown``, never dropped).

The body leaves out the event's ``id``: webhooks carry none, so the dedup key
must be the content key ``<name>:<object>:<entity.id>:<entity.updated_at>`` for
the API record to be the same event as its webhook delivery.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from reconcile.errors import ApiContractError
from schemas.topics import KNOWN_EVENTS

#: API event type -> webhook event name (the one table; anything else is kept as is).
TYPE_TO_NAME: Final[Mapping[str, str]] = {
    **{name: name for name in KNOWN_EVENTS},
    "transaction.create": "transaction.created",
    "transaction.update": "transaction.updated",
    "transaction.approve": "transaction.approved",
    "transaction.decline": "transaction.declined",
    "transaction.cancel": "transaction.canceled",
    "transaction.transfer": "transaction.transferred",
    "transaction.refund": "transaction.refunded",
    "transaction.delete": "transaction.deleted",
    "transaction.expire": "transaction.expired",
    "customer.create": "customer.created",
    "customer.update": "customer.updated",
    "customer.delete": "customer.deleted",
}


def webhook_name(api_type: str) -> str:
    """The webhook name of an API event type; an unknown type is kept unchanged."""
    return TYPE_TO_NAME.get(api_type, api_type)


@dataclass(frozen=True, slots=True)
class ApiEvent:
    """One item of ``GET /v1/events``."""

    id: str
    type: str
    entity: dict[str, Any]
    account_id: int | str | None
    created_at: str

    @property
    def object(self) -> str:
        """The entity's kind: ``klass`` ``v1/transaction`` -> ``transaction``, else the type's
        prefix (``transaction.update`` -> ``transaction``)."""
        klass = self.entity.get("klass")
        if isinstance(klass, str) and "/" in klass:
            return klass.rsplit("/", 1)[1]
        return self.type.split(".", 1)[0]


def parse_event(item: object) -> ApiEvent:
    """An item of the events list, or :class:`ApiContractError`."""
    if not isinstance(item, dict):
        raise ApiContractError("an item of v1/events is not an object")
    event_id, event_type, entity = item.get("id"), item.get("type"), item.get("entity")
    if event_id is None or not isinstance(event_type, str) or not event_type:
        raise ApiContractError("an event has no id or no type")
    if not isinstance(entity, dict):
        raise ApiContractError(f"event {event_id} has no entity object")
    created_at = item.get("created_at")
    account_id = item.get("account_id")
    return ApiEvent(
        id=str(event_id),
        type=event_type,
        entity=entity,
        account_id=account_id if isinstance(account_id, int | str) else None,
        created_at=created_at if isinstance(created_at, str) else "",
    )


def body(name: str, obj: str, entity: dict[str, Any], account_id: int | str | None) -> bytes:
    """A webhook body: ``name``, ``object``, ``entity`` and, when known, ``account`` (its id:
    the API event carries only ``account_id``)."""
    document: dict[str, Any] = {"name": name, "object": obj, "entity": entity}
    if account_id is not None:
        document["account"] = {"id": account_id}
    return orjson.dumps(document)


def webhook_body(event: ApiEvent) -> bytes:
    """The body the webhook delivery of ``event`` carried (without the API's event id)."""
    return body(webhook_name(event.type), event.object, event.entity, event.account_id)
