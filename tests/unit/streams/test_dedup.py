"""Dedup keys, the sliding window, and expiry that survives a restart (faust issue #385)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pytest

from schemas import headers
from schemas.envelope import parse
from schemas.topics import Topics
from streams import codec
from streams.dedup import SeenEntry, decide, expired_keys, is_expired, sweep_due
from streams.pipeline import Output, PipelineConfig, RawRecord
from streams.staging import MemoryTable
from tests.fixtures import fixture_bytes
from tests.support.processing import SingleAttemptProcessor

HOUR_MS = 3600 * 1000
WINDOW_MS = 72 * HOUR_MS
T0 = 1_708_343_290_408


class CollectingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[Output, int]] = []

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        self.sent.extend((output, partition) for output in outputs)


# ------------------------------------------------------------------ dedup keys


def test_dedup_key_without_top_level_id_is_the_content_key() -> None:
    envelope = parse(fixture_bytes("transaction.approved.json"))

    assert envelope.event_id is None
    assert envelope.dedup_key == (
        "transaction.approved:transaction:235879:2024-02-19T11:48:10.408Z"
    )


def test_dedup_key_with_top_level_id_is_the_id() -> None:
    document = orjson.loads(fixture_bytes("transaction.approved.json"))
    document["id"] = 987654
    envelope = parse(orjson.dumps(document))

    assert envelope.dedup_key == "987654"


@pytest.mark.parametrize(
    ("changes", "same"),
    [
        ({"name": "transaction.updated"}, False),  # the twin of a named event
        ({"entity.updated_at": "2024-02-19T11:49:00.000Z"}, False),  # a later update
        ({"entity.amount": 1}, True),  # content the key does not cover
        ({"account": None}, True),
    ],
    ids=["other-name", "later-updated-at", "other-amount", "no-account"],
)
def test_content_key_covers_name_object_id_and_updated_at(
    changes: dict[str, object], same: bool
) -> None:
    original = orjson.loads(fixture_bytes("transaction.approved.json"))
    document = orjson.loads(fixture_bytes("transaction.approved.json"))
    for path, value in changes.items():
        target = document
        *parents, leaf = path.split(".")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    key = parse(orjson.dumps(document)).dedup_key

    assert (key == parse(orjson.dumps(original)).dedup_key) is same


# ------------------------------------------------------------------ the window


@pytest.mark.parametrize(
    ("deliveries_ms", "duplicates"),
    [
        ((0,), [False]),
        ((0, 1000), [False, True]),
        ((0, WINDOW_MS - 1), [False, True]),
        ((0, WINDOW_MS), [False, False]),  # exactly one window later: expired
        # sliding: each duplicate refreshes the window
        ((0, 50 * HOUR_MS, 100 * HOUR_MS, 150 * HOUR_MS), [False, True, True, True]),
        ((0, 50 * HOUR_MS, 123 * HOUR_MS), [False, True, False]),
        # straddling a boundary of any fixed 72 h grid: still a duplicate
        ((WINDOW_MS - 1, WINDOW_MS + 1), [False, True]),
        ((3 * WINDOW_MS - 5, 3 * WINDOW_MS + 5), [False, True]),
        # a receive time earlier than the stored one (two ingress clocks)
        ((10_000, 9_000), [False, True]),
    ],
    ids=[
        "first",
        "second-later",
        "just-inside",
        "exactly-window",
        "sliding-chain",
        "chain-then-gap",
        "across-boundary",
        "across-later-boundary",
        "earlier-clock",
    ],
)
def test_window(deliveries_ms: tuple[int, ...], duplicates: list[bool]) -> None:
    entry: SeenEntry | None = None
    seen = []
    for offset in deliveries_ms:
        decision = decide(entry, T0 + offset, WINDOW_MS, partition=0)
        seen.append(decision.duplicate)
        entry = decision.entry

    assert seen == duplicates


def test_duplicate_refreshes_but_never_moves_back() -> None:
    first = decide(None, T0, WINDOW_MS, 2).entry
    later = decide(first, T0 + 5000, WINDOW_MS, 2).entry
    earlier = decide(later, T0 + 1000, WINDOW_MS, 2).entry

    assert (first.last_seen_ms, later.last_seen_ms, earlier.last_seen_ms) == (
        T0,
        T0 + 5000,
        T0 + 5000,
    )
    assert (earlier.first_seen_ms, earlier.deliveries, earlier.partition) == (T0, 3, 2)


def test_expired_entry_starts_a_new_window() -> None:
    old = SeenEntry(last_seen_ms=T0, first_seen_ms=T0 - 5, partition=1, deliveries=4)
    decision = decide(old, T0 + WINDOW_MS, WINDOW_MS, partition=1)

    assert not decision.duplicate
    assert decision.entry == SeenEntry(T0 + WINDOW_MS, T0 + WINDOW_MS, 1, 1)


@pytest.mark.parametrize(
    ("last_sweep", "now", "due"),
    [(None, T0, True), (T0, T0 + 599_999, False), (T0, T0 + 600_000, True)],
    ids=["never", "too-soon", "interval"],
)
def test_sweep_due(last_sweep: int | None, now: int, due: bool) -> None:
    assert sweep_due(last_sweep, now, 600_000) is due


def test_expired_keys_only_of_the_partition() -> None:
    entries = [
        (b"old-p0", SeenEntry(T0, T0, 0)),
        (b"old-p1", SeenEntry(T0, T0, 1)),
        (b"new-p0", SeenEntry(T0 + WINDOW_MS - 1, T0, 0)),
    ]

    assert expired_keys(entries, 0, T0 + WINDOW_MS, WINDOW_MS) == [b"old-p0"]
    assert is_expired(entries[2][1], T0 + 2 * WINDOW_MS, WINDOW_MS)


# --------------------------------------------------- expiry through the processor


def raw_record(body: bytes, received_at_ms: int, partition: int = 0, offset: int = 0) -> RawRecord:
    envelope = parse(body)
    pairs: dict[str, str | int] = {
        headers.EVENT_NAME: envelope.name,
        headers.ENDPOINT: "sandbox",
        headers.RECEIVED_AT_MS: received_at_ms,
        headers.DEDUP_KEY: envelope.dedup_key,
    }
    return RawRecord(
        key=envelope.key.encode(),
        value=body,
        headers=tuple(headers.encode(pairs)),
        partition=partition,
        offset=offset,
        timestamp_ms=received_at_ms,
    )


def customer_body(customer_id: int, updated_at: str = "2024-02-19T11:47:46.042Z") -> bytes:
    return orjson.dumps(
        {
            "name": "customer.updated",
            "object": "customer",
            "entity": {"id": customer_id, "updated_at": updated_at},
        }
    )


def processor(
    seen: dict[bytes, bytes], sender: CollectingSender, window_ms: int = WINDOW_MS
) -> SingleAttemptProcessor:
    config = PipelineConfig(topics=Topics("t"), dedup_window_ms=window_ms)
    return SingleAttemptProcessor(
        config, MemoryTable(seen), MemoryTable(), sender, sweep_interval_ms=60_000
    )


@pytest.mark.asyncio
async def test_restored_entries_expire_like_fresh_ones() -> None:
    """Entries present before the process started (RocksDB, changelog) expire by their time."""
    restored = {
        parse(customer_body(1)).dedup_key.encode(): codec.encode_seen(SeenEntry(T0, T0, 0)),
        parse(customer_body(2)).dedup_key.encode(): codec.encode_seen(SeenEntry(T0, T0, 1)),
    }
    seen = dict(restored)
    sender = CollectingSender()
    worker = processor(seen, sender)

    await worker.handle(raw_record(customer_body(3), T0 + WINDOW_MS, partition=0))

    assert parse(customer_body(1)).dedup_key.encode() not in seen  # expired, partition 0
    assert parse(customer_body(2)).dedup_key.encode() in seen  # partition 1: not this sweep's
    assert worker.stats.expired_keys == 1


@pytest.mark.asyncio
async def test_expired_key_is_delivered_again_and_a_fresh_one_is_not() -> None:
    seen: dict[bytes, bytes] = {}
    sender = CollectingSender()
    worker = processor(seen, sender, window_ms=10_000)
    body = customer_body(7)

    for received_at in (T0, T0 + 9_999, T0 + 19_999, T0 + 20_000):
        await worker.handle(raw_record(body, received_at))

    assert [output.kind.value for output, _ in sender.sent] == ["event", "event"]
    assert worker.stats.duplicates == 2
