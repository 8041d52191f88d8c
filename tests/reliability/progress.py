"""Where the workers' consumer group stands on the raw topic: committed against written.

Two uses in the fault tests:

* :func:`progress` right after a worker was killed: the raw records written but
  not committed by the group. They are all the worker can process again after its
  restart, so under at-least-once they bound the outputs a kill can repeat (the
  batch in flight is among them; records finished since the last commit are too,
  but the dedup table drops those).
* :func:`wait_caught_up` before the outputs are counted: every raw record written
  so far is committed, so the workers have finished with it. Counting earlier
  takes repeats that a restarted worker emits late for effects of what comes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

_POLL_S = 0.2

Reader = Callable[[], Awaitable["GroupProgress"]]


@dataclass(frozen=True)
class GroupProgress:
    #: Partition -> next offset to write (the raw topic's end).
    end: dict[int, int]
    #: Partition -> the group's committed offset (0 when nothing was committed).
    committed: dict[int, int]

    @property
    def lag(self) -> int:
        """Raw records written but not committed by the group."""
        return sum(end - self.committed.get(p, 0) for p, end in self.end.items())

    def to_dict(self) -> dict[str, dict[int, int]]:
        return {"end": self.end, "committed": self.committed}


@contextlib.asynccontextmanager
async def _reader(bootstrap: str, group: str, topic: str) -> AsyncIterator[Reader]:
    """A function that reads the group's progress on ``topic``, with one admin client and
    one consumer kept open for every read (a wait polls many times)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]

        async def read() -> GroupProgress:
            ends = await consumer.end_offsets(partitions)
            offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
            committed = {
                tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0
            }
            return GroupProgress({tp.partition: end for tp, end in ends.items()}, committed)

        yield read
    finally:
        await consumer.stop()
        await admin.close()


async def progress(bootstrap: str, group: str, topic: str) -> GroupProgress:
    """The raw topic's end offsets and the group's committed offsets, now."""
    async with _reader(bootstrap, group, topic) as read:
        return await read()


async def wait_caught_up(bootstrap: str, group: str, topic: str, *, within: float) -> None:
    """Until the group committed every record of ``topic`` (or fail after ``within`` s)."""
    deadline = time.monotonic() + within
    async with _reader(bootstrap, group, topic) as read:
        while True:
            now = await read()
            if now.lag == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"workers not caught up after {within} s: {now.to_dict()}")
            await asyncio.sleep(_POLL_S)
