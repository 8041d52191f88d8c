"""streams.pending: writes wait, readable, until they are durable or dropped."""

from __future__ import annotations

import pytest

from streams.pending import NOT_PENDING, Durable, PendingWrites
from streams.staging import Write


def _pending() -> PendingWrites:
    pending = PendingWrites()
    pending.add(1, [Write(1, b"a", b"1"), Write(1, b"b", b"2")], last_offset=10)
    pending.add(1, [Write(1, b"a", b"3")], last_offset=12)
    pending.add(2, [Write(2, b"c", None)], last_offset=4)
    return pending


@pytest.mark.parametrize(
    ("partition", "key", "expected"),
    [
        (1, b"a", b"3"),  # the latest write wins
        (1, b"b", b"2"),
        (2, b"c", None),  # a pending delete reads as deleted, not as absent
        (2, b"a", NOT_PENDING),  # pending in another partition only
        (3, b"a", NOT_PENDING),
    ],
)
def test_lookup(partition: int, key: bytes, expected: object) -> None:
    assert _pending().lookup(partition, key) == expected


@pytest.mark.parametrize(("key", "expected"), [(b"a", b"3"), (b"c", None), (b"z", NOT_PENDING)])
def test_lookup_any_partition(key: bytes, expected: object) -> None:
    assert _pending().lookup_any(key) == expected


def test_overlay_merges_every_partition() -> None:
    assert _pending().overlay() == {b"a": b"3", b"b": b"2", b"c": None}


def test_take_returns_durable_writes_once_with_the_highest_offset() -> None:
    pending = _pending()

    taken = pending.take([1, 3])

    assert taken == [Durable(1, {b"a": b"3", b"b": b"2"}, 12)]
    assert pending.take([1]) == []
    assert pending.partitions() == {2}


def test_drop_forgets_writes_that_will_never_be_durable() -> None:
    pending = _pending()

    assert pending.drop([2, 5]) == 1
    assert pending.lookup(2, b"c") is NOT_PENDING
    assert pending.partitions() == {1}
