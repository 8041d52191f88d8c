"""The read offsets of :class:`streams.faust.consumer.FencedReadOffsets`: what Faust's fetcher
loop and seeks write into them, step by step (the upstream loop itself is pinned in
``tests/unit/streams/faust/test_overrides.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from faust.types import TP

from streams.faust.consumer import FencedReadOffsets

TP0 = TP("r.raw", 0)
TP1 = TP("r.raw", 1)
Step = Callable[[FencedReadOffsets], None]


def put(tp: TP, offset: int | None) -> Step:
    return lambda offsets: offsets.__setitem__(tp, offset)


def fence(tp: TP, offset: int) -> Step:
    return lambda offsets: offsets.fence(tp, offset)


def seek(tp: TP, offset: int) -> Step:
    """What ``GuardedConsumer.seek`` does: Faust's write, then the fence."""

    def step(offsets: FencedReadOffsets) -> None:
        offsets[tp] = offset if offset else None
        offsets.fence(tp, offset)

    return step


@pytest.mark.parametrize(
    ("steps", "read", "fenced"),
    [
        pytest.param([put(TP0, 5), put(TP0, 6)], 6, None, id="no fence: follows the stream"),
        pytest.param(
            [put(TP0, 56), seek(TP0, 51), put(TP0, 57), put(TP0, 58)],
            51,
            51,
            id="records fetched before the seek leave it at the target",
        ),
        pytest.param(
            [seek(TP0, 51), put(TP0, 57), put(TP0, 51), put(TP0, 52)],
            52,
            None,
            id="the stream back at the target lifts the fence",
        ),
        pytest.param(
            [seek(TP0, 51), put(TP0, 49)], 49, None, id="a record before the target lifts it"
        ),
        pytest.param([seek(TP0, 0), put(TP0, 7)], None, 0, id="a seek to 0 reads from the start"),
        pytest.param(
            [seek(TP0, 0), put(TP0, 7), put(TP0, 0), put(TP0, 1)], 1, None, id="and lifts at 0"
        ),
        pytest.param([seek(TP1, 9), put(TP0, 30)], 30, None, id="a fence holds its partition only"),
        pytest.param(
            [seek(TP0, 51), lambda o: o.pop(TP0, None)], None, None, id="revoked: unfenced"
        ),
        pytest.param(
            [seek(TP0, 51), lambda o: o.__delitem__(TP0), put(TP0, 70)],
            70,
            None,
            id="deleted (sought to 0 by Faust): unfenced",
        ),
        pytest.param(
            [seek(TP0, 51), lambda o: o.update({TP0: 80}), put(TP0, 81)],
            81,
            None,
            id="reassigned (sought to committed): unfenced",
        ),
    ],
)
def test_read_offsets(steps: list[Step], read: int | None, fenced: int | None) -> None:
    offsets = FencedReadOffsets()
    for step in steps:
        step(offsets)
    assert offsets[TP0] == read
    assert offsets.fenced(TP0) == fenced


def test_unknown_partitions_read_as_none() -> None:
    assert FencedReadOffsets()[TP0] is None
