"""Raw records of API events and of redriven dead letters: keys and headers."""

from __future__ import annotations

from ingress.records import Delivery, record_for
from reconcile.records import api_record, redriven, unmappable
from schemas import headers
from schemas.topics import Topics
from tests.fixtures import fixture_bytes

TOPICS = Topics("t")
BODY = fixture_bytes("transaction.approved.json")


def test_api_record_has_the_webhook_key_and_dedup_key_and_says_api() -> None:
    webhook = record_for(Delivery("live", BODY, 1_708_343_290, 1_708_343_291_000), TOPICS)
    ours = api_record(BODY, "live", 1_800_000_000_000, TOPICS)
    assert (ours.topic, ours.key, ours.value) == (webhook.topic, webhook.key, webhook.value)
    assert headers.decode(ours.headers) == {
        "fedapay-event": "transaction.approved",
        "fedapay-source": "api",
        "fedapay-endpoint": "live",
        "fedapay-received-at-ms": "1800000000000",
        "fedapay-dedup-key": headers.decode(webhook.headers)["fedapay-dedup-key"],
    }


def test_api_body_that_is_no_event_goes_to_the_dlq() -> None:
    record = api_record(b'{"name": "x"}', "live", 1, TOPICS)
    assert (record.topic, record.key) == ("t.dlq", None)
    found = headers.decode(record.headers)
    assert (found["fedapay-error"], found["fedapay-source"]) == ("not_a_fedapay_event", "api")


def test_redriven_event_gets_its_key_and_dedup_key_back() -> None:
    dlq = headers.encode(
        {
            headers.SOURCE: "webhook",
            headers.ENDPOINT: "live",
            headers.SIGNATURE_TIMESTAMP: 5,
            headers.RECEIVED_AT_MS: 6,
            headers.ERROR: "processing_error",
            headers.ERROR_DETAIL: "boom",
            headers.DEDUP_KEY: "sha256:abc",
            headers.REDRIVEN_FROM: "t.dlq:0:1",
        }
    )
    record = redriven(None, BODY, dlq, "t.dlq:2:9", TOPICS)
    assert (record.topic, record.key) == ("t.raw", b"transaction:235879")
    assert headers.decode(record.headers) == {
        "fedapay-source": "webhook",
        "fedapay-endpoint": "live",
        "fedapay-signature-t": "5",
        "fedapay-received-at-ms": "6",
        "fedapay-event": "transaction.approved",
        "fedapay-redriven-from": "t.dlq:2:9",
        "fedapay-dedup-key": "transaction.approved:transaction:235879:2024-02-19T11:48:10.408Z",
    }


def test_redriven_non_event_keeps_its_key_and_headers() -> None:
    dlq = headers.encode({headers.ENDPOINT: "live", headers.ERROR: "invalid_json"})
    record = redriven(b"k", b"nope", dlq, "t.dlq:0:0", TOPICS)
    assert (record.topic, record.key, record.value) == ("t.raw", b"k", b"nope")
    assert headers.decode(record.headers) == {
        "fedapay-endpoint": "live",
        "fedapay-redriven-from": "t.dlq:0:0",
    }


def test_unmappable_api_item_is_kept_in_the_dlq() -> None:
    record = unmappable(b'{"id": 3}', "event 3 has no entity object", "live", 9, TOPICS)
    assert (record.topic, record.key, record.value) == ("t.dlq", None, b'{"id": 3}')
    assert headers.decode(record.headers) == {
        "fedapay-source": "api",
        "fedapay-endpoint": "live",
        "fedapay-received-at-ms": "9",
        "fedapay-error": "unmappable_api_event",
        "fedapay-error-detail": "event 3 has no entity object",
    }
