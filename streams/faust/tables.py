"""Faust tables whose writes are durable with the batch that made them.

:class:`ChangelogTable` sends and awaits the changelog records of a batch
instead of leaving them in Faust's producer buffer, so they are in the same
transaction as the outputs (and durable before the records' offsets are
acked); :class:`BatchEvents` gives each read and write of a batch the
partition Faust's RocksDB store expects. :func:`reset_local_tables` discards
the local stores before an exactly-once worker starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import faust
import faust.streams as faust_streams
from faust.types import TP, EventT

from streams import staging
from streams.faust.producer import RecordSender, Sent
from streams.staging import Write

log = logging.getLogger(__name__)


class BatchEvents:
    """The Faust event of each raw partition in the batch being processed.

    Faust's RocksDB store picks the database of a key it reads or writes from
    the *current* event's partition (``faust.streams.current_event()``, which
    reads the context variable ``faust.streams._current_event`` the stream
    sets while it hands that event over). A batch mixes partitions, its events
    are fetched ahead (in other tasks, see :mod:`streams.batching`) and its
    writes are made after all of it was decided, so each read and write is
    made with an event of its own partition made current (see
    :meth:`acting_for`).
    """

    def __init__(self) -> None:
        self.by_partition: dict[int, EventT[Any]] = {}

    def start(self, events: Iterable[EventT[Any]]) -> None:
        self.by_partition = {event.message.partition: event for event in events}

    @contextlib.contextmanager
    def acting_for(self, partition: int) -> Iterator[None]:
        event = self.by_partition.get(partition)
        if event is None:
            yield
            return
        token = faust_streams._current_event.set(weakref.ref(event))
        try:
            yield
        finally:
            faust_streams._current_event.reset(token)


class ChangelogTable:
    """A Faust table whose writes return once their changelog records are acknowledged.

    ``table[key] = value`` hands the changelog record to Faust's producer
    buffer and returns; under exactly-once that record may then fall into the
    transaction after the one holding the record's outputs and offset, and be
    aborted by a crash (the key is lost while its delivery counts as done).
    Here the local store is written directly, and the changelog records are
    sent to the partition of the raw record that made them and awaited while
    the batch is being processed, so they always belong to the same
    transaction as its outputs. Then the changelog offset is recorded for the
    local store as Faust's ``Table._on_changelog_sent`` does after its own
    sends (at once, or under exactly-once when the transaction commits), so a
    restart reads the changelog from there.
    """

    def __init__(self, table: Any, events: BatchEvents, sender: RecordSender) -> None:
        self.table = table
        self.events = events
        self.sender = sender

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        if partition is None:
            value: bytes | None = self.table.get(key)
            return value
        with self.events.acting_for(partition):
            value = self.table.get(key)
        return value

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        items: Iterable[tuple[bytes, bytes]] = self.table.items()
        return items

    async def write(self, writes: Sequence[Write]) -> None:
        by_partition: dict[int, list[Write]] = {}
        for write in writes:
            by_partition.setdefault(write.partition, []).append(write)
        sent = await asyncio.gather(
            *(self._write(partition, group) for partition, group in by_partition.items())
        )
        for batches in sent:
            self._persisted(max(batches, key=lambda b: b.last_offset))

    async def _write(self, partition: int, writes: Sequence[Write]) -> list[Sent]:
        with self.events.acting_for(partition):
            staging.apply(writes, self.table.data)
        topic = self.table.changelog_topic.get_topic_name()
        return await self.sender.send([(topic, w.key, w.value, ()) for w in writes], partition)

    def _persisted(self, last: Sent) -> None:
        # As faust's Table._on_changelog_sent, once per partition and write.
        tp = TP(last.topic, last.partition)
        if self.table.app.in_transaction:
            self.table.app.tables.persist_offset_on_commit(self.table.data, tp, last.last_offset)
        else:
            self.table.data.set_persisted_offset(tp, last.last_offset)


def reset_local_tables(app: faust.App) -> None:
    """Delete the local table stores (exactly-once with RocksDB).

    Faust writes table values to RocksDB as they are set, outside the Kafka
    transaction, so after a crash the local store may hold writes of an
    aborted transaction (a dedup entry whose outputs were never committed).
    The worker discards the local stores before it starts in that mode; the
    tables are rebuilt from their committed changelogs.
    """
    tabledir = app.conf.tabledir
    if tabledir.exists():
        log.info("exactly-once: discarding local table stores", extra={"path": str(tabledir)})
        shutil.rmtree(tabledir)
