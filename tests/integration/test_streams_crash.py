"""SIGKILL a worker mid-stream, restart it, and count lost and duplicated outputs.

Both processing guarantees. The reference is the pure pipeline replayed over
the raw topic: every output it predicts must be on the broker (lost must be
0); copies beyond one are counted as duplicates and reported (with
exactly-once, read as a read_committed consumer would).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from schemas.topics import Topics
from simulator import delivery
from simulator.lifecycle import generate
from tests.integration.streams_harness import (
    PARTITIONS,
    OutputReader,
    WorkerProcess,
    account,
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

#: Deliveries per second: the ~1,000 deliveries take ~10 s, the kill comes a few seconds in.
FEED_RATE = 100.0


async def written_so_far(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> int:
    ends = await consumer.end_offsets(partitions)
    return sum(ends.values())


async def kill_mid_stream(
    worker: WorkerProcess, bootstrap: str, topics: list[str], at: int, within: float = 180.0
) -> int:
    """SIGKILL the worker once at least ``at`` output records were written; return the count."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        deadline = time.monotonic() + within
        while (written := await written_so_far(consumer, partitions)) < at:
            assert time.monotonic() < deadline, f"only {written} outputs:\n{worker.tail()}"
            await asyncio.sleep(0.02)
        worker.kill()
        return written
    finally:
        await consumer.stop()


@pytest.mark.asyncio
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("guarantee", "store"),
    [("at_least_once", "rocksdb"), ("at_least_once", "memory"), ("exactly_once", "rocksdb")],
    ids=["at_least_once-rocksdb", "at_least_once-memory", "exactly_once-rocksdb"],
)
async def test_sigkill_mid_stream_loses_nothing(
    guarantee: str,
    store: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    tmp_path: Path,
    record_property: Callable[[str, object], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    topics = Topics(topic_prefix)
    scenario = generate(200, customers=20, seed=23, illegal=0.1)
    plan = delivery.plan(scenario.events, duplicates=0.3, shuffle=True, seed=23)
    await provision_topics(kafka_bootstrap, topic_prefix)
    env = worker_env(
        kafka_bootstrap,
        topic_prefix,
        tmp_path / "data",
        PROCESSING_GUARANTEE=guarantee,
        STORE=store,
    )
    worker = WorkerProcess(env, tmp_path)
    exactly_once = guarantee == "exactly_once"
    worker.start()
    try:
        await worker.wait_ready()
        # Deliveries keep arriving while the worker runs, dies and is down: paced, since
        # the worker would otherwise have caught up with all of them before the kill.
        feeding = asyncio.create_task(feeder(kafka_bootstrap, topic_prefix, rate=FEED_RATE)(plan))
        at_kill = await kill_mid_stream(
            worker, kafka_bootstrap, output_topics(topics), at=len(plan) // 4
        )
        await feeding
        expected = expected_outputs(await read_all(kafka_bootstrap, topics.raw), topics)
        worker.start()
        await worker.wait_ready()
        async with OutputReader(
            kafka_bootstrap, output_topics(topics), committed_only=exactly_once
        ) as reader:
            await reader.until(
                lambda records: {identity(r) for r in records} >= set(expected),
                within=300,
                settle=4.0,
            )
    finally:
        worker.stop()

    result = account(expected, reader.records)
    figures = {
        "guarantee": guarantee,
        "store": store,
        "written_at_kill": at_kill,
        **result.as_dict(),
    }
    for name, value in figures.items():
        record_property(name, value)
    with capsys.disabled():
        print(f"\nSIGKILL figures: {figures}")  # noqa: T201 - the measurement this test reports
    assert at_kill < sum(expected.values()), "the worker had finished before the kill"
    assert result.lost == 0, figures
    assert result.unexpected == 0, figures
    final = {
        key.decode().removeprefix("sandbox:"): record.value
        for key, record in latest_by_key(reader.of(topics.status)).items()
        if key is not None
    }
    assert set(final) == set(scenario.truth.final_status)
