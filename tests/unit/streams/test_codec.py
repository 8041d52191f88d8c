"""Table values round-trip, and unreadable ones are refused."""

from __future__ import annotations

import pytest

from streams.codec import CorruptValue, decode_seen, decode_state, encode_seen, encode_state
from streams.dedup import SeenEntry
from streams.state_machine import Point, TransactionState


def test_seen_entry_round_trip() -> None:
    entry = SeenEntry(last_seen_ms=20, first_seen_ms=10, partition=3, deliveries=2)

    assert decode_seen(encode_seen(entry)) == entry


def test_state_round_trip() -> None:
    state = TransactionState(
        transaction_id="9",
        history=(
            Point(1, "pending", "1970-01-01T00:00:00.001Z"),
            Point(2, "approved", "1970-01-01T00:00:00.002Z", reported=True),
        ),
        event="transaction.approved",
        dedup_key="k",
        reference="trx_1",
        amount=100,
        currency="XOF",
        stale_deliveries=4,
        anomalies=1,
    )

    assert decode_state(encode_state(state)) == state


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"[]",
        b'{"v": 2}',
        b'{"v": 1}',
        b'{"v": 1, "id": "1", "history": [], "event": "e", "dedup_key": "k"}',
        b'{"v": 1, "id": "1", "history": [[1, "paid", "x", false]], '
        b'"event": "e", "dedup_key": "k"}',
    ],
    ids=["empty", "array", "future-version", "missing-fields", "empty-history", "unknown-status"],
)
def test_unreadable_values(value: bytes) -> None:
    with pytest.raises(CorruptValue):
        decode_state(value)
    with pytest.raises(CorruptValue):
        decode_seen(value)
