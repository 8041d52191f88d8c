"""``fedapay-bridge query``: argument parsing and the rendered tables (pure parts)."""

from __future__ import annotations

from typing import Any

from common.cli import build_parser
from streams import counters, query_cli
from streams.query import (
    parse_range,
    parse_summary,
    range_document,
    summary_document,
    transaction_document,
)
from streams.state_machine import Point, TransactionState
from streams.windows import Resolution

RESOLUTIONS = (Resolution("1m", 60_000, 86_400_000), Resolution("1h", 3_600_000, 86_400_000 * 30))
NOON = 1_795_867_200_000
COUNTERS = {
    "deliveries": 3,
    "event|transaction.approved": 2,
    "duplicate|transaction.approved": 1,
    "tx|XOF|mtn|approved": 2,
    "amount|XOF|mtn|approved": 44_000,
    f"latency|{counters.latency_bucket(12)}": 2,
}


def test_parser() -> None:
    args = build_parser().parse_args(
        ["query", "--url", "http://127.0.0.1:1", "summary", "--currency", "XOF"]
    )

    assert args.run is query_cli.run_summary
    assert query_cli._params(args) == {"currency": "XOF"}
    args = build_parser().parse_args(
        ["query", "range", "--from", "0", "--to", "1", "--resolution", "1h"]
    )
    assert (args.from_, args.to, args.resolution, args.url) == (
        "0",
        "1",
        "1h",
        query_cli.DEFAULT_URL,
    )


def test_table_alignment() -> None:
    text = query_cli.table(["a", "count"], [["x", 1234], ["longer", None], ["r", 0.5]])

    assert text.splitlines() == ["a       count", "x       1,234", "longer      -", "r       50.0%"]


def test_render_summary() -> None:
    wq, minutes = parse_summary({"minutes": "5"}, RESOLUTIONS, NOON)
    text = query_cli.render_summary(summary_document(wq, minutes, {NOON: COUNTERS}))

    assert text.startswith("Last 5 minutes (2026-11-28T11:56:00.000Z .. 2026-11-28T12:01:00.000Z)")
    assert "transaction.approved       2           1" in text
    assert "approved                   2      44,000" in text
    assert "mtn              2        2         100.0%" in text
    assert "p50 20  p90 20  p99 20" in text


def test_render_range() -> None:
    wq = parse_range({"from": str(NOON), "to": str(NOON + 120_000)}, RESOLUTIONS)
    text = query_cli.render_range(range_document(wq, {NOON: COUNTERS, NOON + 60_000: COUNTERS}))
    lines = text.splitlines()

    assert lines[0] == "1m windows from 2026-11-28T12:00:00.000Z to 2026-11-28T12:02:00.000Z"
    assert lines[3].split() == ["2026-11-28T12:00:00.000Z", "3", "2", "1", "2", "0", "20"]
    assert lines[-1].split() == ["total", "6", "4", "2", "4", "0", "20"]


def test_render_transaction() -> None:
    state = TransactionState(
        "235879",
        (
            Point(1, "pending", "2024-02-19T11:47:46.042Z"),
            Point(2, "approved", "2024-02-19T11:48:10.408Z"),
        ),
        event="transaction.approved",
        dedup_key="k",
        amount=22_000,
        currency="XOF",
    )
    document: dict[str, Any] = transaction_document(state)
    text = query_cli.render_transaction(document)

    assert "status            approved" in text
    assert "amount            22,000 XOF" in text
    assert text.rstrip().endswith("approved  2024-02-19T11:48:10.408Z")
