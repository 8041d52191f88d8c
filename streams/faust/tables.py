"""Faust tables whose local stores hold only what their changelogs made durable.

:class:`ChangelogTable` sends and awaits the changelog records of a batch
(in the raw partition's transaction under exactly-once) and writes them to
the local store only once they are durable; :class:`CommitAwareTableManager`
says when a partition's transaction committed, and the transaction manager
(:mod:`streams.faust.transactions`) when it never will. :class:`BatchEvents`
gives each read of a batch the partition Faust's RocksDB store expects.
:func:`reset_local_tables` discards the local stores before an exactly-once
worker starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import weakref
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import faust
import faust.streams as faust_streams
from faust.tables.manager import TableManager
from faust.types import TP, EventT
from faust.types.tuples import Message

from streams.faust.producer import RecordSender
from streams.pending import NOT_PENDING, Durable, PendingWrites
from streams.staging import Write

if TYPE_CHECKING:
    from streams.faust.app import BridgeApp

log = logging.getLogger(__name__)


class BatchEvents:
    """The Faust event of each raw partition in the batch being processed.

    Faust's RocksDB store picks the database of a key it reads from
    the *current* event's partition (``faust.streams.current_event()``, which
    reads the context variable ``faust.streams._current_event`` the stream
    sets while it hands that event over). A batch mixes partitions and its
    events are fetched ahead (in other tasks, see :mod:`streams.batching`), so
    each read is made with an event of its own partition made current (see
    :meth:`acting_for`). Writes need none: ``apply_changelog_batch`` names the
    partition of each record.
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
    """A Faust table whose local store only ever holds what its changelog made durable.

    ``table[key] = value`` writes the local store at once and hands the
    changelog record to Faust's producer buffer; under exactly-once the local
    store then holds a value that an aborted transaction never made durable
    (and Faust's own ``Table._on_changelog_sent`` records the offset of an
    exactly-once write under the changelog's partition, which
    ``TableManager.on_commit``, called with the source partitions, never
    looks up). Here:

    1. the changelog records of a batch are sent to the partition of the raw
       record that made them (in that partition's transaction under
       exactly-once) and awaited;
    2. they wait, readable, in :class:`streams.pending.PendingWrites` until
       they are durable: at once under at-least-once (acknowledged), when the
       partition's transaction commits under exactly-once (:meth:`durable`,
       from :class:`CommitAwareTableManager`), or are dropped when it never
       will (:meth:`drop`, when the partition's producer is stopped);
    3. durable writes reach the local store as recovery writes changelog
       records, through Faust's public ``Table.apply_changelog_batch``, which
       also records the changelog offset a restart reads on from.

    So a crash, a revoked partition or a fenced producer leaves nothing in the
    local store that the changelog does not hold.
    """

    def __init__(
        self, table: Any, events: BatchEvents, sender: RecordSender, *, deferred: bool
    ) -> None:
        self.table = table
        self.events = events
        self.sender = sender
        #: Exactly-once: writes become durable when their partition's transaction commits.
        self.deferred = deferred
        self.pending = PendingWrites()

    def get(self, key: bytes, partition: int | None = None) -> bytes | None:
        """The worker's latest value of ``key``, pending writes included (``partition``, when
        the caller knows it, narrows the search). The query API reads the same view as the
        processor: under exactly-once it may answer with a write whose transaction has not
        committed yet, as the metric windows do."""
        if partition is None:
            pending = self.pending.lookup_any(key)
            if pending is not NOT_PENDING:
                return cast(bytes | None, pending)
            value: bytes | None = self.table.get(key)
            return value
        pending = self.pending.lookup(partition, key)
        if pending is not NOT_PENDING:
            return cast(bytes | None, pending)
        with self.events.acting_for(partition):
            value = self.table.get(key)
        return value

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every key of the active partitions, pending writes included."""
        overlay = self.pending.overlay()
        for key, value in self.table.items():
            if key not in overlay:
                yield key, value
        for key, pending in overlay.items():
            if pending is not None:
                yield key, pending

    async def write(self, writes: Sequence[Write]) -> None:
        by_partition: dict[int, list[Write]] = {}
        for write in writes:
            by_partition.setdefault(write.partition, []).append(write)
        topic = self.table.changelog_topic.get_topic_name()
        groups = list(by_partition.items())
        sent = await asyncio.gather(
            *(self.sender.send([(topic, w.key, w.value, ()) for w in group], partition)
              for partition, group in groups)
        )  # fmt: skip
        for (partition, group), batches in zip(groups, sent, strict=True):
            self.pending.add(partition, group, max(batch.last_offset for batch in batches))
        if not self.deferred:
            self.durable(by_partition)

    def durable(self, partitions: Iterable[int]) -> None:
        """The pending writes of ``partitions`` are durable: write them to the local store."""
        topic = self.table.changelog_topic.get_topic_name()
        for durable in self.pending.take(partitions):
            self.table.apply_changelog_batch(_changelog_events(topic, durable))

    def drop(self, partitions: Iterable[int]) -> None:
        """The pending writes of ``partitions`` will never be durable: forget them."""
        dropped = self.pending.drop(partitions)
        if dropped:
            log.info(
                "pending table writes of an unfinished transaction dropped",
                extra={"table": self.table.name, "writes": dropped},
            )


@dataclass(frozen=True, slots=True)
class _ChangelogEvent:
    """What Faust's stores read of a changelog event in ``apply_changelog_batch``."""

    key: bytes
    value: bytes | None
    message: Message


def _changelog_events(topic: str, durable: Durable) -> list[Any]:
    # Every record carries the last offset: the stores only keep the highest per partition.
    return [
        _ChangelogEvent(
            key, value, _message(topic, durable.partition, durable.last_offset, key, value)
        )
        for key, value in durable.values.items()
    ]


def _message(topic: str, partition: int, offset: int, key: bytes, value: bytes | None) -> Message:
    return Message(topic, partition, offset, 0.0, 0, None, key, value, None)


class Changelogs:
    """The worker's changelog tables, told when their pending writes are durable or lost."""

    def __init__(self) -> None:
        self.tables: list[ChangelogTable] = []

    def register(self, table: ChangelogTable) -> ChangelogTable:
        self.tables.append(table)
        return table

    def durable(self, partitions: Iterable[int]) -> None:
        chosen = set(partitions)
        for table in self.tables:
            table.durable(chosen)

    def drop(self, partitions: Iterable[int]) -> None:
        chosen = set(partitions)
        for table in self.tables:
            table.drop(chosen)


class CommitAwareTableManager(TableManager):
    """Faust's table manager, which also tells the changelog tables which raw partitions
    committed (``TableManager.on_commit`` is Faust's hook for exactly that: the consumer
    calls it with the source partitions whose offsets, and under exactly-once whose
    transactions, were just committed)."""

    def on_commit(self, offsets: MutableMapping[TP, int]) -> None:
        super().on_commit(offsets)
        app = cast("BridgeApp", self.app)
        if app.should_stop:
            # A fenced producer's commit is reported as done while the app crashes:
            # nothing is written (a restart rebuilds the tables from the changelogs).
            return
        app.changelogs.durable(tp.partition for tp in offsets if tp.topic == app.raw_topic)


def reset_local_tables(app: faust.App) -> None:
    """Delete the local table stores (exactly-once with RocksDB).

    :class:`ChangelogTable` writes a local store only with committed changelog
    records, so this is defence in depth for what it cannot vouch for: stores
    written by an earlier version of the bridge (which wrote them before its
    transactions committed) and anything outside the worker's control. The
    tables are rebuilt from their committed changelogs, at the cost of reading
    them whole at each start.
    """
    tabledir = app.conf.tabledir
    if tabledir.exists():
        log.info("exactly-once: discarding local table stores", extra={"path": str(tabledir)})
        shutil.rmtree(tabledir)
