"""streams.faust.agent: where a partition's count starts when Faust does not know it."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.faust import agent
from streams.offsets import OffsetTracker

RAW = "r.raw"


class _Consumer:
    """What ``_fresh`` uses of the worker's consumer."""

    def __init__(self, known: int | None, broker: int) -> None:
        self.known = known
        self.broker = broker
        self.asked: list[TP] = []
        self.sought: list[tuple[TP, int]] = []

    def committed(self, tp: TP) -> int | None:
        return self.known

    async def start_offset(self, tp: TP) -> int:
        self.asked.append(tp)
        return self.broker

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))


def _event(offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(partition=0, offset=offset, generation_id=1))


def _app(consumer: _Consumer) -> Any:
    return SimpleNamespace(raw_topic=RAW, consumer=consumer, offsets=OffsetTracker())


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("known", "broker", "first", "asked", "sought"),
    [
        # Faust knows nothing; the broker says the group starts at 0 (no commit): the
        # records 0-4 dropped before the first one handed over are fetched again.
        (None, 0, 5, 1, [(TP(RAW, 0), 0)]),
        # Faust knows nothing; the broker's committed offset is the first record: no seek.
        (None, 5, 5, 1, []),
        # Faust knows the committed offset: the broker is not asked.
        (3, 99, 5, 0, [(TP(RAW, 0), 3)]),
    ],
)
async def test_a_count_starts_where_the_group_reads_the_partition_from(
    known: int | None, broker: int, first: int, asked: int, sought: list[tuple[TP, int]]
) -> None:
    consumer = _Consumer(known, broker)
    the_app = _app(consumer)

    fresh = await agent._fresh(the_app, [_event(first), _event(first + 1)])

    assert [event.message.offset for event in fresh] == [first, first + 1]
    assert len(consumer.asked) == asked
    assert consumer.sought == sought
    assert the_app.offsets.committable(0, 1) == min(first, known if known is not None else broker)


@pytest.mark.asyncio
async def test_the_broker_is_asked_once_per_partition_and_generation() -> None:
    consumer = _Consumer(None, 0)
    the_app = _app(consumer)

    await agent._fresh(the_app, [_event(0)])
    await agent._fresh(the_app, [_event(1)])

    assert len(consumer.asked) == 1


class _Guard:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("rebalancing", "assigned", "sought"),
    [
        (False, {TP(RAW, 0)}, [(TP(RAW, 0), 11)]),
        (False, set(), []),  # not this consumer's partition any more
        (True, {TP(RAW, 0)}, []),  # a rebalance is under way: the next generation counts anew
    ],
)
async def test_an_overdue_refetch_seeks_again(
    monkeypatch: pytest.MonkeyPatch,
    rebalancing: bool,
    assigned: set[TP],
    sought: list[tuple[TP, int]],
) -> None:
    consumer = _Consumer(10, 10)
    consumer.assignment = lambda: assigned  # type: ignore[attr-defined]
    clock = [0.0]
    the_app: Any = SimpleNamespace(
        raw_topic=RAW,
        consumer=consumer,
        offsets=OffsetTracker(lambda: clock[0]),
        rebalancing=rebalancing,
        processing_guard=_Guard(),
        consumer_generation_id=1,
    )
    await agent._fresh(the_app, [_event(10), _event(13)])
    consumer.sought.clear()
    clock[0] += 60

    await agent.refetch_overdue(the_app)

    assert consumer.sought == sought
