"""Faust's aiokafka consumer with guarded commits, capped commit offsets, short long-polls
and changelog end offsets read from the broker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, cast

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.types import TP
from faust.types.transports import TPorTopicSet

from streams.faust.transactions import ReassigningTransactionManager

if TYPE_CHECKING:
    from streams.faust.app import BridgeApp

#: Longest wait of the consumer's fetch requests (see :class:`ShortPollConsumerThread`).
FETCH_MAX_WAIT_MS: Final = 100


class ShortPollConsumerThread(AIOKafkaConsumerThread):
    """Faust's consumer thread, whose aiokafka consumer long-polls for at most
    :data:`FETCH_MAX_WAIT_MS` instead of Faust's fixed 1.5 s.

    Faust's ``_create_worker_consumer`` passes ``fetch_max_wait_ms=1500`` (no
    setting); aiokafka hands the consumer's ``_fetch_max_wait_ms`` to its
    fetcher when the consumer starts, so it is changed before that.

    aiokafka keeps one fetch request per broker in flight, for the partitions
    that have no fetched records left when it is sent. When those happen to be
    idle (Faust's assignor topic always is), the request waits the whole
    long-poll, and the partitions drained meanwhile, with records waiting on
    the broker, are not fetched before it returns: a worker reading a backlog
    idled about a second every few thousand records.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class FencedReadOffsets(defaultdict[TP, int | None]):
    """Faust's ``Consumer._read_offset`` (per partition, the offset of the last record handed
    to the stream), held at the target of a seek until the stream gets there.

    Faust's fetcher loop (``Consumer._drain_messages``) hands over, one by one, every record
    of an aiokafka ``getmany`` result, setting the read offset to each one's, and drops the
    records it fetches later below the read offset. ``Consumer.seek`` sets the read offset to
    its target, but records fetched before the seek and not handed over yet keep coming and
    raise it again: the records the seek was for are then dropped when they are fetched again,
    and they reach the stream only when the agent sees the gap again and seeks once more.
    After :meth:`fence`, the read offset stays at the target until a record at or before it
    is handed over. A revoked or newly assigned partition (``pop``, ``del``, ``update``) is
    not fenced any more.

    If the target no longer exists on the broker (deleted by retention before this group
    read it), the fence stays until the partition is reassigned; every record still reaches
    the stream (none is below the target).
    """

    def __init__(self) -> None:
        super().__init__(lambda: None)
        #: The fenced partitions and their seek targets.
        self.targets: dict[TP, int] = {}

    def fence(self, tp: TP, offset: int) -> None:
        """``tp`` was sought to ``offset``: its read offset stays there until the stream gets
        back to ``offset``."""
        self.targets[tp] = offset

    def fenced(self, tp: TP) -> int | None:
        return self.targets.get(tp)

    def __setitem__(self, tp: TP, offset: int | None) -> None:
        fence = self.targets.get(tp)
        if fence is not None and offset is not None:
            if offset > fence:
                return  # a record fetched before the seek
            del self.targets[tp]
        super().__setitem__(tp, offset)

    def __delitem__(self, tp: TP) -> None:
        self.targets.pop(tp, None)
        super().__delitem__(tp)

    def pop(self, tp: TP, *default: Any) -> Any:
        self.targets.pop(tp, None)
        return super().pop(tp, *default)

    def update(self, *others: Any, **kwargs: Any) -> None:
        offsets = dict(*others, **kwargs)
        self._unfence(offsets)
        super().update(offsets)

    def _unfence(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self.targets.pop(tp, None)


class GuardedConsumer(AIOKafkaConsumer):
    """Faust's consumer, whose offset commits wait for the batch being processed.

    Faust commits from its own task while the agent runs. Under exactly-once, a
    commit that lands between a record's output sends and its ack puts those
    outputs in the committed transaction without the record's offset; after a
    crash the record is processed again and its outputs are committed twice.
    Holding :attr:`BridgeApp.processing_guard` around each batch and each
    commit keeps every transaction to whole batches.

    Its commits also never name a raw offset the agent has not finished
    (see :meth:`_new_offset` and :mod:`streams.offsets`), its seeks are not undone by
    records fetched before them (:class:`FencedReadOffsets`), it uses
    :class:`ReassigningTransactionManager` and :class:`ShortPollConsumerThread`,
    and it reads end offsets from the broker (see :meth:`highwaters`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Faust's Consumer.__init__ makes its TransactionManager (no factory
        # setting); replaced before the consumer starts it as a dependency.
        self.transactions = ReassigningTransactionManager(
            self.transport,
            consumer=self,
            producer=self.app.producer,
            beacon=self.beacon,
            loop=self.loop,
        )
        # Replaced before the fetcher loop binds its methods (when the consumer starts).
        self._read_offset = FencedReadOffsets()

    async def seek(self, partition: TP, offset: int) -> None:
        """Faust's seek, its target fenced (see :class:`FencedReadOffsets`)."""
        await super().seek(partition, offset)
        cast(FencedReadOffsets, self._read_offset).fence(partition, offset)

    async def commit(
        self, topics: TPorTopicSet | None = None, start_new_transaction: bool = True
    ) -> bool:
        """Faust's commit, holding the processing guard; under exactly-once, none while the
        transactions are ended (:attr:`ReassigningTransactionManager.ended`).

        Faust ends the transactions (``wait_empty`` -> ``commit_and_end_transactions``:
        commit, no new transaction) when partitions are revoked and when it stops, and
        begins them again only at the next assignment; its periodic commit task runs on
        meanwhile. A commit that then finds a newer offset to commit calls
        ``send_offsets_to_transaction`` on a producer that is in no transaction: aiokafka
        raises ``IllegalOperation`` and the worker crashes. Found by the torture (issue
        12): a worker stopped right after it joined. Offsets not committed then are read
        again by the partition's next owner (or by this worker after the assignment),
        whose tables hold the dedup entries the committed transactions wrote: nothing is
        emitted twice.
        """
        async with cast("BridgeApp", self.app).processing_guard:
            transactions = cast(ReassigningTransactionManager, self.transactions)
            if self.in_transaction and transactions.ended:
                return False
            result: bool = await super().commit(topics, start_new_transaction=start_new_transaction)
            if self.in_transaction and not start_new_transaction:
                transactions.ended = True
            return result

    def read_offset(self, tp: TP) -> int | None:
        """The offset of the last record of ``tp`` handed to the stream (Faust's
        ``_read_offset``), ``None`` before the first."""
        offset: int | None = self._read_offset.get(tp)
        return offset

    def committed(self, tp: TP) -> int | None:
        """The committed offset of ``tp`` as this consumer last knew it.

        Faust's ``_committed_offset``: set from the broker when a partition is
        sought to its committed offset, and to each offset Faust commits.
        """
        offset: int | None = self._committed_offset.get(tp)
        return offset

    def _new_offset(self, tp: TP) -> int | None:
        """The next commit offset of ``tp``: for a raw partition, the first raw offset the
        agent has not finished in this consumer generation (see :mod:`streams.offsets`),
        not Faust's.

        Faust returns the end of the first run of consecutive acked offsets (``None``:
        nothing to commit), wherever that run starts, acks records it skips in a
        rebalance, and fills its acked offsets with the "gaps" its fetcher loop records
        when a record's offset jumps past the read offset (``_gap``, from
        ``Consumer._add_gap``). It also *removes* the run it returns from its acked
        offsets (``_acked``). Capping its answer was not enough (issue 12): a run that
        went past the cap (acks of records handed over before a seek back) was removed
        whole while the commit stopped at the cap, and Faust then waited for acks that
        were gone, so the partition's commits stopped for good; and after a seek back the
        gaps recorded over the records sought back to duplicated their acks, so each
        commit moved the partition by one offset only. The tracker alone decides; Faust's
        acks and gaps of the partition below the new offset are dropped so they do not
        pile up.
        """
        app = cast("BridgeApp", self.app)
        if tp.topic != app.raw_topic:
            plain: int | None = super()._new_offset(tp)
            return plain
        offset = app.offsets.committable(tp.partition, app.consumer_generation_id)
        committed = self.committed(tp)
        if offset is None or (committed is not None and offset <= committed):
            return None
        self._forget_acks(tp, below=offset)
        return offset

    def _forget_acks(self, tp: TP, below: int) -> None:
        """Drop Faust's acks of ``tp`` below ``below`` (``_acked``, ``_acked_index``: the
        commit to ``below`` covers them) and its gaps of ``tp`` (``_gap``): only Faust's
        own ``_new_offset``, not used for raw partitions, would remove them."""
        acked = self._acked[tp]
        done = [offset for offset in acked if offset < below]
        if done:
            acked[:] = [offset for offset in acked if offset >= below]
            self._acked_index[tp].difference_update(done)
        self._gap.pop(tp, None)

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return ShortPollConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: TP) -> Mapping[TP, int]:
        """The end offsets of ``partitions`` as the broker reports them now.

        Table recovery (``Recovery._build_highwaters``) compares these, minus 1,
        with the offsets persisted in the local stores. In exactly-once mode
        Faust reads them from aiokafka's ``last_stable_offset``, which stays
        unknown until a fetch response for the partition arrives, and a new
        assignment (every rebalance) forgets it again; Faust turns unknown into
        -1. Recovery then skips every changelog partition (nothing to read up to
        -1, so the tables stay as they were locally), or, when a store already
        holds data of a partition that comes back, fails with
        ``ConsistencyError`` (persisted offset > -1). The consumer's
        ``end_offsets`` asks the broker with the consumer's isolation level: the
        last stable offset under exactly-once (``read_committed``), the
        high-water mark otherwise (what Faust itself uses in that mode).
        """
        thread = self._thread
        offsets: Mapping[TP, int] = await thread.call_thread(self._end_offsets, list(partitions))
        return offsets

    async def start_offset(self, tp: TP) -> int:
        """Where this group reads ``tp`` from, as the broker has it now: the group's
        committed offset, else the partition's earliest (``auto_offset_reset=earliest``).

        Faust learns a partition's committed offset only when it seeks to it, and
        keeps none for a partition the group never committed; the agent asks here
        instead of trusting the first record the stream hands over (see
        :func:`streams.faust.agent._fresh`).
        """
        offset: int = await self._thread.call_thread(self._start_offset, tp)
        return offset

    async def _start_offset(self, tp: TP) -> int:
        # Runs in the consumer's thread (its event loop owns the aiokafka consumer).
        consumer = self._thread._ensure_consumer()
        committed: int | None = await consumer.committed(tp)
        if committed is not None and committed >= 0:
            return committed
        earliest: Mapping[TP, int] = await consumer.beginning_offsets([tp])
        return earliest[tp]

    async def _end_offsets(self, partitions: list[TP]) -> Mapping[TP, int]:
        # Runs in the consumer's thread (its event loop owns the aiokafka consumer).
        offsets: Mapping[TP, int] = await self._thread._ensure_consumer().end_offsets(partitions)
        return offsets
