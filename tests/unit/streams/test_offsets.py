"""streams.offsets: commits never pass a raw record the worker did not finish."""

from __future__ import annotations

import pytest

from streams import offsets
from streams.offsets import OffsetCheck, OffsetTracker, Verdict

NEW, REPEAT = Verdict.NEW, Verdict.REPEAT


def run(
    steps: list[tuple[int, int]], committed: int | None = 10
) -> tuple[list[tuple[Verdict, int | None]], int | None]:
    """Hand over (generation, offset) pairs of partition 0, finishing each NEW one."""
    tracker = OffsetTracker()
    seen = []
    for generation, offset in steps:
        observed = tracker.observe(0, generation, offset, committed)
        seen.append((observed.verdict, observed.missing_from))
        if observed.verdict is NEW:
            tracker.finished(0, offset)
    return seen, tracker.committable(0, steps[-1][0])


@pytest.mark.parametrize(
    ("steps", "verdicts", "committable"),
    [
        pytest.param([(1, 10), (1, 11), (1, 12)], [(NEW, None)] * 3, 13, id="in order"),
        pytest.param(
            [(1, 10), (1, 11), (1, 10), (1, 11), (1, 12)],
            [(NEW, None), (NEW, None), (REPEAT, None), (REPEAT, None), (NEW, None)],
            13,
            id="handed over again after a seek",
        ),
        pytest.param(
            [(1, 10), (1, 13), (1, 14)],
            [(NEW, None), (NEW, 11), (NEW, None)],
            11,
            id="records missing: fetch again once, commit stops before them",
        ),
        pytest.param(
            [(1, 10), (1, 13), (1, 11), (1, 12), (1, 13), (1, 14)],
            [(NEW, None), (NEW, 11), (NEW, None), (NEW, None), (REPEAT, None), (NEW, None)],
            15,
            id="the missing ones arrive: the frontier closes the gap",
        ),
        pytest.param(
            [(1, 13)], [(NEW, 10)], 10, id="a generation that starts past the committed offset"
        ),
        pytest.param([(1, 8), (1, 10)], [(REPEAT, None), (NEW, None)], 11, id="below committed"),
        pytest.param(
            [(1, 10), (1, 11), (2, 10), (2, 11)],
            [(NEW, None), (NEW, None), (NEW, None), (NEW, None)],
            12,
            id="a new generation reads again from the committed offset",
        ),
    ],
)
def test_offsets(
    steps: list[tuple[int, int]],
    verdicts: list[tuple[Verdict, int | None]],
    committable: int,
) -> None:
    assert run(steps) == (verdicts, committable)


def test_without_a_committed_offset_the_first_record_starts_the_count() -> None:
    assert run([(1, 0), (1, 1)], committed=None) == ([(NEW, None), (NEW, None)], 2)


def test_nothing_observed_nothing_committable() -> None:
    assert OffsetTracker().committable(3, 1) is None


def test_a_batch_hands_over_in_order_before_any_is_finished() -> None:
    tracker = OffsetTracker()
    seen = [tracker.observe(0, 1, offset, 10) for offset in (10, 11, 12, 11)]

    assert [(o.verdict, o.missing_from) for o in seen] == [
        (NEW, None),
        (NEW, None),
        (NEW, None),
        (REPEAT, None),
    ]
    assert tracker.committable(0, 1) == 10  # nothing finished yet


def test_an_unfinished_record_holds_the_commit_back() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12):
        tracker.observe(0, 1, offset, 10)
    tracker.finished(0, 10)
    tracker.finished(0, 12)

    assert tracker.committable(0, 1) == 11


def test_records_below_a_start_without_commit_are_new() -> None:
    """A generation whose committed offset is not known yet starts at the first record handed
    over; Faust may hand over earlier ones afterwards (dropped while its flow control was
    suspended, then sought back to): they were never handed over, so they are new, and the
    commit waits for them."""
    tracker = OffsetTracker()
    for offset in (13, 14):
        assert tracker.observe(0, 2, offset, None).verdict is NEW
        tracker.finished(0, offset)
    assert tracker.committable(0, 2) == 15

    assert tracker.observe(0, 2, 10, 10).verdict is NEW  # the committed offset is known now
    assert tracker.committable(0, 2) == 10
    tracker.finished(0, 10)
    assert [tracker.observe(0, 2, offset, 10).verdict for offset in (11, 12, 13, 14)] == [
        NEW,
        NEW,
        REPEAT,
        REPEAT,
    ]
    tracker.finished(0, 11)
    assert tracker.committable(0, 2) == 12
    tracker.finished(0, 12)
    assert tracker.committable(0, 2) == 15
    assert tracker.observe(0, 2, 15, 10) == OffsetCheck(NEW)


def test_below_the_committed_offset_stays_a_repeat_without_an_anchored_start() -> None:
    tracker = OffsetTracker()
    tracker.observe(0, 2, 13, None)

    assert tracker.observe(0, 2, 9, 10).verdict is REPEAT
    assert tracker.committable(0, 2) == 13


def test_nothing_committable_in_a_generation_without_a_count() -> None:
    """What an earlier generation finished may have been aborted with its transactions."""
    tracker = OffsetTracker()
    tracker.observe(0, 1, 10, 10)
    tracker.finished(0, 10)

    assert tracker.committable(0, 1) == 11
    assert tracker.committable(0, 2) is None


def test_counting_is_per_generation() -> None:
    tracker = OffsetTracker()
    assert not tracker.counting(0, 1)
    tracker.observe(0, 1, 5, 5)
    assert tracker.counting(0, 1)
    assert not tracker.counting(0, 2)
    assert not tracker.counting(1, 1)


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


AGAIN = offsets.REFETCH_AGAIN_SECONDS


@pytest.mark.parametrize(
    ("handed", "wait", "generation", "overdue"),
    [
        pytest.param([10, 13], AGAIN, 1, [(0, 11)], id="gap still open: ask again"),
        pytest.param([10, 13], AGAIN - 0.1, 1, [], id="asked too recently"),
        pytest.param([10, 13, 11, 12], AGAIN, 1, [], id="gap filled"),
        pytest.param([10, 13, 11], AGAIN, 1, [(0, 12)], id="partly filled: from the first hole"),
        pytest.param([10, 11], AGAIN, 1, [], id="no gap"),
        pytest.param([10, 13], AGAIN, 2, [], id="another generation's gap"),
    ],
)
def test_overdue_refetches(
    handed: list[int], wait: float, generation: int, overdue: list[tuple[int, int]]
) -> None:
    clock = _Clock()
    tracker = OffsetTracker(clock)
    for offset in handed:
        tracker.observe(0, 1, offset, 10)
    clock.now += wait
    assert list(tracker.overdue(generation)) == overdue


def test_an_overdue_refetch_is_asked_again_only_after_the_wait() -> None:
    clock = _Clock()
    tracker = OffsetTracker(clock)
    tracker.observe(0, 1, 10, 10)
    tracker.observe(0, 1, 13, 10)
    clock.now += AGAIN
    assert list(tracker.overdue(1)) == [(0, 11)]
    assert list(tracker.overdue(1)) == []
    clock.now += AGAIN
    assert list(tracker.overdue(1)) == [(0, 11)]
