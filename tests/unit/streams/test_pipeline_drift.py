"""``status_drift``: an API-sourced record (reconcile) that changes a derived status."""

from __future__ import annotations

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas import headers
from schemas.jsonschema import load
from schemas.topics import Topics
from streams.pipeline import OutputKind, ParsedEvent, PipelineConfig, RawRecord, plan, read, replay
from tests.fixtures import fixture_bytes

TOPICS = Topics("t")
CONFIG = PipelineConfig(topics=TOPICS, dedup_window_ms=72 * 3600 * 1000)
T0 = 1_708_343_300_000
ANOMALY = Draft202012Validator(load("anomaly"))


def body(name: str, status: str, updated_at: str) -> bytes:
    document = orjson.loads(fixture_bytes("transaction.approved.json"))
    document["name"] = name
    document["entity"]["status"] = status
    document["entity"]["updated_at"] = updated_at
    return orjson.dumps(document)


PENDING = body("transaction.created", "pending", "2024-02-19T11:40:00.000Z")
APPROVED = body("transaction.updated", "approved", "2024-02-19T11:48:10.408Z")
OLDER = body("transaction.updated", "pending", "2024-02-19T11:30:00.000Z")
SAME_STATUS = body("transaction.updated", "pending", "2024-02-19T11:45:00.000Z")


def raw(value: bytes, offset: int, source: str | None) -> RawRecord:
    pairs: dict[str, str | int] = {headers.ENDPOINT: "sandbox", headers.RECEIVED_AT_MS: T0}
    if source is not None:
        pairs[headers.SOURCE] = source
    return RawRecord(b"transaction:235879", value, tuple(headers.encode(pairs)), 0, offset, T0)


def anomalies(records: list[RawRecord]) -> list[dict[str, object]]:
    outputs, _, _ = replay(records, CONFIG)
    found = [orjson.loads(o.value) for o in outputs if o.kind is OutputKind.ANOMALY]
    for document in found:
        ANOMALY.validate(document)
    return found


@pytest.mark.parametrize(
    ("stream", "kinds"),
    [
        pytest.param(
            [(PENDING, "webhook"), (APPROVED, "api")], ["status_drift"], id="api-moves-pending"
        ),
        pytest.param([(PENDING, "webhook"), (APPROVED, "webhook")], [], id="webhook-moves-it"),
        pytest.param([(PENDING, None), (APPROVED, None)], [], id="no-source-header"),
        pytest.param([(APPROVED, "api")], [], id="api-first-seen-no-previous-status"),
        pytest.param([(PENDING, "webhook"), (SAME_STATUS, "api")], [], id="api-same-status"),
        pytest.param([(PENDING, "webhook"), (OLDER, "api")], [], id="api-stale"),
        pytest.param(
            [(PENDING, "webhook"), (APPROVED, "webhook"), (APPROVED, "api")],
            [],
            id="api-duplicate-of-webhook",
        ),
        pytest.param(
            [(PENDING, "webhook"), (APPROVED, "api"), (APPROVED, "webhook")],
            ["status_drift"],
            id="late-webhook-is-a-duplicate",
        ),
    ],
)
def test_status_drift_table(stream: list[tuple[bytes, str | None]], kinds: list[str]) -> None:
    records = [raw(value, offset, source) for offset, (value, source) in enumerate(stream)]
    assert [a["kind"] for a in anomalies(records)] == kinds


def test_status_drift_record() -> None:
    (anomaly,) = anomalies([raw(PENDING, 0, "webhook"), raw(APPROVED, 1, "api")])
    assert anomaly == {
        "kind": "status_drift",
        "transaction_id": "235879",
        "endpoint": "sandbox",
        "from_status": "pending",
        "to_status": "approved",
        "from_updated_at": "2024-02-19T11:40:00.000Z",
        "to_updated_at": "2024-02-19T11:48:10.408Z",
        "event": "transaction.updated",
        "dedup_key": "transaction.updated:transaction:235879:2024-02-19T11:48:10.408Z",
        "applied": True,
        "detail": "FedaPay's API shows approved where the webhooks left pending: "
        "the webhook of this change never came",
    }


def test_api_record_keeps_the_webhook_identity_and_counts_the_anomaly() -> None:
    first = read(raw(PENDING, 0, "webhook"), TOPICS)
    second = read(raw(APPROVED, 1, "api"), TOPICS)
    assert isinstance(first, ParsedEvent)
    assert isinstance(second, ParsedEvent)
    assert second.from_api
    assert not first.from_api
    state = plan(first, None, None, CONFIG).state
    step = plan(second, None, state, CONFIG)
    assert step.state is not None
    assert step.state.status == "approved"
    assert step.state.anomalies == 1
    assert [o.kind for o in step.outputs] == [
        OutputKind.EVENT,
        OutputKind.STATUS,
        OutputKind.ANOMALY,
    ]
