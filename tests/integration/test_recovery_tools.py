"""(e) ``dlq redrive`` and ``replay`` on the real broker, through the command line.

Redrive: a crafted DLQ (a body that is no JSON, one that is no event, and an event the worker
dead-lettered with ``processing_error``); ``--dry-run`` writes nothing, ``--error`` selects,
each redriven record keeps its original headers plus ``fedapay-redriven-from``. Replay: raw
records before, inside and after a time range, on two endpoints; the outputs under the new
prefix are exactly the pure pipeline's for the selected records.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from common.kafka import KafkaSettings
from ingress.records import Delivery, record_for
from reconcile.replay import ReplayOptions, run_replay
from schemas import headers
from schemas.topics import Topics
from simulator.lifecycle import generate
from streams.clock import iso_ms
from streams.pipeline import RawRecord, dead_letter
from tests.integration.streams_harness import (
    expected_outputs,
    identity,
    output_topics,
    provision_topics,
    read_all,
)

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SIGNED_AT = 1_708_343_290


def cli(bootstrap: str, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDAPAY_BRIDGE_")}
    env |= {
        "FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FEDAPAY_BRIDGE_TOPIC_PREFIX": prefix,
        "FEDAPAY_BRIDGE_LOG_FORMAT": "text",
    }
    return subprocess.run(
        [sys.executable, "-m", "common.cli", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def send(
    bootstrap: str,
    records: Sequence[tuple[str, bytes | None, bytes, list[tuple[str, bytes]], int | None]],
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value, found, timestamp_ms in records:
            await producer.send_and_wait(
                topic, value, key=key, headers=found, timestamp_ms=timestamp_ms
            )
    finally:
        await producer.stop()


async def test_dlq_redrive(kafka_bootstrap: str, topic_prefix: str) -> None:
    topics = Topics(topic_prefix)
    await provision_topics(kafka_bootstrap, topic_prefix)
    event = generate(1, seed=3).events[0]
    received_ms = int(time.time() * 1000)
    crafted = []
    for body in (b"not json", b'{"name": "transaction.approved"}'):
        record = record_for(Delivery("sandbox", body, SIGNED_AT, received_ms), topics)
        crafted.append((record.topic, record.key, record.value, record.headers, None))
    raw = record_for(Delivery("live", event.body, SIGNED_AT, received_ms), topics)
    failed = dead_letter(
        RawRecord(raw.key, raw.value, tuple(raw.headers), 0, 7, received_ms),
        topics,
        "processing_error",
        "the worker failed on this record",
    )
    crafted.append((failed.topic, failed.key, failed.value, list(failed.headers), None))
    await send(kafka_bootstrap, crafted)

    dry = cli(
        kafka_bootstrap, topic_prefix, "dlq", "redrive", "--error", "processing_error", "--dry-run"
    )
    assert dry.returncode == 0, dry.stderr
    assert orjson.loads(dry.stdout) == {
        "read": 3,
        "redriven": 0,
        "dry_run": True,
        "errors": {"processing_error": 1},
    }
    assert await read_all(kafka_bootstrap, topics.raw) == []

    one = cli(kafka_bootstrap, topic_prefix, "dlq", "redrive", "--error", "processing_error")
    assert one.returncode == 0, one.stderr
    assert orjson.loads(one.stdout)["redriven"] == 1
    (back,) = await read_all(kafka_bootstrap, topics.raw)
    dlq = await read_all(kafka_bootstrap, topics.dlq)
    origin = next(r for r in dlq if r.value == event.body)
    assert (back.key, back.value) == (event.key.encode(), event.body)
    assert headers.decode(list(back.headers)) == {
        "fedapay-event": event.name,
        "fedapay-source": "webhook",
        "fedapay-endpoint": "live",
        "fedapay-signature-t": str(SIGNED_AT),
        "fedapay-received-at-ms": str(received_ms),
        "fedapay-redriven-from": f"{topics.dlq}:{origin.partition}:{origin.offset}",
        "fedapay-dedup-key": event.dedup_key,
    }

    every = cli(kafka_bootstrap, topic_prefix, "dlq", "redrive")
    assert orjson.loads(every.stdout) == {
        "read": 3,
        "redriven": 3,
        "dry_run": False,
        "errors": {"invalid_json": 1, "not_a_fedapay_event": 1, "processing_error": 1},
    }
    raw_after = await read_all(kafka_bootstrap, topics.raw)
    assert len(raw_after) == 4
    for record in raw_after:
        found = headers.decode(list(record.headers))
        assert headers.ERROR not in found
        assert found[headers.REDRIVEN_FROM].startswith(f"{topics.dlq}:")
        assert found[headers.SIGNATURE_TIMESTAMP] == str(SIGNED_AT)


async def test_replay_a_time_range_into_another_prefix(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topics = Topics(topic_prefix)
    await provision_topics(kafka_bootstrap, topic_prefix)
    now_ms = int(time.time() * 1000)
    hour = 3_600_000
    events = generate(12, customers=3, seed=8).events
    # A third before the range, a third inside (two endpoints), a third after.
    third = len(events) // 3
    stamped = []
    for index, event in enumerate(events):
        at_ms = now_ms - (3 - index // third) * hour + index if index < 3 * third else now_ms
        endpoint = "live" if index % 5 == 0 else "sandbox"
        record = record_for(Delivery(endpoint, event.body, SIGNED_AT, at_ms), topics)
        stamped.append((record.topic, record.key, record.value, record.headers, at_ms))
    await send(kafka_bootstrap, stamped)
    start, end = now_ms - 2 * hour, now_ms - hour - 1
    target = f"{topic_prefix}r"

    done = cli(
        kafka_bootstrap,
        topic_prefix,
        "replay",
        "--from",
        iso_ms(start),
        "--to",
        iso_ms(end),
        "--endpoint",
        "sandbox",
        "--to-prefix",
        target,
    )
    assert done.returncode == 0, done.stderr
    raw = await read_all(kafka_bootstrap, topics.raw)
    chosen = [
        r
        for r in raw
        if start <= r.timestamp <= end
        and headers.decode(list(r.headers))[headers.ENDPOINT] == "sandbox"
    ]
    assert 0 < len(chosen) < third
    summary = orjson.loads(done.stdout)
    assert (summary["read"], summary["selected"]) == (
        sum(1 for r in raw if start <= r.timestamp <= end),
        len(chosen),
    )
    assert f"100% {summary['read']}/{summary['read']} raw records" in done.stderr
    expected = expected_outputs(chosen, Topics(target))
    written = []
    for topic in output_topics(Topics(target)):
        written.extend(await read_all(kafka_bootstrap, topic))
    assert Counter(identity(r) for r in written) == expected
    assert summary["written"] == sum(expected.values())
    # The live prefix got nothing new.
    for topic in output_topics(topics):
        assert await read_all(kafka_bootstrap, topic) == []

    key = next(r.key for r in chosen if r.key and r.key.startswith(b"transaction:"))
    assert key is not None
    narrow = ReplayOptions(
        from_ms=start,
        to_ms=end,
        to_prefix=f"{topic_prefix}x",
        transaction=key.decode().split(":", 1)[1],
    )
    only = await run_replay(KafkaSettings(bootstrap_servers=kafka_bootstrap), topics, narrow)
    assert only.selected == sum(1 for r in raw if start <= r.timestamp <= end and r.key == key)
    assert only.written > 0
    narrowed = []
    for topic in output_topics(Topics(f"{topic_prefix}x")):
        narrowed.extend(await read_all(kafka_bootstrap, topic))
    assert len(narrowed) == only.written
    assert {r.key for r in narrowed} <= {
        key,
        b"sandbox:" + key.split(b":", 1)[1],
        b"live:" + key.split(b":", 1)[1],
    }
