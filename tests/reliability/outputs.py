"""Reading what the pipeline produced, and checking it against the scenario's truth.

Records are read ``read_committed`` (under exactly-once, aborted and open
transactions are invisible, as they are to any correct consumer).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

from schemas import headers
from schemas.topics import Topics
from simulator.lifecycle import Event, Truth

Consumed: TypeAlias = ConsumerRecord[bytes, bytes]


async def collect(
    bootstrap: str,
    topics: Sequence[str],
    *,
    done: Callable[[list[Consumed]], bool],
    within: float,
    settle: float = 4.0,
    committed: bool = True,
    abort: Callable[[], str | None] | None = None,
) -> list[Consumed]:
    """Read ``topics`` from the start until ``done(records)`` holds, then ``settle``
    seconds more (so late duplicates are seen too), or until ``within`` seconds
    passed; return what was read. ``committed=False`` also shows records of open
    transactions (progress, not results). ``abort`` is polled: a message it returns
    (say, a worker died) fails the wait at once instead of at ``within``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        partitions = await _partitions(bootstrap, topics)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        return await _read(consumer, done, within, settle, abort)
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topics: Sequence[str]) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    found: list[TopicPartition] = []
    for topic in described:
        if topic["error_code"] != 0:
            raise RuntimeError(f"cannot describe topic {topic['topic']}: {topic['error_code']}")
        found += [TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"]]
    return found


async def _read(
    consumer: AIOKafkaConsumer,
    done: Callable[[list[Consumed]], bool],
    within: float,
    settle: float,
    abort: Callable[[], str | None] | None,
) -> list[Consumed]:
    records: list[Consumed] = []
    deadline = time.monotonic() + within
    settled_at: float | None = None
    while time.monotonic() < (settled_at or deadline):
        batches: dict[Any, list[Consumed]] = await consumer.getmany(timeout_ms=300)
        for batch in batches.values():
            records.extend(batch)
        if settled_at is None and done(records):
            settled_at = min(deadline, time.monotonic() + settle)
        problem = abort() if abort is not None else None
        if problem is not None:
            raise AssertionError(problem)
    return records


# ------------------------------------------------------------------------ pure checks


def dedup_key(record: Consumed) -> str:
    return headers.decode(list(record.headers)).get(headers.DEDUP_KEY, "")


def expected_event_keys(events: Iterable[Event], topics: Topics) -> dict[str, set[str]]:
    """Per-type topic -> the dedup keys of the distinct events that belong there."""
    expected: defaultdict[str, set[str]] = defaultdict(set)
    for event in events:
        expected[topics.for_event(event.name)].add(event.dedup_key)
    return dict(expected)


@dataclass
class OutputTally:
    """One record per distinct event is the goal; what the topics hold instead."""

    distinct_expected: int = 0
    records: int = 0
    #: Records beyond the first of each dedup key (consumers drop them by the header).
    duplicates: int = 0
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return len(self.missing)

    def to_dict(self) -> dict[str, int]:
        return {
            "distinct_expected": self.distinct_expected,
            "records": self.records,
            "duplicates": self.duplicates,
            "lost": self.lost,
            "unexpected": len(self.unexpected),
        }


def tally_events(records: Iterable[Consumed], expected: dict[str, set[str]]) -> OutputTally:
    seen: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for record in records:
        seen[record.topic][dedup_key(record)] += 1
    tally = OutputTally(distinct_expected=sum(len(keys) for keys in expected.values()))
    for topic in set(expected) | set(seen):
        counts = seen.get(topic, Counter())
        wanted = expected.get(topic, set())
        tally.records += sum(counts.values())
        tally.duplicates += sum(n - 1 for n in counts.values())
        tally.missing += sorted(f"{topic}:{key}" for key in wanted - set(counts))
        tally.unexpected += sorted(f"{topic}:{key}" for key in set(counts) - wanted)
    return tally


def events_complete(expected: dict[str, set[str]]) -> Callable[[list[Consumed]], bool]:
    """A ``done`` predicate: every expected dedup key is on its topic."""
    total = sum(len(keys) for keys in expected.values())

    def done(records: list[Consumed]) -> bool:
        found = {(r.topic, dedup_key(r)) for r in records if r.topic in expected}
        return len(found) >= total

    return done


def final_statuses(records: Iterable[Consumed], status_topic: str) -> dict[str, str]:
    """Transaction id -> status of its last record on the status topic (per-key order)."""
    statuses: dict[str, str] = {}
    for record in records:
        if record.topic != status_topic or record.value is None:
            continue
        document = orjson.loads(record.value)
        statuses[str(document["transaction_id"])] = str(document["status"])
    return statuses


def status_mismatches(found: dict[str, str], truth: Truth) -> dict[str, tuple[str | None, str]]:
    """Transaction id -> (status found, status expected), for every disagreement."""
    return {
        tx_id: (found.get(tx_id), expected)
        for tx_id, expected in truth.final_status.items()
        if found.get(tx_id) != expected
    }
