"""Query parameters, documents, routing and the OpenAPI document (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from streams import openapi, query, routing
from streams.errors import BadQuery
from streams.query import parse_partitions, parse_range, parse_summary, parse_time
from streams.state_machine import Point, TransactionState
from streams.windows import Resolution

MINUTE = Resolution("1m", 60_000, 24 * 3_600_000)
HOUR = Resolution("1h", 3_600_000, 30 * 86_400_000)
RESOLUTIONS = (MINUTE, HOUR)
NOON = 1_795_867_200_000  # 2026-11-28T12:00:00Z


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1795867200000", NOON),
        ("2026-11-28T12:00:00Z", NOON),
        ("2026-11-28T12:00:00.001Z", NOON + 1),
        ("2026-11-28T13:00:00+01:00", NOON),
        ("2026-11-28T12:00:00", NOON),
        ("0", 0),
    ],
)
def test_parse_time(text: str, value: int) -> None:
    assert parse_time("from", text) == value


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "yesterday",
        "-1",
        "1e3",
        "²",
        "99999999999999999",
        "\udcff",
        "a|b",
        "0001-01-01T00:00:00Z",
    ],
)
def test_parse_time_rejects(text: str | None) -> None:
    with pytest.raises(BadQuery, match=r"^from: "):
        parse_time("from", text)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"to": "2"}, "from"),
        ({"from": "1"}, "to"),
        ({"from": "2", "to": "2"}, "to"),
        ({"from": "3", "to": "2"}, "to"),
        ({"from": "0", "to": str(NOON)}, "to"),  # too many minute windows
        ({"from": "0", "to": "1", "resolution": "1d"}, "resolution"),
        ({"from": "0", "to": "1", "currency": ""}, "currency"),
        ({"from": "0", "to": "1", "event": "a|b"}, "event"),
    ],
)
def test_parse_range_rejects(params: dict[str, str], parameter: str) -> None:
    with pytest.raises(BadQuery) as raised:
        parse_range(params, RESOLUTIONS)
    assert raised.value.parameter == parameter


def test_parse_range() -> None:
    params = {"from": str(NOON), "to": str(NOON + 3_600_000), "resolution": "1h", "mode": "mtn"}
    wq = parse_range(params, RESOLUTIONS)

    assert (wq.resolution, wq.from_ms, wq.to_ms, dict(wq.filters)) == (
        HOUR,
        NOON,
        NOON + 3_600_000,
        {"mode": "mtn"},
    )
    assert parse_range({"from": "0", "to": "1"}, RESOLUTIONS).resolution == MINUTE


@pytest.mark.parametrize(
    ("minutes", "now", "start", "end"),
    [
        ("5", NOON + 30_000, NOON - 4 * 60_000, NOON + 60_000),
        ("1", NOON, NOON, NOON + 60_000),
        ("1", NOON - 1, NOON - 60_000, NOON),
    ],
)
def test_summary_covers_the_current_minute_and_those_before(
    minutes: str, now: int, start: int, end: int
) -> None:
    wq, n = parse_summary({"minutes": minutes}, RESOLUTIONS, now)

    assert (wq.from_ms, wq.to_ms, n) == (start, end, int(minutes))


@pytest.mark.parametrize("minutes", ["0", "-1", "x", "10081", "٣", "1" * 30])
def test_summary_rejects(minutes: str) -> None:
    with pytest.raises(BadQuery, match=r"^minutes"):
        parse_summary({"minutes": minutes}, RESOLUTIONS, NOON)


def test_summary_needs_a_minute_resolution() -> None:
    with pytest.raises(BadQuery, match="minute"):
        parse_summary({}, (HOUR,), NOON)


@pytest.mark.parametrize(
    ("text", "value"), [(None, set()), ("", set()), ("2,0", {0, 2}), ("7", {7}), ("0,11", {0, 11})]
)
def test_parse_partitions(text: str | None, value: set[int]) -> None:
    parsed = parse_partitions(text, 12)

    assert parsed == value
    assert isinstance(parsed, frozenset)


@pytest.mark.parametrize(
    "text", ["a", "1,,2", "-1", "12", "100000", "\u0661", "2,0,2", " 1", ",".join(["1"] * 13)]
)
def test_parse_partitions_rejects(text: str) -> None:
    with pytest.raises(BadQuery, match=r"^partitions"):
        parse_partitions(text, 12)


def test_parse_partitions_bounds_the_text_before_splitting_it() -> None:
    """An 8 KB filter is refused at once: at most the topic's partition count of numbers."""
    huge = ",".join(str(i % 6) for i in range(4_000))

    with pytest.raises(BadQuery, match=r"^partitions: at most 6 distinct"):
        parse_partitions(huge, 6)


@pytest.mark.parametrize("value", ["235879", "0", "9" * 20])
def test_transaction_ids_are_digits(value: str) -> None:
    assert query.check_transaction_id(value) == value


@pytest.mark.parametrize(
    "value", ["", "9" * 21, "../healthz", "..%2Fhealthz", "12/x", "abc", "12a", "\u0661", " 1"]
)
def test_transaction_ids_reject_anything_else(value: str) -> None:
    with pytest.raises(BadQuery, match=r"^id: a FedaPay transaction id"):
        query.check_transaction_id(value)


def test_range_document_lists_non_empty_windows_and_the_total() -> None:
    wq = parse_range({"from": str(NOON), "to": str(NOON + 180_000), "event": "a"}, RESOLUTIONS)
    windows = {
        NOON: {"event|a": 1, "deliveries": 1},
        NOON + 60_000: {"event|b": 4},
        NOON + 120_000: {"event|a": 2, "duplicate|a": 1},
    }
    document = query.range_document(wq, windows)

    assert [w["start"] for w in document["windows"]] == [
        "2026-11-28T12:00:00.000Z",
        "2026-11-28T12:02:00.000Z",
    ]
    assert document["total"]["events"] == {"a": 3}
    assert document["total"]["duplicates_total"] == 1
    assert document["filters"] == {"event": "a"}


def test_windows_document_round_trip() -> None:
    windows = {NOON: {"x": 1}}
    document = query.windows_document([0, 2], windows)

    assert query.read_windows_document(document) == ([0, 2], windows)


def test_transaction_document() -> None:
    state = TransactionState(
        "7",
        (
            Point(1, "pending", "2024-01-01T00:00:00.001Z"),
            Point(2, "approved", "2024-01-01T00:00:00.002Z"),
        ),
        event="transaction.approved",
        dedup_key="k",
        amount=100,
        currency="XOF",
    )
    document = query.transaction_document(state)

    assert document["status"] == "approved"
    assert [h["status"] for h in document["history"]] == ["pending", "approved"]


# ------------------------------------------------------------------ routing

DISTRIBUTION: dict[str, Any] = {
    "http://127.0.0.1:1": {"app-metrics-changelog": [0, 2], "app-dedup-changelog": [0, 2]},
    "http://127.0.0.1:2": {"app-metrics-changelog": [1]},
}


def test_scatter() -> None:
    by_url, missing = routing.scatter(DISTRIBUTION, "app-metrics-changelog", 3)

    assert by_url == {"http://127.0.0.1:1": [0, 2], "http://127.0.0.1:2": [1]}
    assert missing == []
    assert routing.scatter(DISTRIBUTION, "app-metrics-changelog", 4)[1] == [3]
    assert routing.scatter({}, "app-metrics-changelog", 2) == ({}, [0, 1])


def test_key_partition_is_stable_and_spreads() -> None:
    # aiokafka's default partitioner (murmur2, as the Java client), which the ingress uses.
    assert routing.key_partition(b"transaction:235879", 1) == 0
    first = [routing.key_partition(f"transaction:{i}".encode(), 3) for i in range(50)]
    assert first == [routing.key_partition(f"transaction:{i}".encode(), 3) for i in range(50)]
    assert set(first) == {0, 1, 2}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("http://127.0.0.1:6066", "http://127.0.0.1:6066/", True),
        ("http://127.0.0.1:6066", "http://127.0.0.1:6067", False),
        ("http://a:80", "http://a", True),
    ],
)
def test_same_node(a: str, b: str, same: bool) -> None:
    assert routing.same_node(a, b) is same


# ------------------------------------------------------------------ OpenAPI


def test_openapi_documents_every_route() -> None:
    document = openapi.document(RESOLUTIONS)

    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/query/range",
        "/query/summary",
        "/transactions/{id}",
        "/internal/windows",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    }
    resolution = next(
        p
        for p in document["paths"]["/query/range"]["get"]["parameters"]
        if p["name"] == "resolution"
    )
    assert resolution["schema"]["enum"] == ["1m", "1h"]
