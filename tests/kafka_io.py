"""Async Kafka helpers shared by the tests that use the real broker (aiokafka)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import ConsumerRecord

_POLL_INTERVAL_S = 0.1

Consumed: TypeAlias = ConsumerRecord[bytes, bytes]


class TopicSetupError(RuntimeError):
    """The broker refused to create a topic, or did not make it ready in time."""


async def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 3, *, ready_within: float = 30.0
) -> None:
    """Creates the topics (replication factor 1) and waits until every partition has a leader."""
    wanted = list(names)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in wanted],
            timeout_ms=int(ready_within * 1000),
        )
        refused = [(error[0], error[1]) for error in response.topic_errors if error[1] != 0]
        if refused:
            raise TopicSetupError(f"the broker refused to create topics (name, code): {refused}")
        await _wait_for_leaders(admin, wanted, time.monotonic() + ready_within)
    finally:
        await admin.close()


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str], deadline: float) -> None:
    while True:
        topics: list[dict[str, Any]] = await admin.describe_topics(names)
        if all(_has_leaders(topic) for topic in topics) and len(topics) == len(names):
            return
        if time.monotonic() > deadline:
            raise TopicSetupError(f"topics without partition leaders: {topics}")
        await asyncio.sleep(_POLL_INTERVAL_S)


def _has_leaders(topic: dict[str, Any]) -> bool:
    partitions: list[dict[str, Any]] = topic["partitions"]
    return (
        topic["error_code"] == 0
        and bool(partitions)
        and all(partition["leader"] >= 0 for partition in partitions)
    )


# A plain `timeout` in seconds is this shared helper's contract (ruff ASYNC109 prefers a scope).
async def consume_all(
    bootstrap: str,
    topic: str,
    *,
    expect: int,
    timeout: float,  # noqa: ASYNC109
) -> list[Consumed]:
    """Reads `topic` from its earliest offsets (no consumer group) until `expect` records came
    or `timeout` seconds passed; returns what it read, in the order it arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        return await _read(consumer, expect, time.monotonic() + timeout)
    finally:
        await consumer.stop()


async def _read(consumer: AIOKafkaConsumer, expect: int, deadline: float) -> list[Consumed]:
    records: list[Consumed] = []
    while len(records) < expect:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            break
        batches: dict[Any, list[Consumed]] = await consumer.getmany(
            timeout_ms=min(remaining_ms, 500)
        )
        for batch in batches.values():
            records.extend(batch)
    return records
