"""The example consumer's pure verdict and email (examples/confirmation_email/message.py)."""

from __future__ import annotations

import orjson
import pytest

from examples.confirmation_email.message import Confirmation, Reason, Skip, compose, triage
from schemas import headers
from schemas.topics import Topics
from tests.examples.confirmation_events import approved_body, emitted

TOPICS = Topics("t")


def test_an_approved_event_with_an_address_is_confirmed() -> None:
    record = emitted(approved_body(235879, "ama@example.com"), TOPICS)

    verdict = triage(record.headers, record.value)

    assert verdict == Confirmation(
        key=f"sandbox:{record.dedup_key}",
        transaction_id="235879",
        recipient="ama@example.com",
        reference="trx_test_235879",
        amount=22000,
        currency="XOF",
    )


def test_the_redacted_event_has_no_address() -> None:
    record = emitted(approved_body(1, "ama@example.com"), TOPICS, keep_personal=False)

    assert triage(record.headers, record.value) == Skip(
        f"sandbox:{record.dedup_key}", "1", Reason.NO_ADDRESS
    )


def event(**entity: object) -> bytes:
    base: dict[str, object] = {"id": 7, "status": "approved", "customer": {"email": "a@b.example"}}
    return orjson.dumps({"entity_id": "7", "entity": {**base, **entity}})


HEADERS = tuple(headers.encode({headers.ENDPOINT: "live", headers.DEDUP_KEY: "evt-1"}))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (event(customer={"email": None}), Reason.NO_ADDRESS),
        (event(customer=None), Reason.NO_ADDRESS),
        (event(customer={"email": ""}), Reason.NO_ADDRESS),
        (event(customer={"email": "not an address"}), Reason.INVALID_ADDRESS),
        (event(customer={"email": "a@b.example\r\nBcc: x@y.example"}), Reason.INVALID_ADDRESS),
        (event(customer={"email": "a@b.example, c@d.example"}), Reason.INVALID_ADDRESS),
        (event(status="pending"), Reason.NOT_APPROVED),
        (b"not json", Reason.MALFORMED),
        (b"[1]", Reason.MALFORMED),
        (None, Reason.MALFORMED),
    ],
    ids=[
        "null-email",
        "no-customer",
        "empty-email",
        "not-an-address",
        "header-injection",
        "two-addresses",
        "not-approved",
        "not-json",
        "not-an-object",
        "tombstone",
    ],
)
def test_skips_and_their_reasons(value: bytes | None, reason: Reason) -> None:
    verdict = triage(HEADERS, value)

    assert isinstance(verdict, Skip)
    assert (verdict.key, verdict.reason) == ("live:evt-1", reason)


def test_without_headers_the_key_is_a_digest_of_the_value() -> None:
    first, second = triage((), event()), triage((), event())

    assert first.key == second.key
    assert first.key.startswith("-:sha256:")


def test_the_email_carries_a_message_id_fixed_by_the_key() -> None:
    verdict = triage(HEADERS, event(reference="trx_1", amount=1500, currency={"iso": "XOF"}))
    assert isinstance(verdict, Confirmation)

    message = compose(verdict, "payments@example.com")

    assert message["To"] == "a@b.example"
    assert message["Subject"] == "Payment confirmed: trx_1"
    assert message["Message-ID"] == verdict.message_id
    assert triage(HEADERS, event()).message_id == verdict.message_id  # type: ignore[union-attr]
    assert "1,500 XOF" in message.get_content()
