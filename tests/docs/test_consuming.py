"""docs/consuming.md: every code block runs, in order, against the real broker.

The topics hold what the bridge's own pipeline (``streams.pipeline.replay``, the reference model
the worker is tested against) emits for a simulated stream with duplicate deliveries, plus one
repeated output, a status key from before endpoints were separated, and a tombstone.
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas import headers
from schemas.topics import Topics
from simulator.lifecycle import generate
from streams.pipeline import Output, OutputKind, PipelineConfig, RawRecord, replay
from tests.integration.streams_harness import provision_topics

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "consuming.md"
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
#: Every function the guide defines; the test calls each (directly or through another).
DEFINED = {
    "headers_of",
    "identity_of",
    "is_newer",
    "open_store",
    "apply_once",
    "consume_approved",
    "replay",
    "status_table",
    "load_status_table",
}


def blocks() -> list[tuple[int, str, str]]:
    """(line, language, code) of each fenced block."""
    text = GUIDE.read_text(encoding="utf-8")
    return [
        (text[: found.start()].count("\n") + 1, found.group(1), found.group(2))
        for found in BLOCK.finditer(text)
    ]


def run_guide(namespace: dict[str, Any]) -> None:
    for line, _, code in blocks():
        exec(compile(code, f"{GUIDE.name}:{line}", "exec"), namespace)  # noqa: S102


def test_every_block_is_python_and_defines_what_the_test_calls() -> None:
    namespace: dict[str, Any] = {}

    run_guide(namespace)

    assert {language for _, language, _ in blocks()} == {"python"}
    defined = {name for name, value in namespace.items() if callable(value) and _own(value)}
    assert defined == DEFINED


def _own(value: Any) -> bool:
    return getattr(getattr(value, "__code__", None), "co_filename", "").startswith(GUIDE.name)


def bridge_outputs(topics: Topics) -> list[Output]:
    scenario = generate(12, customers=3, seed=16, illegal=0.2)
    rng = random.Random(16)
    events = list(scenario.events)
    deliveries = events + [event for event in events if rng.random() < 0.3]
    rng.shuffle(deliveries)
    records = [
        RawRecord(
            key=event.key.encode(),
            value=event.body,
            headers=tuple(
                headers.encode({headers.ENDPOINT: "live", headers.RECEIVED_AT_MS: 1_700_000 + i})
            ),
            partition=0,
            offset=i,
            timestamp_ms=1_700_000 + i,
        )
        for i, event in enumerate(deliveries)
    ]
    outputs, _, _ = replay(records, PipelineConfig(topics=topics, dedup_window_ms=10**9))
    return outputs


Sent = tuple[str, bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]


async def produce(bootstrap: str, records: list[Sent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value, record_headers in records:
            await producer.send_and_wait(topic, value, key=key, headers=list(record_headers))
    finally:
        await producer.stop()


@pytest.mark.kafka
@pytest.mark.slow
def test_the_guide_runs_against_the_broker(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = Topics(topic_prefix)
    outputs = bridge_outputs(topics)
    approved = [o for o in outputs if o.topic == topics.for_event("transaction.approved")]
    statuses = [o for o in outputs if o.kind is OutputKind.STATUS]
    assert approved
    assert statuses
    repeated = approved[0]  # the bridge emitting an output twice (at-least-once)
    latest: dict[bytes, bytes] = {}
    for status in statuses:
        assert status.key is not None
        latest[status.key] = status.value
    deleted = statuses[0].key  # a tombstone for one transaction
    sent: list[Sent] = [(o.topic, o.key, o.value, o.headers) for o in [*outputs, repeated]]
    sent += [
        (topics.status, b"235879", b'{"status": "approved"}', ()),
        (topics.status, deleted, None, ()),
    ]
    asyncio.run(provision_topics(kafka_bootstrap, topic_prefix))
    asyncio.run(produce(kafka_bootstrap, sent))

    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap)
    monkeypatch.setenv("FEDAPAY_TOPIC_PREFIX", topic_prefix)
    guide: dict[str, Any] = {}
    run_guide(guide)
    assert (guide["APPROVED"], guide["STATUS"]) == (
        topics.for_event("transaction.approved"),
        topics.status,
    )

    # At least once, made idempotent: one row per distinct event, the repeat dropped.
    db_path = tmp_path / "approved.sqlite3"
    db = guide["open_store"](db_path)
    asyncio.run(_consume_until(guide, db_path, len(approved), f"{topic_prefix}-guide"))
    rows = set(db.execute("SELECT endpoint, dedup_key FROM approved").fetchall())
    assert rows == {("live", headers.decode(o.headers)[headers.DEDUP_KEY]) for o in approved}

    # Replay from the beginning: every record, the repeat included; applying them changes nothing.
    replayed: list[Any] = []
    asyncio.run(guide["replay"](guide["APPROVED"], replayed.append))
    assert len(replayed) == len(approved) + 1
    assert not any(guide["apply_once"](db, record) for record in replayed)

    # The status topic as a table: the latest record per key, old keys skipped, tombstone applied.
    table = asyncio.run(guide["load_status_table"]())
    expected = {
        tuple(key.decode().split(":", 1)): orjson.loads(value)
        for key, value in latest.items()
        if key != deleted
    }
    assert table == expected

    # Ordering by FedaPay's clock.
    event = orjson.loads(approved[0].value)
    assert guide["is_newer"](event, None)
    assert not guide["is_newer"](event, event["updated_at"])
    assert guide["is_newer"](event, "2000-01-01T00:00:00.000Z")


async def _consume_until(guide: dict[str, Any], db_path: Path, count: int, group: str) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(guide["consume_approved"](guide["open_store"](db_path), group, stop))
    deadline = time.monotonic() + 60
    while _rows(db_path) < count:
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, f"{_rows(db_path)} of {count} rows"
        await asyncio.sleep(0.2)
    await asyncio.sleep(2)  # the repeat is read too
    stop.set()
    await asyncio.wait_for(task, 30)
    assert _rows(db_path) == count


def _rows(db_path: Path) -> int:
    with sqlite3.connect(db_path) as db:
        (count,) = db.execute("SELECT count(*) FROM approved").fetchone()
    return int(count)
