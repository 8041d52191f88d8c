"""Which transactions the drift check asks about, and when FedaPay's answer is newer."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from reconcile.drift import Candidate, candidates, drift_body, is_newer
from schemas.envelope import parse
from streams.clock import parse_ms


def status(tx: str, value: str, updated_at: str) -> bytes:
    return orjson.dumps({"transaction_id": tx, "status": value, "updated_at": updated_at})


LATEST = {
    b"live:1": status("1", "pending", "2027-01-01T10:00:00.000Z"),
    b"live:2": status("2", "pending", "2027-01-01T09:00:00.000Z"),
    b"live:3": status("3", "approved", "2027-01-01T09:00:00.000Z"),
    b"live:4": status("4", "pending", "2027-01-01T11:59:00.000Z"),
    b"sandbox:5": status("5", "pending", "2027-01-01T09:00:00.000Z"),
    b"live:6": status("6", "declined", "2027-01-01T08:00:00.000Z"),
    b"live:7": b"not json",
    b"live:8": status("8", "pending", "not a time"),
    b"old-key-format": status("9", "pending", "2027-01-01T09:00:00.000Z"),
}
CUTOFF = parse_ms("2027-01-01T11:30:00.000Z") or 0


@pytest.mark.parametrize(
    ("endpoint", "statuses", "limit", "expected"),
    [
        ("live", ("pending",), 10, ["2", "1"]),
        ("live", ("pending",), 1, ["2"]),
        ("live", ("pending", "declined"), 10, ["6", "2", "1"]),
        ("sandbox", ("pending",), 10, ["5"]),
        ("live", (), 10, []),
    ],
)
def test_candidates(
    endpoint: str, statuses: tuple[str, ...], limit: int, expected: list[str]
) -> None:
    found = candidates(LATEST, endpoint, statuses, CUTOFF, limit)
    assert [c.transaction_id for c in found] == expected


@pytest.mark.parametrize(
    ("theirs", "newer"),
    [
        ("2027-01-01T10:00:00.001Z", True),
        ("2027-01-01T10:00:00.000Z", False),
        ("2027-01-01T09:00:00.000Z", False),
        (None, False),
    ],
)
def test_is_newer(theirs: str | None, newer: bool) -> None:
    candidate = Candidate("1", "pending", "2027-01-01T10:00:00.000Z")
    assert is_newer(candidate, {"updated_at": theirs}) is newer


def test_drift_body_is_the_transaction_updated_webhook() -> None:
    transaction: dict[str, Any] = {
        "id": 12,
        "status": "approved",
        "updated_at": "T",
        "account_id": 3,
    }
    envelope = parse(drift_body(transaction))
    assert envelope.name == "transaction.updated"
    assert envelope.key == "transaction:12"
    assert envelope.dedup_key == "transaction.updated:transaction:12:T"
    assert envelope.body["account"] == {"id": 3}
