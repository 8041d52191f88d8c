"""What records add to the metric windows, merging, filters, percentiles (pure), and the
processor writing the windows into a table (event time, boundaries, retention)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import orjson
import pytest

from schemas import headers
from schemas.envelope import parse
from schemas.topics import Topics
from streams import aggregates
from streams.aggregates import select
from streams.codec import CorruptValue
from streams.counters import LATENCY_BOUNDS_MS, latency_bucket, percentile, summarize
from streams.pipeline import Output, PipelineConfig, RawRecord
from streams.staging import MemoryTable
from streams.window_store import WindowKey, WindowStore
from streams.windows import Resolution
from tests.fixtures import fixture_bytes
from tests.support.processing import SingleAttemptProcessor

MINUTE = Resolution("1m", 60_000, 24 * 3_600_000)
HOUR = Resolution("1h", 3_600_000, 30 * 86_400_000)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class NullSender:
    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        return None


def transaction(status: str, updated_at: str, tx_id: int = 235879, mode: str = "moov") -> bytes:
    body = orjson.loads(fixture_bytes("transaction.approved.json"))
    body["name"] = f"transaction.{status}"
    body.pop("id", None)
    body["entity"].update(id=tx_id, status=status, updated_at=updated_at, mode=mode)
    return orjson.dumps(body)


def raw(body: bytes, received_at_ms: int, partition: int = 0, offset: int = 0) -> RawRecord:
    envelope = parse(body)
    pairs: dict[str, str | int] = {
        headers.EVENT_NAME: envelope.name,
        headers.RECEIVED_AT_MS: received_at_ms,
        headers.DEDUP_KEY: envelope.dedup_key,
    }
    return RawRecord(
        envelope.key.encode(), body, tuple(headers.encode(pairs)), partition, offset, received_at_ms
    )


def build(latency_ms: int = 7) -> tuple[SingleAttemptProcessor, MemoryTable]:
    """A processor writing windows into a table; its outputs are acked ``latency_ms`` after
    the newest receive time."""
    table = MemoryTable()
    config = PipelineConfig(topics=Topics("t"), dedup_window_ms=72 * 3_600_000)
    processor = SingleAttemptProcessor(
        config,
        MemoryTable(),
        MemoryTable(),
        NullSender(),
        sweep_interval_ms=60_000,
        window_store=WindowStore(table, (MINUTE, HOUR)),
    )
    processor.clock_ms = lambda: max(processor._stream_time.values()) + latency_ms
    return processor, table


def windows(table: MemoryTable) -> dict[tuple[str, int], dict[str, int]]:
    found = {}
    for key, value in table.items():
        window = WindowKey.decode(key)
        assert window is not None
        found[(window.resolution, window.start_ms)] = aggregates.decode(value)
    return found


# ------------------------------------------------------------------ the processor


@pytest.mark.asyncio
async def test_minute_boundary_in_event_time() -> None:
    processor, table = build()
    first, second = ms("2026-11-28T12:00:59.999"), ms("2026-11-28T12:01:00.000")
    await processor.handle(raw(transaction("pending", "2024-02-19T11:00:00.000Z"), first))
    await processor.handle(
        raw(transaction("approved", "2024-02-19T11:00:05.000Z"), second, offset=1)
    )

    found = windows(table)
    twelve, twelve_one = ms("2026-11-28T12:00:00"), ms("2026-11-28T12:01:00")
    assert set(found) == {("1m", twelve), ("1m", twelve_one), ("1h", twelve)}
    assert found[("1m", twelve)]["event|transaction.pending"] == 1
    assert "event|transaction.approved" not in found[("1m", twelve)]
    assert found[("1m", twelve_one)]["tx|XOF|moov|approved"] == 1
    assert found[("1m", twelve_one)]["amount|XOF|moov|approved"] == 22000
    assert found[("1h", twelve)]["deliveries"] == 2


@pytest.mark.asyncio
async def test_hour_boundary() -> None:
    processor, table = build()
    await processor.handle(
        raw(transaction("pending", "2024-02-19T11:00:00.000Z"), ms("2026-11-28T12:59:59.999"))
    )
    await processor.handle(
        raw(
            transaction("approved", "2024-02-19T11:00:05.000Z"),
            ms("2026-11-28T13:00:00.000"),
            offset=1,
        )
    )

    hours = {start for (res, start) in windows(table) if res == "1h"}
    assert hours == {ms("2026-11-28T12:00:00"), ms("2026-11-28T13:00:00")}


@pytest.mark.asyncio
async def test_duplicates_stale_and_anomalies_are_counted() -> None:
    processor, table = build()
    at = ms("2026-11-28T12:00:10")
    approved = transaction("approved", "2024-02-19T11:00:05.000Z")
    await processor.handle(raw(approved, at))
    await processor.handle(raw(approved, at + 1, offset=1))  # duplicate
    await processor.handle(
        raw(transaction("pending", "2024-02-19T11:00:00.000Z"), at + 2, offset=2)
    )
    await processor.handle(
        raw(transaction("pending", "2024-02-19T11:00:09.000Z"), at + 3, offset=3)
    )

    minute = windows(table)[("1m", ms("2026-11-28T12:00:00"))]
    reading = summarize(minute)
    assert reading["deliveries"] == 4
    assert reading["duplicates"] == {"transaction.approved": 1}
    assert reading["stale"] == 1
    assert reading["anomalies"] == {"illegal_transition": 1}
    assert reading["events_total"] == 3
    assert reading["latency_ms"] == {"count": 3, "p50": 10, "p90": 10, "p99": 10}


@pytest.mark.asyncio
async def test_dead_letters_are_counted() -> None:
    processor, table = build()
    at = ms("2026-11-28T12:00:10")
    await processor.handle(RawRecord(b"?", b"{}", (), 0, 0, at))

    assert windows(table)[("1m", ms("2026-11-28T12:00:00"))] == {"dead_letter": 1}


@pytest.mark.asyncio
async def test_sweep_removes_expired_windows_of_its_partition_only() -> None:
    processor, table = build()
    old = ms("2026-11-28T12:00:10")
    await processor.handle(raw(transaction("pending", "2024-02-19T11:00:00.000Z"), old))
    await processor.handle(
        raw(transaction("pending", "2024-02-19T11:00:00.000Z", tx_id=7), old, partition=1)
    )
    later = old + 25 * 3_600_000  # the minute window is past 24 h, the hour window is not
    await processor.handle(
        raw(transaction("approved", "2024-02-19T11:00:05.000Z"), later, offset=1)
    )

    kept = {(w.partition, w.resolution, w.start_ms) for w in map(WindowKey.decode, table.data) if w}
    assert (0, "1m", ms("2026-11-28T12:00:00")) not in kept
    assert (0, "1h", ms("2026-11-28T12:00:00")) in kept
    assert (1, "1m", ms("2026-11-28T12:00:00")) in kept  # another partition's sweep deletes it
    assert processor.stats.expired_windows == 1


@pytest.mark.asyncio
async def test_a_record_older_than_retention_skips_expired_windows() -> None:
    processor, table = build()
    now = ms("2026-11-28T12:00:10")
    await processor.handle(raw(transaction("pending", "2024-02-19T11:00:00.000Z"), now))
    await processor.handle(
        raw(transaction("approved", "2024-02-19T11:00:05.000Z"), now - 2 * 86_400_000, offset=1)
    )

    resolutions = sorted(res for res, start in windows(table) if start < now - 86_400_000)
    assert resolutions == ["1h"]


# ------------------------------------------------------------------ pure reading


@pytest.mark.parametrize(
    ("latency", "bucket"),
    [(-5, 0), (0, 0), (1, 0), (2, 1), (3, 2), (1000, 9), (1001, 10), (300_000, 15), (300_001, 16)],
)
def test_latency_bucket(latency: int, bucket: int) -> None:
    assert latency_bucket(latency) == bucket


@pytest.mark.parametrize(
    ("histogram", "pct", "value"),
    [
        ({0: 1}, 50, 1),
        ({0: 50, 9: 50}, 50, 1),
        ({0: 50, 9: 50}, 51, 1000),
        ({0: 99, 16: 1}, 99, 1),
        ({0: 99, 16: 1}, 100, None),
        ({3: 10}, 99, 10),
    ],
)
def test_percentile_is_the_bucket_bound(
    histogram: dict[int, int], pct: float, value: int | None
) -> None:
    assert percentile(histogram, pct) == value


def test_percentile_of_nothing() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile({}, 50)


def test_percentile_error_bound() -> None:
    """The reading is never below the true value and at most the bucket's width above it."""
    for true in range(0, 300_001, 997):
        bucket = latency_bucket(true)
        read = LATENCY_BOUNDS_MS[bucket]
        lower = LATENCY_BOUNDS_MS[bucket - 1] if bucket else 0
        assert lower <= true <= read


def test_merge_is_order_free() -> None:
    a, b, c = {"x": 1, "y": 2}, {"y": 3}, {"z": 4, "x": 1}
    assert (
        aggregates.merge_all([a, b, c])
        == aggregates.merge_all([c, a, b])
        == {"x": 2, "y": 5, "z": 4}
    )


COUNTERS = {
    "deliveries": 5,
    "event|transaction.approved": 2,
    "duplicate|transaction.approved": 1,
    "tx|XOF|mtn|approved": 2,
    "tx|XOF|moov|declined": 1,
    "tx|EUR|moov|approved": 1,
    "amount|XOF|mtn|approved": 1000,
    "stale": 1,
}


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({}, set(COUNTERS)),
        (
            {"currency": "XOF"},
            {"tx|XOF|mtn|approved", "tx|XOF|moov|declined", "amount|XOF|mtn|approved"},
        ),
        ({"mode": "moov"}, {"tx|XOF|moov|declined", "tx|EUR|moov|approved"}),
        (
            {"currency": "XOF", "status": "approved"},
            {"tx|XOF|mtn|approved", "amount|XOF|mtn|approved"},
        ),
        (
            {"event": "transaction.approved"},
            {"event|transaction.approved", "duplicate|transaction.approved"},
        ),
        ({"event": "x", "currency": "XOF"}, set()),
    ],
)
def test_select(filters: dict[str, str], kept: set[str]) -> None:
    assert set(select(COUNTERS, filters)) == kept


def test_summary_reading() -> None:
    reading = summarize(COUNTERS)

    assert reading["entered_status"] == {"approved": 3, "declined": 1}
    assert reading["amount"] == {"XOF": {"approved": 1000}}
    assert reading["approval"] == {
        "moov": {"approved": 1, "decided": 2, "rate": 0.5},
        "mtn": {"approved": 2, "decided": 2, "rate": 1.0},
    }
    assert reading["latency_ms"] == {"count": 0, "p50": None, "p90": None, "p99": None}


@pytest.mark.parametrize("value", [b"nope", b"{}", b'{"v": 2, "c": {}}', b"[]"])
def test_decode_rejects(value: bytes) -> None:
    with pytest.raises(CorruptValue, match=r"^metric window: "):
        aggregates.decode(value)


def test_encode_round_trip() -> None:
    assert aggregates.decode(aggregates.encode(COUNTERS)) == COUNTERS


@pytest.mark.asyncio
async def test_store_reads_a_window_replaced_behind_its_back() -> None:
    """The decoded-window cache is used only while the table holds the bytes it wrote."""
    table = MemoryTable()
    store = WindowStore(table, (MINUTE,))
    at = ms("2026-11-28T12:00:10")
    store.add(0, "live", at, at, {"deliveries": 1})
    await store.flush()
    store.add(0, "live", at, at, {"deliveries": 1})
    await store.flush()
    (key,) = table.data
    table.data[key] = aggregates.encode({"deliveries": 10, "stale": 1})  # e.g. restored
    store.add(0, "live", at, at, {"deliveries": 1})
    await store.flush()

    assert aggregates.decode(table.data[key]) == {"deliveries": 11, "stale": 1}
    table.data[key] = b"garbage"
    store.add(0, "live", at, at, {"deliveries": 1})
    await store.flush()
    assert aggregates.decode(table.data[key]) == {"deliveries": 1}
    assert store.corrupt == 1
