"""simulator.payloads: bodies with the real shape, key order, timestamps and escaping of FedaPay."""

from __future__ import annotations

import re

import orjson
import pytest

from ingress.signature import SignatureError, sign, verify_signature
from schemas.envelope import parse
from simulator import payloads
from simulator.lifecycle import Scenario
from tests.unit.simulator.receiver import SECRET

# Key order of the real sandbox delivery (shared fixture transaction.approved.json).
FIXTURE_ENTITY_KEYS = (
    "klass", "id", "reference", "amount", "description", "callback_url", "status", "customer_id",
    "currency_id", "mode", "operation", "metadata", "commission", "fees", "fixed_commission",
    "amount_transferred", "created_at", "updated_at", "approved_at", "canceled_at", "declined_at",
    "refunded_at", "transferred_at", "deleted_at", "last_error_code", "custom_metadata",
    "amount_debited", "receipt_url", "payment_method_id", "sub_accounts_commissions",
    "transaction_key", "merchant_reference", "account_id", "balance_id", "customer", "currency",
    "payment_method", "balance", "refunds"
)  # fmt: skip
FIXTURE_CUSTOMER_KEYS = (
    "klass", "id", "firstname", "lastname", "full_name", "email", "account_id", "phone_number_id",
    "created_at", "updated_at", "deleted_at"
)  # fmt: skip
FIXTURE_ACCOUNT_KEYS = (
    "klass", "id", "name", "timezone", "country", "created_at", "updated_at", "verified",
    "reference", "business_type", "business_identity_type", "business_identity_number",
    "business_vat_number", "business_registration_number", "business_category", "blocked",
    "business_website", "business_address", "business_name", "business_phone", "business_email",
    "business_owner", "business_company_capital", "business_description", "submitted",
    "reject_reason", "has_balance_issue", "last_balance_issue_checked_at", "prospect_code",
    "deal_closer_code", "manager_code", "business_identity_id", "business_vat_id",
    "business_registration_id", "business_owner_signature_id", "business_identity", "business_vat",
    "business_registration", "business_owner_signature", "user_accounts", "users", "api_keys",
    "balances", "bank_accounts", "mobile_accounts", "card_accounts", "currencies"
)  # fmt: skip
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


# --------------------------------------------------------------------------- bodies


def test_every_body_parses_and_matches_its_event(scenario: Scenario) -> None:
    for event in scenario.events:
        envelope = parse(event.body)
        entity = envelope.body["entity"]
        assert (envelope.name, envelope.object) == (event.name, event.object)
        assert envelope.entity_id == event.entity_id
        assert envelope.updated_at == event.updated_at
        assert envelope.dedup_key == event.dedup_key
        assert envelope.key == event.key == f"{event.object}:{event.entity_id}"
        assert entity.get("status") == event.status
        assert payloads.parse_iso_ms(event.updated_at) == event.updated_at_ms


def test_transaction_body_has_the_real_shape(scenario: Scenario) -> None:
    event = next(e for e in scenario.events if e.name == "transaction.approved")
    document = orjson.loads(event.body)
    assert list(document) == ["name", "object", "entity", "account"]
    entity, account = document["entity"], document["account"]
    assert tuple(entity) == FIXTURE_ENTITY_KEYS
    assert tuple(entity["customer"]) == FIXTURE_CUSTOMER_KEYS
    assert tuple(account) == FIXTURE_ACCOUNT_KEYS
    assert isinstance(entity["id"], int)
    assert entity["reference"].startswith("trx_")
    assert isinstance(entity["commission"], str)
    assert entity["currency"]["iso"] == "XOF"
    assert entity["mode"] in payloads.OPERATORS
    assert entity["approved_at"] is not None
    assert entity["refunds"] == []
    for user in account["users"]:
        assert user["email"].endswith("@example.com")
    assert all(key["public_key"].startswith("pk_sandbox_") for key in account["api_keys"])
    assert 6_000 <= len(event.body) <= 7_800


def test_customer_body_has_the_real_shape(scenario: Scenario) -> None:
    event = next(e for e in scenario.events if e.name == "customer.created")
    entity = orjson.loads(event.body)["entity"]
    assert tuple(entity) == FIXTURE_CUSTOMER_KEYS
    assert entity["email"] is None or entity["email"].endswith("@example.com")
    assert event.status is None


def test_timestamps_are_iso_utc_with_milliseconds(scenario: Scenario) -> None:
    entity = orjson.loads(scenario.events[-1].body)["entity"]
    stamps = [v for k, v in entity.items() if k.endswith("_at") and v is not None]
    assert stamps
    assert all(ISO_MS.match(stamp) for stamp in stamps)
    assert payloads.iso_ms(1_708_343_290_408) == "2024-02-19T11:48:10.408Z"


def test_bodies_are_escaped_like_fedapay(scenario: Scenario) -> None:
    body = next(e for e in scenario.events if e.object == "transaction").body
    assert b"\\u0026" in body  # the callback_url has an "&"
    assert b"&" not in body
    assert b"<" not in body
    assert b">" not in body
    assert payloads.dumps(orjson.loads(body)) == body  # compact, nothing else changed
    reserialized = orjson.dumps(orjson.loads(body))
    assert reserialized != body
    header = sign(body, SECRET)
    assert verify_signature(body, header, [SECRET]) > 0
    with pytest.raises(SignatureError):
        verify_signature(reserialized, header, [SECRET])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a&b", b'"a\\u0026b"'),
        ("<x>", b'"\\u003cx\\u003e"'),
        ("Aïcha", '"Aïcha"'.encode()),
        ("\u2028", b'"\\u2028"'),
    ],
)
def test_dumps_escapes_html_characters(text: str, expected: bytes) -> None:
    assert payloads.dumps(text) == expected
    assert orjson.loads(payloads.dumps(text)) == text
