"""``reconcile`` on the real broker, against the FedaPay API stand-in, with a real worker.

(a) some webhooks never delivered: after one pass every event is in the per-type topics
exactly once and every status is right; (b) every webhook delivered: a pass adds no output;
(c) a transaction stuck pending whose FedaPay status moved on: ``status_drift`` and the right
final status.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from reconcile import run
from schemas import headers
from schemas.topics import Topics
from simulator.lifecycle import generate
from streams.clock import iso_ms
from tests.fixtures import fixture_bytes
from tests.integration.fedapay_api import FedaPayStandIn, serving
from tests.integration.reconcile_harness import api_events, caught_up, feed_webhooks, settings
from tests.integration.streams_harness import (
    WorkerProcess,
    dedup_key,
    latest_by_key,
    produce_raw,
    provision_topics,
    read_all,
    worker_env,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio]

#: The scenario's events lie in February 2024: every pass here names its window.
SCENARIO = generate(60, customers=8, seed=15)
SINCE_MS = SCENARIO.events[0].updated_at_ms - 3_600_000
UNTIL_MS = SCENARIO.events[-1].updated_at_ms + 3_600_000
WINDOW = run.Options(since_ms=SINCE_MS, until_ms=UNTIL_MS, drift=False)


async def outputs(bootstrap: str, topics: Topics) -> dict[str, list[Any]]:
    per_type = []
    for topic in (*topics.per_type(), topics.unknown):
        per_type.extend(await read_all(bootstrap, topic))
    return {
        "per_type": per_type,
        "status": await read_all(bootstrap, topics.status),
        "anomalies": await read_all(bootstrap, topics.anomalies),
        "dlq": await read_all(bootstrap, topics.dlq),
    }


def final_statuses(status_records: list[Any]) -> dict[str, str]:
    return {
        key.decode(): orjson.loads(record.value)["status"]
        for key, record in latest_by_key(status_records).items()
        if key is not None and record.value is not None
    }


def started_worker(bootstrap: str, prefix: str, tmp_path: Path) -> WorkerProcess:
    worker = WorkerProcess(worker_env(bootstrap, prefix, tmp_path / "data"), tmp_path)
    worker.start()
    return worker


@pytest.mark.timeout(400)
async def test_missing_webhooks_are_filled_in_exactly_once(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    rng = random.Random(15)
    events = list(SCENARIO.events)
    lost = set(rng.sample(range(len(events)), len(events) // 4))
    delivered = [event for index, event in enumerate(events) if index not in lost]
    standin = FedaPayStandIn(events=api_events(events))
    await provision_topics(kafka_bootstrap, topic_prefix)
    worker = started_worker(kafka_bootstrap, topic_prefix, tmp_path)
    try:
        await worker.wait_ready()
        await feed_webhooks(kafka_bootstrap, topic_prefix, delivered)
        await caught_up(kafka_bootstrap, topic_prefix)
        before = await outputs(kafka_bootstrap, topics)
        async with serving(standin) as base:
            summary = await run.reconcile(settings(kafka_bootstrap, topic_prefix, base), WINDOW)
        await caught_up(kafka_bootstrap, topic_prefix)
        after = await outputs(kafka_bootstrap, topics)
    finally:
        worker.stop()

    truth = SCENARIO.truth
    assert len(before["per_type"]) == truth.distinct_events - len(lost)
    assert (summary.events_published, summary.events_outside_window) == (len(events), 0)
    assert summary.pages == -(-len(events) // 25)
    keys = Counter(dedup_key(record) for record in after["per_type"])
    assert set(keys) == truth.dedup_keys
    assert max(keys.values()) == 1, "an event was emitted twice"
    per_topic = Counter(record.topic for record in after["per_type"])
    assert per_topic == {f"{topic_prefix}.{name}": n for name, n in truth.events_per_name.items()}
    assert final_statuses(after["status"]) == {
        f"sandbox:{tx_id}": status for tx_id, status in truth.final_status.items()
    }
    kinds = Counter(orjson.loads(record.value)["kind"] for record in after["anomalies"])
    assert set(kinds) <= {"status_drift"}
    assert kinds["status_drift"] > 0
    assert after["dlq"] == []
    assert len(after["per_type"]) - len(before["per_type"]) == len(lost)


@pytest.mark.timeout(400)
async def test_every_webhook_delivered_adds_nothing(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    standin = FedaPayStandIn(events=api_events(SCENARIO.events))
    await provision_topics(kafka_bootstrap, topic_prefix)
    worker = started_worker(kafka_bootstrap, topic_prefix, tmp_path)
    try:
        await worker.wait_ready()
        await feed_webhooks(kafka_bootstrap, topic_prefix, SCENARIO.events)
        await caught_up(kafka_bootstrap, topic_prefix)
        before = await outputs(kafka_bootstrap, topics)
        async with serving(standin) as base:
            summary = await run.reconcile(settings(kafka_bootstrap, topic_prefix, base), WINDOW)
        await caught_up(kafka_bootstrap, topic_prefix)
        after = await outputs(kafka_bootstrap, topics)
        raw = await read_all(kafka_bootstrap, topics.raw)
    finally:
        worker.stop()

    assert summary.events_published == len(SCENARIO.events)
    sources = Counter(headers.decode(list(r.headers))[headers.SOURCE] for r in raw)
    assert sources == {"webhook": len(SCENARIO.events), "api": len(SCENARIO.events)}
    assert {name: len(records) for name, records in after.items()} == {
        name: len(records) for name, records in before.items()
    }
    assert len(after["per_type"]) == SCENARIO.truth.distinct_events


def transaction_body(name: str, tx_id: int, status: str, updated_ms: int) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(fixture_bytes("transaction.approved.json"))
    document["name"] = name
    entity = document["entity"]
    entity.update(id=tx_id, status=status, updated_at=iso_ms(updated_ms))
    return document


@pytest.mark.timeout(400)
async def test_stuck_pending_transaction_drifts_to_fedapays_status(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    now_ms = int(time.time() * 1000)
    hour = 3_600_000
    # 501: pending for 2 h, approved at FedaPay 1 h ago (both webhooks of the approval lost);
    # 502: pending for 2 h, still pending at FedaPay; 503: pending since a minute (not due).
    created = [
        transaction_body("transaction.created", 501, "pending", now_ms - 2 * hour),
        transaction_body("transaction.created", 502, "pending", now_ms - 2 * hour),
        transaction_body("transaction.created", 503, "pending", now_ms - 60_000),
    ]
    approved = transaction_body("transaction.approved", 501, "approved", now_ms - hour)["entity"]
    standin = FedaPayStandIn(
        transactions={
            "501": approved,
            "502": created[1]["entity"],
            "503": {**created[2]["entity"], "status": "approved", "updated_at": iso_ms(now_ms)},
        }
    )
    await provision_topics(kafka_bootstrap, topic_prefix)
    worker = started_worker(kafka_bootstrap, topic_prefix, tmp_path)
    try:
        await worker.wait_ready()
        bodies = [(orjson.dumps(body), now_ms + i, None) for i, body in enumerate(created)]
        await produce_raw(kafka_bootstrap, topics, bodies)
        await caught_up(kafka_bootstrap, topic_prefix)
        async with serving(standin) as base:
            summary = await run.reconcile(
                settings(kafka_bootstrap, topic_prefix, base), run.Options()
            )
        await caught_up(kafka_bootstrap, topic_prefix)
        after = await outputs(kafka_bootstrap, topics)
    finally:
        worker.stop()

    assert (summary.drift_checked, summary.drift_published, summary.events_published) == (2, 1, 0)
    assert final_statuses(after["status"]) == {
        "sandbox:501": "approved",
        "sandbox:502": "pending",
        "sandbox:503": "pending",
    }
    (anomaly,) = [orjson.loads(record.value) for record in after["anomalies"]]
    assert (anomaly["kind"], anomaly["transaction_id"], anomaly["from_status"]) == (
        "status_drift",
        "501",
        "pending",
    )
    assert (anomaly["to_status"], anomaly["applied"]) == ("approved", True)
    (update,) = [r for r in after["per_type"] if r.topic == f"{topic_prefix}.transaction.updated"]
    assert dedup_key(update) == f"transaction.updated:transaction:501:{approved['updated_at']}"
    requested = {path for path, _, _ in standin.log}
    assert requested == {"/v1/events", "/v1/transactions/501", "/v1/transactions/502"}
