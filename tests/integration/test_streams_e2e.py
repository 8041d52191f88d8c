"""End to end on the real broker: signed deliveries through the HTTP ingress, a real worker.

200 transactions (and 20 customers) with 30% duplicate deliveries in shuffled
order and 10% of transactions ending in an injected illegal transition.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from jsonschema import Draft202012Validator

from schemas import headers
from schemas.jsonschema import load
from schemas.topics import Topics
from simulator import delivery
from simulator.lifecycle import generate
from tests.integration.streams_harness import (
    OutputReader,
    WorkerProcess,
    account,
    dedup_key,
    expected_outputs,
    feeder,
    identity,
    latest_by_key,
    output_topics,
    provision_topics,
    read_all,
    worker_env,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


async def send_malformed_raw(bootstrap: str, topics: Topics) -> None:
    """A raw record the worker cannot parse (the ingress would have dead-lettered it)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        pairs: dict[str, str | int] = {
            headers.ENDPOINT: "sandbox",
            headers.RECEIVED_AT_MS: int(time.time() * 1000),
        }
        await producer.send_and_wait(
            topics.raw, b'{"name": "transaction.approved"}', key=b"?", headers=headers.encode(pairs)
        )
    finally:
        await producer.stop()


def schema_name(topics: Topics, topic: str) -> str:
    if topic == topics.status:
        return "status-record"
    if topic == topics.anomalies:
        return "anomaly"
    return "normalized-event"


@pytest.mark.asyncio
@pytest.mark.timeout(600)
async def test_shuffled_duplicated_stream(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    scenario = generate(200, customers=20, seed=11, illegal=0.1)
    truth = scenario.truth
    plan = delivery.plan(scenario.events, duplicates=0.3, shuffle=True, seed=11)
    await provision_topics(kafka_bootstrap, topic_prefix)
    worker = WorkerProcess(worker_env(kafka_bootstrap, topic_prefix, tmp_path / "data"), tmp_path)
    worker.start()
    try:
        await feeder(kafka_bootstrap, topic_prefix)(plan)
        await send_malformed_raw(kafka_bootstrap, topics)
        await worker.wait_ready()
        expected = expected_outputs(await read_all(kafka_bootstrap, topics.raw), topics)
        async with OutputReader(
            kafka_bootstrap, output_topics(topics), committed_only=False
        ) as reader:
            await reader.until(
                lambda records: len({identity(r) for r in records}) >= len(expected), within=300
            )
        records = reader.records
    finally:
        worker.stop()

    per_type = [r for r in records if r.topic in (*topics.per_type(), topics.unknown)]
    keys = Counter(dedup_key(r) for r in per_type)
    assert len(plan) - plan.extra_copies == truth.distinct_events
    assert set(keys) == truth.dedup_keys
    assert max(keys.values()) == 1, "a distinct delivery was emitted twice"
    per_topic = Counter(r.topic for r in per_type)
    assert per_topic == {f"{topic_prefix}.{name}": n for name, n in truth.events_per_name.items()}

    final = {
        key.decode(): orjson.loads(record.value)
        for key, record in latest_by_key(reader.of(topics.status)).items()
        if key is not None and record.value is not None
    }
    # Keyed <endpoint>:<transaction id>; the deliveries came through the sandbox endpoint.
    assert {key: doc["status"] for key, doc in final.items()} == {
        f"sandbox:{tx_id}": status for tx_id, status in truth.final_status.items()
    }
    assert {doc["endpoint"] for doc in final.values()} == {"sandbox"}

    anomalies = [orjson.loads(r.value) for r in reader.of(topics.anomalies) if r.value]
    assert [a["kind"] for a in anomalies] == ["illegal_transition"] * truth.illegal_total
    assert Counter(a["transaction_id"] for a in anomalies) == truth.illegal_per_transaction

    (dead,) = reader.of(topics.dlq)
    assert headers.decode(list(dead.headers))[headers.ERROR] == "not_a_fedapay_event"

    validators = {
        name: Draft202012Validator(load(name))
        for name in ("normalized-event", "status-record", "anomaly")
    }
    for record in records:
        assert dedup_key(record), f"no dedup key header on {record.topic}"
        if record.topic != topics.dlq:
            validators[schema_name(topics, record.topic)].validate(
                orjson.loads(record.value or b"")
            )
    assert all("account" not in orjson.loads(r.value or b"") for r in per_type)

    result = account(expected, records)
    assert (result.lost, result.duplicated, result.unexpected) == (0, 0, 0), result
    assert result.emitted == result.expected
