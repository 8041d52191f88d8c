"""API events as webhook bodies: the type table, unknown types kept, the webhook's identity."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reconcile.errors import ApiContractError
from reconcile.events import TYPE_TO_NAME, parse_event, webhook_body, webhook_name
from schemas.envelope import parse
from schemas.topics import KNOWN_EVENTS, Topics
from tests.fixtures import fixture_bytes

WEBHOOK = fixture_bytes("transaction.approved.json")


def test_every_webhook_name_maps_to_itself_and_every_target_is_known() -> None:
    assert all(TYPE_TO_NAME[name] == name for name in KNOWN_EVENTS)
    assert set(TYPE_TO_NAME.values()) == set(KNOWN_EVENTS)


@pytest.mark.parametrize(
    ("api_type", "name"),
    [
        ("transaction.update", "transaction.updated"),
        ("transaction.updated", "transaction.updated"),
        ("transaction.create", "transaction.created"),
        ("transaction.cancel", "transaction.canceled"),
        ("customer.delete", "customer.deleted"),
        ("payout.sent", "payout.sent"),
        ("transaction.approval_retried", "transaction.approval_retried"),
    ],
)
def test_webhook_name(api_type: str, name: str) -> None:
    assert webhook_name(api_type) == name


def api_item(**changes: Any) -> dict[str, Any]:
    webhook = orjson.loads(WEBHOOK)
    item = {
        "id": 77,
        "klass": "v1/event",
        "type": "transaction.approve",
        "entity": webhook["entity"],
        "object_id": webhook["entity"]["id"],
        "account_id": webhook["account"]["id"],
        "created_at": webhook["entity"]["updated_at"],
        "updated_at": webhook["entity"]["updated_at"],
    }
    item.update(changes)
    return item


def test_api_event_has_the_key_and_dedup_key_of_its_webhook() -> None:
    ours = parse(webhook_body(parse_event(api_item())))
    theirs = parse(WEBHOOK)
    assert (ours.name, ours.key, ours.dedup_key) == (theirs.name, theirs.key, theirs.dedup_key)
    assert ours.event_id is None, "the API's event id would change the dedup key"
    assert ours.body["account"] == {"id": orjson.loads(WEBHOOK)["account"]["id"]}


def test_unknown_type_is_kept_and_routed_to_unknown() -> None:
    body = parse(webhook_body(parse_event(api_item(type="transaction.frozen"))))
    assert body.name == "transaction.frozen"
    assert Topics("t").for_event(body.name) == "t.unknown"


@pytest.mark.parametrize(
    ("entity", "obj"),
    [
        ({"id": 1, "klass": "v1/customer"}, "customer"),
        ({"id": 1}, "transaction"),
    ],
)
def test_object_from_klass_else_type(entity: dict[str, Any], obj: str) -> None:
    assert parse_event(api_item(entity=entity)).object == obj


def test_no_account_id_no_account() -> None:
    body = orjson.loads(webhook_body(parse_event(api_item(account_id=None))))
    assert "account" not in body


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("x", "not an object"),
        ({"type": "transaction.update", "entity": {}}, "no id or no type"),
        ({"id": 1, "entity": {}}, "no id or no type"),
        ({"id": 1, "type": "transaction.update", "entity": 5}, "no entity object"),
    ],
)
def test_malformed_items(item: object, message: str) -> None:
    with pytest.raises(ApiContractError, match=message):
        parse_event(item)
