"""The few fields of a FedaPay webhook body the bridge routes by.

A webhook body is ``{"name", "object", "entity", "account"}`` (see the shared
notes); a top-level ``id`` is used when present. Parsing is shared by the
ingress (record key, dedup header) and the workers, so both derive the same
keys from the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from common.errors import BridgeError


class MalformedEvent(BridgeError):
    """Signed bytes that are not a FedaPay event. ``code`` is stable."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


INVALID_JSON = "invalid_json"
NOT_AN_EVENT = "not_a_fedapay_event"


@dataclass(frozen=True, slots=True)
class Routing:
    """The fields the bridge routes an event by (:func:`schemas.routing.route` reads only these)."""

    name: str
    object: str
    entity_id: str
    updated_at: str
    event_id: str | None

    @property
    def key(self) -> str:
        """Record key: every event of one entity lands in one partition."""
        return f"{self.object}:{self.entity_id}"

    @property
    def dedup_key(self) -> str:
        """The top-level ``id`` when FedaPay sends one, else a content key.

        ``transaction.updated`` repeats for one transaction, so the content key
        includes the entity's ``updated_at``.
        """
        if self.event_id is not None:
            return self.event_id
        return f"{self.name}:{self.object}:{self.entity_id}:{self.updated_at}"


@dataclass(frozen=True, slots=True)
class Envelope(Routing):
    """A parsed event: its routing fields and the whole decoded body."""

    body: dict[str, Any]

    @property
    def routing(self) -> Routing:
        return Routing(self.name, self.object, self.entity_id, self.updated_at, self.event_id)


def parse(body: bytes) -> Envelope:
    """Parse a webhook body, or raise :class:`MalformedEvent`."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedEvent(INVALID_JSON, f"body is not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise MalformedEvent(NOT_AN_EVENT, "body is not a JSON object")
    return from_document(document)


def from_document(document: dict[str, Any]) -> Envelope:
    entity = document.get("entity")
    if not isinstance(entity, dict):
        entity = None
    fields = checked(
        document.get("name"),
        document.get("object"),
        entity is not None,
        None if entity is None else entity.get("id"),
        None if entity is None else entity.get("updated_at"),
        document.get("id"),
    )
    return Envelope(*fields, body=document)


def checked(
    name: object,
    obj: object,
    has_entity: bool,
    entity_id: object,
    updated_at: object,
    event_id: object,
) -> tuple[str, str, str, str, str | None]:
    """The routing fields of decoded values, or :class:`MalformedEvent` (checked in this order)."""
    name = _text(name, "name")
    obj = _text(obj, "object")
    if not has_entity:
        raise MalformedEvent(NOT_AN_EVENT, "entity is missing or not an object")
    return (
        name,
        obj,
        _scalar_id(entity_id, "entity.id"),
        updated_at if isinstance(updated_at, str) else "",
        None if event_id is None else _scalar_id(event_id, "id"),
    )


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedEvent(NOT_AN_EVENT, f"{field} is missing or not a string")
    return value


def _scalar_id(value: object, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MalformedEvent(NOT_AN_EVENT, f"{field} is missing or not an id")
    return str(value)
