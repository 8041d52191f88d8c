"""streams.counters: the declared counters drive the increments, the filters, the summary and
its schema."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from schemas import headers
from schemas.topics import Topics
from streams import counters
from streams.counters import (
    COUNTERS,
    FILTERS,
    READINGS,
    TX,
    CountedEvent,
    DeadLettered,
    filters_of,
    increments_of,
    parse,
    summarize,
    summary_schema,
)
from streams.pipeline import ParsedEvent, PipelineConfig, RawRecord, plan, read
from tests.fixtures import fixture_bytes

TOPICS = Topics("t")


def delivery(mode: object = "mtn", currency: object = "XOF") -> ParsedEvent:
    body = orjson.loads(fixture_bytes("transaction.approved.json"))
    body["entity"]["mode"] = mode
    body["entity"]["currency"] = {"iso": currency}
    pairs: dict[str, str | int] = {headers.RECEIVED_AT_MS: 1_000, headers.ENDPOINT: "live"}
    record = RawRecord(b"transaction:1", orjson.dumps(body), tuple(headers.encode(pairs)), 0, 0, 1)
    parsed = read(record, TOPICS)
    assert isinstance(parsed, ParsedEvent)
    return parsed


def observed(latency_ms: int = 7, **body: Any) -> CountedEvent:
    seen = delivery(**body)
    return CountedEvent(seen, plan(seen, None, None, PipelineConfig(TOPICS, 10**9)), latency_ms)


def test_increments_of_a_new_transaction_event() -> None:
    status = observed().plan.status
    assert status is not None
    assert status.amount is not None
    assert increments_of(observed()) == {
        "deliveries": 1,
        "event|transaction.approved": 1,
        "latency|3": 1,
        "tx|XOF|mtn|approved": 1,
        "amount|XOF|mtn|approved": status.amount,
    }


@pytest.mark.parametrize(
    ("mode", "key"),
    [("", "tx|XOF|-|approved"), ("a|b", "tx|XOF|-|approved"), (5, "tx|XOF|-|approved")],
)
def test_an_unusable_dimension_is_missing(mode: object, key: str) -> None:
    assert key in increments_of(observed(mode=mode))


def test_a_duplicate_counts_as_a_delivery_and_a_duplicate_only() -> None:
    first = observed()
    again = plan(first.parsed, first.plan.seen, None, PipelineConfig(TOPICS, 10**9))
    assert increments_of(CountedEvent(first.parsed, again, 7)) == {
        "deliveries": 1,
        "duplicate|transaction.approved": 1,
    }


def test_a_dead_letter() -> None:
    assert increments_of(DeadLettered()) == {"dead_letter": 1}


@pytest.mark.parametrize(
    ("name", "parsed", "filters"),
    [
        ("deliveries", (counters.DELIVERIES, ()), {}),
        (
            "tx|XOF|mtn|approved",
            (TX, ("XOF", "mtn", "approved")),
            dict(zip(TX.filters, ("XOF", "mtn", "approved"), strict=True)),
        ),
        ("anomaly|stale_delivery", (counters.ANOMALY, ("stale_delivery",)), {}),
        ("event|a", (counters.EVENT, ("a",)), {"event": "a"}),
        ("tx|XOF", None, {}),
        ("deliveries|x", None, {}),
        ("unknown|x", None, {}),
    ],
)
def test_parse_and_filters(name: str, parsed: Any, filters: dict[str, str]) -> None:
    assert parse(name) == parsed
    assert filters_of(name) == filters


def test_filters_are_the_filterable_dimensions() -> None:
    assert FILTERS == ("event", "currency", "mode", "status")


def test_counter_names_are_distinct() -> None:
    assert len({spec.name for spec in COUNTERS}) == len(COUNTERS)


def test_the_schema_documents_every_field_of_a_summary() -> None:
    schema = summary_schema()
    summary = summarize({})
    assert list(schema["properties"]) == list(summary) == schema["required"]
    assert all(schema["properties"][name]["description"] for name in summary)


def test_an_empty_summary() -> None:
    assert summarize({}) == {
        **{reading.name: 0 for reading in READINGS if reading.schema == {"type": "integer"}},
        "events": {},
        "duplicates": {},
        "entered_status": {},
        "amount": {},
        "approval": {},
        "anomalies": {},
        "latency_ms": {"count": 0, "p50": None, "p90": None, "p99": None},
    }
