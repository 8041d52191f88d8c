"""What the ingress writes for a signed delivery: raw record or DLQ record."""

from __future__ import annotations

import pytest

from ingress.records import Delivery, record_for
from schemas import headers
from schemas.topics import Topics
from tests.fixtures import fixture_bytes

TOPICS = Topics("fedapay")


def _delivery(body: bytes) -> Delivery:
    return Delivery("sandbox", body, 1_708_343_290, 1_708_343_291_123)


def test_event_goes_to_raw_with_key_and_headers() -> None:
    body = fixture_bytes("transaction.approved.json")
    record = record_for(_delivery(body), TOPICS)
    assert record.topic == "fedapay.raw"
    assert record.kind == "raw"
    assert record.key == b"transaction:235879"
    assert record.value is body
    assert headers.decode(record.headers) == {
        "fedapay-event": "transaction.approved",
        "fedapay-source": "webhook",
        "fedapay-endpoint": "sandbox",
        "fedapay-signature-t": "1708343290",
        "fedapay-received-at-ms": "1708343291123",
        "fedapay-dedup-key": "transaction.approved:transaction:235879:2024-02-19T11:48:10.408Z",
    }


def test_top_level_id_is_the_dedup_key() -> None:
    body = b'{"id":"evt_1","name":"customer.created","object":"customer","entity":{"id":7}}'
    record = record_for(_delivery(body), TOPICS)
    assert headers.decode(record.headers)["fedapay-dedup-key"] == "evt_1"
    assert record.key == b"customer:7"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        pytest.param(b"not json", "invalid_json", id="not-json"),
        pytest.param(b"\xff\xfe", "invalid_json", id="not-utf8"),
        pytest.param(b"[1,2]", "not_a_fedapay_event", id="array"),
        pytest.param(b'{"name":"x"}', "not_a_fedapay_event", id="no-object"),
        pytest.param(
            b'{"name":"x","object":"y","entity":{}}', "not_a_fedapay_event", id="no-entity-id"
        ),
        pytest.param(
            b'{"name":"x","object":"y","entity":{"id":true}}', "not_a_fedapay_event", id="bool-id"
        ),
    ],
)
def test_signed_non_event_goes_to_dlq(body: bytes, code: str) -> None:
    record = record_for(_delivery(body), TOPICS)
    assert (record.topic, record.kind, record.key, record.value) == (
        "fedapay.dlq",
        "dlq",
        None,
        body,
    )
    decoded = headers.decode(record.headers)
    assert decoded["fedapay-error"] == code
    assert decoded["fedapay-endpoint"] == "sandbox"
    assert decoded["fedapay-source"] == "webhook"
    assert "fedapay-dedup-key" not in decoded
