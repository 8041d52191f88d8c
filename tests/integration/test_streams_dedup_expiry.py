"""Dedup entries restored after a restart still expire and are really removed.

Faust's own windowed tables lose their expiry index when a worker restarts
or a partition moves (faust-streaming issue #385: windows restored from
RocksDB never expire). The bridge's dedup table carries each entry's time, so
an entry written by one worker process expires in the next one, and its
removal is a tombstone in the changelog and a delete in the local store.

Receive times are set in the raw records (the window is 60 s), so nothing
waits for a real minute.
"""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from rocksdict import AccessType, Options, Rdict

from schemas import keys
from schemas.envelope import parse
from schemas.topics import Topics
from streams import tables
from tests.integration.streams_harness import (
    Consumed,
    OutputReader,
    WorkerProcess,
    changelog,
    dedup_key,
    produce_raw,
    provision_topics,
    read_all,
    worker_env,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SECOND = 1000


def customer(customer_id: int) -> bytes:
    return orjson.dumps(
        {
            "name": "customer.updated",
            "object": "customer",
            "entity": {"id": customer_id, "updated_at": "2024-02-19T11:47:46.042Z"},
            "account": {"id": 8202},
        }
    )


def events_of(records: list[Consumed], body: bytes) -> list[Consumed]:
    key = parse(body).dedup_key
    return [r for r in records if dedup_key(r) == key]


def local_keys(data_dir: Path, partition: int) -> set[bytes]:
    """Keys in the RocksDB file of the dedup table's partition (worker stopped)."""
    (path,) = data_dir.rglob(f"{tables.DEDUP}-{partition}.db")
    db = Rdict(str(path), options=Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        stored = db.keys()
        return {key for key in stored if isinstance(key, bytes) and not key.startswith(b"__faust")}
    finally:
        db.close()


@pytest.mark.asyncio
@pytest.mark.timeout(300)
@pytest.mark.parametrize("store", ["rocksdb", "memory"])
async def test_entries_restored_after_restart_expire(
    store: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    old, new = customer(1), customer(2)
    t0 = int(time.time() * 1000)
    await provision_topics(kafka_bootstrap, topic_prefix)
    env = worker_env(
        kafka_bootstrap,
        topic_prefix,
        tmp_path / "data",
        STORE=store,
        DEDUP_WINDOW_SECONDS="60",
        DEDUP_SWEEP_INTERVAL_SECONDS="1",
    )
    worker = WorkerProcess(env, tmp_path)
    customers = [topics.for_event("customer.updated")]
    try:
        # First process: sees `old` once, then dies without any shutdown.
        await produce_raw(kafka_bootstrap, topics, [(old, t0, 0)])
        worker.start()
        await worker.wait_ready()
        async with OutputReader(kafka_bootstrap, customers, committed_only=False) as reader:
            await reader.until(lambda records: len(records) >= 1, within=120, settle=0.5)
        worker.kill()

        # Second process: its entry for `old` comes from RocksDB or the changelog.
        await produce_raw(
            kafka_bootstrap,
            topics,
            [
                (old, t0 + 30 * SECOND, 0),  # a duplicate: dropped, refreshes the entry
                (new, t0 + 100 * SECOND, 0),  # 70 s after that: `old` has expired
            ],
        )
        worker.start()
        await worker.wait_ready()
        async with OutputReader(kafka_bootstrap, customers, committed_only=False) as reader:
            await reader.until(lambda records: len(records) >= 2, within=120)
        assert worker.stop() == 0
    finally:
        worker.stop()

    assert len(events_of(reader.records, old)) == 1
    assert len(events_of(reader.records, new)) == 1
    # Dedup table keys are <endpoint>:<dedup key>; produce_raw writes sandbox records.
    old_key = keys.qualified("sandbox", parse(old).dedup_key).encode()
    history = [
        r.value
        for r in await read_all(kafka_bootstrap, changelog(topic_prefix, tables.DEDUP))
        if r.key == old_key
    ]
    assert history[-1] is None, "no tombstone for the expired key"
    assert len(history) >= 3  # written, refreshed by the duplicate, deleted
    if store == "rocksdb":
        stored = local_keys(tmp_path / "data", partition=0)
        assert old_key not in stored
        assert keys.qualified("sandbox", parse(new).dedup_key).encode() in stored
