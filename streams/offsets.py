"""Which raw offsets the worker has finished, so no commit passes one it has not. Pure.

Faust commits, per partition, the first run of consecutive offsets it was told
are done, wherever that run starts: a record that never reached the agent
(dropped while flow control was suspended, or fetched before a seek) is skipped
as soon as a later record is acked. It also acks records on its own (those it
skips in a rebalance). Raw records come from a non-transactional producer, so
their offsets are contiguous: the worker tracks the offsets it finished since
the partition's committed offset, and every commit names the first one it has
not finished (:meth:`OffsetTracker.committable`), whatever Faust's acks say.
A record missing from the stream is fetched again (the caller seeks back to it);
a record handed over a second time is recognised and skipped.

The agent anchors each generation's count where the group reads the partition
from: Faust's committed offset when it knows it, else the broker's (the
group's committed offset, or the partition's earliest when the group never
committed it; :meth:`streams.faust.consumer.GuardedConsumer.start_offset`).
Trusting the first record handed over instead lost records: after a restart,
a partition the group had not committed yet could be handed over from a later
offset (the records before it dropped while flow control was suspended), and
the count, starting there, let the commit pass them.

A generation whose partition has no committed offset *yet* (Faust learns it
only when it seeks the partition to it, after the stream may already have
handed records over) starts its count at the first record handed over. Such a
start is not a commit: a lower offset handed over later was never handed over
in this generation (Faust dropped it while flow control was suspended, then
sought back), so it is new, and the count moves down to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum

#: Seconds after which a re-fetch that has not filled its gap is asked for again.
REFETCH_AGAIN_SECONDS = 5.0


class Verdict(Enum):
    #: Not finished yet: process it.
    NEW = "new"
    #: Finished already in this consumer generation: ack it, do not process it again.
    REPEAT = "repeat"


@dataclass
class _Partition:
    generation: int
    #: The first offset not finished: everything below it is done.
    frontier: int
    #: The first offset not handed over yet (at or above the frontier).
    contiguous: int
    #: Offsets handed over (at or above the frontier) and finished ones above it.
    handed: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    #: The offset a re-fetch was asked from (once per gap; again: :meth:`OffsetTracker.overdue`).
    refetch: int | None = None
    #: When it was asked (the tracker's clock).
    refetch_at: float = 0.0
    #: True when the count started at the committed offset (below it is done), False when
    #: it started at the first record handed over (below it is unknown).
    anchored: bool = True
    #: Where the count started (moved down with an unanchored start).
    start: int = 0

    def extend_down(self, offset: int) -> None:
        """Start the count at ``offset``, below the unanchored start: what was finished
        since the old start stays finished."""
        finished = range(self.start, self.frontier)
        self.handed.update(finished)
        self.done.update(finished)
        self.start = self.frontier = self.contiguous = offset


@dataclass(frozen=True, slots=True)
class OffsetCheck:
    verdict: Verdict
    #: Set when records before this one are missing: the offset to fetch again from.
    missing_from: int | None = None


class OffsetTracker:
    """The finished raw offsets of each partition, per consumer generation.

    ``clock`` (monotonic seconds) dates re-fetch requests for :meth:`overdue`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._partitions: dict[int, _Partition] = {}
        self._clock = clock

    def observe(
        self, partition: int, generation: int, offset: int, committed: int | None
    ) -> OffsetCheck:
        """What to do with a record handed over now (a NEW one counts as handed over).

        ``committed`` is the partition's committed offset (where a new
        generation starts reading); ``None`` when nothing was committed yet.
        """
        state = self._partitions.get(partition)
        if state is None or state.generation != generation:
            start = offset if committed is None else committed
            state = _Partition(
                generation, start, start, anchored=committed is not None, start=start
            )
            self._partitions[partition] = state
        if offset < state.start and _never_handed(state, offset, committed):
            state.extend_down(offset)
        if offset < state.frontier or offset in state.handed:
            return OffsetCheck(Verdict.REPEAT)
        state.handed.add(offset)
        missing_from = None
        if offset > state.contiguous and state.refetch != state.contiguous:
            missing_from = state.refetch = state.contiguous
            state.refetch_at = self._clock()
        while state.contiguous in state.handed:
            state.contiguous += 1
        return OffsetCheck(Verdict.NEW, missing_from)

    def overdue(self, generation: int) -> Iterator[tuple[int, int]]:
        """``(partition, offset)`` of each gap of ``generation`` whose re-fetch was asked for
        more than :data:`REFETCH_AGAIN_SECONDS` ago and has not filled it: ask again from
        ``offset``.

        A re-fetch can fail to come (the seek undone, the records dropped again): with one
        request per gap, nothing would ask again before the next generation, and the
        partition's commits would stay at the gap.
        """
        now = self._clock()
        for partition, state in self._partitions.items():
            if state.generation != generation:
                continue
            gap_open = any(offset > state.contiguous for offset in state.handed)
            if not gap_open or now - state.refetch_at < REFETCH_AGAIN_SECONDS:
                continue
            state.refetch, state.refetch_at = state.contiguous, now
            yield partition, state.contiguous

    def counting(self, partition: int, generation: int) -> bool:
        """Whether ``partition`` already has a count in ``generation`` (so the caller need
        not find where it starts)."""
        state = self._partitions.get(partition)
        return state is not None and state.generation == generation

    def finished(self, partition: int, offset: int) -> None:
        """``offset`` (handed over as NEW) was processed and acked."""
        state = self._partitions.get(partition)
        if state is None or offset < state.frontier:
            return
        state.done.add(offset)
        while state.frontier in state.done:
            state.done.remove(state.frontier)
            state.handed.discard(state.frontier)
            state.frontier += 1

    def committable(self, partition: int, generation: int) -> int | None:
        """The offset a commit of ``partition`` names in ``generation``: its first unfinished.

        ``None`` until the partition has a count in ``generation``: what an earlier generation
        finished may not have been committed (an exactly-once transaction aborted when the
        partition was revoked), and the group reads the partition again from its committed
        offset.
        """
        state = self._partitions.get(partition)
        if state is None or state.generation != generation:
            return None
        return state.frontier


def _never_handed(state: _Partition, offset: int, committed: int | None) -> bool:
    """Whether ``offset``, below the count's start, cannot have been handed over in this
    generation: the count did not start at a commit, and ``offset`` is not below one."""
    return not state.anchored and (committed is None or offset >= committed)
