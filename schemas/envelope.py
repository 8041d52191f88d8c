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
class Envelope:
    name: str
    object: str
    entity_id: str
    updated_at: str
    event_id: str | None
    body: dict[str, Any]

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
    name = _text(document.get("name"), "name")
    obj = _text(document.get("object"), "object")
    entity = document.get("entity")
    if not isinstance(entity, dict):
        raise MalformedEvent(NOT_AN_EVENT, "entity is missing or not an object")
    entity_id = _scalar_id(entity.get("id"), "entity.id")
    updated_at = entity.get("updated_at")
    event_id = document.get("id")
    return Envelope(
        name=name,
        object=obj,
        entity_id=entity_id,
        updated_at=updated_at if isinstance(updated_at, str) else "",
        event_id=None if event_id is None else _scalar_id(event_id, "id"),
        body=document,
    )


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedEvent(NOT_AN_EVENT, f"{field} is missing or not a string")
    return value


def _scalar_id(value: object, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MalformedEvent(NOT_AN_EVENT, f"{field} is missing or not an id")
    return str(value)
