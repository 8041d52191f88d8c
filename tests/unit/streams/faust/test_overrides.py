"""Every override of Faust or aiokafka behaviour in :mod:`streams.faust`, pinned.

Each test checks the upstream behaviour an override exists for (and, where
it is cheap, the override itself); a failure after an upgrade means: read
the override's docstring, re-verify the upstream behaviour, then adapt or
drop the override. :func:`test_every_override_is_listed_and_pinned` fails
when the package overrides an upstream method or uses a private upstream
name that is not in :data:`PINNED` (and in the package docstring).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import aiokafka
import aiokafka.consumer.consumer as aiokafka_consumer
import faust
import faust.streams as faust_streams
import pytest
from aiokafka.producer.message_accumulator import BatchBuilder
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.consumer import TransactionManager
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer
from faust.types import TP, Message

import streams.faust
from streams.faust import agent, app, consumer, producer, tables, transactions
from streams.pending import Durable

PACKAGE = Path(streams.faust.__file__).parent
RAW = "r.raw"

#: Each override (``Class.method`` or function) and each private upstream name the package
#: uses -> the test that pins the upstream behaviour it depends on.
PINNED: dict[str, str] = {
    "IdempotentProducer._settings_extra": "test_settings_extra_reaches_the_aiokafka_producer",
    "IdempotentProducer.send_batches": "test_send_uses_the_transaction_producer_under_its_lock",
    "_ensure_producer": "test_send_uses_the_transaction_producer_under_its_lock",
    "_transaction_producers": "test_send_uses_the_transaction_producer_under_its_lock",
    "_trn_locks": "test_send_uses_the_transaction_producer_under_its_lock",
    "transactional_id": "test_transactional_ids_match_the_ones_faust_commits_with",
    "_tps_to_transactional_ids": "test_transactional_ids_match_the_ones_faust_commits_with",
    "ReassigningTransactionManager.on_rebalance": "test_rebalance_keeps_producers_of_standbys",
    "ShortPollConsumerThread._create_worker_consumer": "test_worker_consumer_long_polls",
    "_fetch_max_wait_ms": "test_worker_consumer_long_polls",
    "GuardedConsumer.__init__": "test_consumer_makes_its_transaction_manager_in_init",
    "GuardedConsumer.commit": "test_no_commit_while_the_transactions_are_ended",
    "GuardedConsumer.seek": "test_a_seek_is_not_undone_by_records_fetched_before_it",
    "_read_offset": "test_a_seek_is_not_undone_by_records_fetched_before_it",
    "GuardedConsumer._new_offset": "test_new_offset_and_committed_offset",
    "GuardedConsumer.committed": "test_new_offset_and_committed_offset",
    "_committed_offset": "test_new_offset_and_committed_offset",
    "_acked": "test_raw_commits_follow_the_tracker_not_faust_acks",
    "_acked_index": "test_raw_commits_follow_the_tracker_not_faust_acks",
    "_gap": "test_raw_commits_follow_the_tracker_not_faust_acks",
    "GuardedConsumer._new_consumer_thread": "test_worker_consumer_long_polls",
    "GuardedConsumer.highwaters": "test_recovery_highwaters",
    "_thread": "test_recovery_highwaters",
    "_ensure_consumer": "test_recovery_highwaters",
    "BridgeApp.__init__": "test_app_state_is_set_when_the_app_is_made",
    "BridgeApp._new_producer": "test_app_makes_its_producer_and_consumer_with_new_methods",
    "BridgeApp._new_consumer": "test_app_makes_its_producer_and_consumer_with_new_methods",
    "_on_partitions_revoked": "test_app_makes_its_producer_and_consumer_with_new_methods",
    "_on_partitions_assigned": "test_app_makes_its_producer_and_consumer_with_new_methods",
    "BridgeApp.FlowControlQueue": "test_flow_control_queues_are_cleared_on_resume",
    "BatchEvents.acting_for": "test_rocksdb_store_picks_the_current_events_partition",
    "_current_event": "test_rocksdb_store_picks_the_current_events_partition",
    "ChangelogTable.durable": "test_apply_changelog_batch_writes_and_persists_like_recovery",
    "CommitAwareTableManager.on_commit": "test_consumer_tells_the_table_manager_what_committed",
    "_while_flowing": "test_stream_skips_events_read_while_flow_control_is_suspended",
    "reset_local_tables": "test_rocksdb_stores_live_under_tabledir",
}

UPSTREAM = ("faust", "mode", "aiokafka")


def make_app(cls: type[faust.App] = faust.App, tmp_path: Path | None = None, **options: Any) -> Any:
    if cls is app.BridgeApp:
        options.setdefault("raw_topic", RAW)
    options.setdefault("store", "memory://")
    if tmp_path is not None:
        options["datadir"] = str(tmp_path)
    the_app = cls(
        "acme", broker="kafka://127.0.0.1:1", autodiscover=False, web_enabled=False, **options
    )
    # Faust is in a transaction only inside a worker (faust.Worker sets in_worker).
    the_app.in_worker = True
    return the_app


# --- the registry -------------------------------------------------------------------------


def _package_classes() -> Iterator[type]:
    for module in (agent, app, consumer, producer, tables, transactions):
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == module.__name__:
                yield value


def _overrides() -> set[str]:
    """``Class.name`` of every attribute a package class defines that an upstream base has."""
    found = set()
    for cls in _package_classes():
        upstream = [b for b in cls.__mro__[1:] if b.__module__.split(".")[0] in UPSTREAM]
        for name, value in vars(cls).items():
            if not inspect.isfunction(value):
                continue
            if any(name in vars(base) for base in upstream):
                found.add(f"{cls.__name__}.{name}")
    return found


def _private_upstream_names() -> set[str]:
    """Every ``x._name`` the package reads that the package does not define itself."""
    used, defined = set(), set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and re.fullmatch(r"_[a-z]\w*", node.attr):
                used.add(node.attr)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
    return used - defined


def test_every_override_is_listed_and_pinned() -> None:
    found = _overrides() | _private_upstream_names()

    assert found - set(PINNED) == set(), "override or private upstream name without a test"
    documented = set(re.findall(r"``([\w.]+)``", streams.faust.__doc__ or ""))
    assert set(PINNED) - documented == set(), "listed in PINNED, not in streams.faust's docstring"
    tests = {name for name, value in globals().items() if name.startswith("test_")}
    assert set(PINNED.values()) - tests == set()


def test_the_pure_core_imports_no_faust() -> None:
    core = ["pipeline", "dedup", "state_machine", "staging", "offsets", "processor", "batching"]
    for name in core:
        tree = ast.parse((PACKAGE.parent / f"{name}.py").read_text())
        imported: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
        roots = {module.split(".")[0] for module in imported}
        assert roots.isdisjoint({"faust", "mode", "aiokafka"}), name
        assert not any(module.startswith("streams.faust") for module in imported), name


# --- producer -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_settings_extra_reaches_the_aiokafka_producer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> None:
        made.append(kwargs)

    # Faust's Producer._new_producer builds aiokafka's producer from these arguments.
    monkeypatch.setattr(AIOKafkaProducer, "_producer_type", property(lambda self: record))
    for cls in (faust.App, app.BridgeApp):
        make_app(cls).producer._new_producer()
    plain, ours = made

    assert ("enable_idempotence" in plain, plain["acks"]) == (False, -1)
    assert (ours["enable_idempotence"], ours["acks"]) == (True, "all")


class _KafkaProducer:
    """What Faust's ``send`` and ``send_batches`` use of an aiokafka producer."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self.lock = lock
        self.locked: list[bool] = []

    async def send(self, *args: Any, **kwargs: Any) -> None:
        self.locked.append(self.lock.locked())

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(1024, compression_type=0, is_transactional=False)

    async def send_batch(self, builder: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.locked.append(self.lock.locked())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(SimpleNamespace(topic=topic, partition=partition, offset=0))
        return future


@pytest.mark.asyncio
async def test_send_uses_the_transaction_producer_under_its_lock() -> None:
    for cls in (faust.App, app.BridgeApp):
        the_producer = make_app(cls).producer
        lock = asyncio.Lock()
        default, transaction = _KafkaProducer(lock), _KafkaProducer(lock)
        # Instance attributes: Faust's are class-level dicts shared by every producer.
        the_producer._producer = default
        the_producer._transaction_producers = {"acme-1-0": transaction}
        the_producer._trn_locks = {"acme-1-0": lock}
        assert the_producer._ensure_producer() is default

        if cls is faust.App:
            await the_producer.send("t", b"k", b"v", 0, None, None, transactional_id="acme-1-0")
            await the_producer.send("t", b"k", b"v", 0, None, None)
        else:
            records = [("t", b"k", b"v", ())]
            await the_producer.send_batches(records, 0, "acme-1-0")
            await the_producer.send_batches(records, 0, None)

        assert (transaction.locked, default.locked) == ([True], [False]), cls


# --- transactions ---------------------------------------------------------------------------


def _assignor(standby: set[TP]) -> SimpleNamespace:
    return SimpleNamespace(group_for_topic=lambda topic: 1, is_standby=lambda tp: tp in standby)


@pytest.mark.asyncio
async def test_transactional_ids_match_the_ones_faust_commits_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    the_app = make_app(app.BridgeApp, processing_guarantee="exactly_once")
    monkeypatch.setattr(type(the_app), "assignor", _assignor(standby=set()))
    committed: list[set[str]] = []

    async def commit_transactions(by_id: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        committed.append(set(by_id))

    fake = SimpleNamespace(commit_transactions=commit_transactions)
    manager = TransactionManager(
        the_app.transport, consumer=the_app.consumer, producer=cast(Any, fake)
    )
    tps = {TP(RAW, 0), TP(RAW, 3)}

    await manager.commit(dict.fromkeys(tps, 1))

    ours = {transactions.transactional_id(the_app, tp) for tp in tps}
    assert committed == [ours] == [{"acme-1-0", "acme-1-3"}]
    assert manager._tps_to_transactional_ids(tps) == ours


class _TransactionProducers:
    def __init__(self, ids: set[str]) -> None:
        self._transaction_producers = dict.fromkeys(ids)
        self.stopped: list[str] = []

    async def stop_transaction(self, transactional_id: str) -> None:
        self.stopped.append(transactional_id)
        self._transaction_producers.pop(transactional_id, None)

    async def maybe_begin_transaction(self, transactional_id: str) -> None:
        self._transaction_producers[transactional_id] = None


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("manager", "stopped"),
    [(TransactionManager, []), (transactions.ReassigningTransactionManager, ["acme-1-1"])],
)
async def test_rebalance_keeps_producers_of_standbys(
    monkeypatch: pytest.MonkeyPatch, manager: type[TransactionManager], stopped: list[str]
) -> None:
    # Partition 1 moved away; this worker keeps it as a standby. Faust stops only the
    # producers of revoked partitions that are not standbys: the fenced one stays.
    the_app = make_app(app.BridgeApp, processing_guarantee="exactly_once")
    monkeypatch.setattr(type(the_app), "assignor", _assignor(standby={TP(RAW, 1)}))
    fake = _TransactionProducers({"acme-1-0", "acme-1-1"})
    the_manager = manager(the_app.transport, consumer=the_app.consumer, producer=cast(Any, fake))

    await the_manager.on_rebalance({TP(RAW, 0)}, {TP(RAW, 1)}, set())

    assert fake.stopped == stopped


# --- consumer -------------------------------------------------------------------------------


class _FetcherBuilt(Exception):
    pass


@pytest.mark.asyncio
async def test_worker_consumer_long_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    plain, ours = make_app(), make_app(app.BridgeApp)
    plain_consumer = AIOKafkaConsumerThread(plain.consumer)._create_worker_consumer(plain.transport)
    thread = ours.consumer._new_consumer_thread()
    our_consumer = thread._create_worker_consumer(ours.transport)
    assert isinstance(thread, consumer.ShortPollConsumerThread)
    assert isinstance(our_consumer, aiokafka.AIOKafkaConsumer)
    assert (plain_consumer._fetch_max_wait_ms, our_consumer._fetch_max_wait_ms) == (1500, 100)

    # aiokafka hands the consumer's _fetch_max_wait_ms to its fetcher when it starts.
    seen: list[int] = []

    def fetcher(*args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        seen.append(fetch_max_wait_ms)
        raise _FetcherBuilt

    async def nothing(*args: Any) -> None:
        return None

    monkeypatch.setattr(aiokafka_consumer, "Fetcher", fetcher)
    monkeypatch.setattr(our_consumer._client, "bootstrap", nothing)
    monkeypatch.setattr(our_consumer, "_wait_topics", nothing)
    with pytest.raises(_FetcherBuilt):
        await our_consumer.start()
    assert seen == [100]
    await our_consumer._client.close()
    await plain_consumer._client.close()


def test_consumer_makes_its_transaction_manager_in_init() -> None:
    plain = make_app(processing_guarantee="exactly_once").consumer
    ours = make_app(app.BridgeApp, processing_guarantee="exactly_once").consumer

    assert type(plain.transactions) is TransactionManager
    assert isinstance(ours.transactions, transactions.ReassigningTransactionManager)
    # Started as a dependency of the consumer, so replacing it in __init__ is in time.
    assert list(ours.on_init_dependencies()) == [ours.transactions]


def _committing(monkeypatch: pytest.MonkeyPatch, the_app: Any, tp: TP) -> list[Any]:
    """Commits of ``the_app``'s consumer, recorded instead of sent, with ``tp`` assigned."""
    the_consumer = the_app.consumer
    commits: list[Any] = []

    async def commit(offsets: dict[TP, int]) -> bool:
        guard = getattr(the_app, "processing_guard", None)
        commits.append((dict(offsets), guard is not None and guard.locked()))
        return True

    async def flush() -> None:
        return None

    monkeypatch.setattr(the_consumer, "_commit", commit)
    monkeypatch.setattr(the_consumer, "assignment", lambda: {tp})
    monkeypatch.setattr(the_app.producer, "flush", flush)
    return commits


def _acked(the_consumer: Any, tp: TP, offsets: list[int]) -> None:
    the_consumer._acked[tp] = list(offsets)
    the_consumer._acked_index[tp] = set(offsets)


def _finished(the_app: Any, offsets: list[int], committed: int | None = None) -> None:
    """Raw partition 0's ``offsets`` handed over and finished in the app's generation."""
    for offset in offsets:
        the_app.offsets.observe(0, the_app.consumer_generation_id, offset, committed)
        the_app.offsets.finished(0, offset)


@pytest.mark.asyncio
async def test_commits_go_through_commit_and_hold_the_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Faust's periodic commit calls the public commit (the method GuardedConsumer wraps).
    assert "await self.commit()" in inspect.getsource(FaustConsumer._commit_handler.fun)
    assert list(inspect.signature(FaustConsumer.commit).parameters) == [
        "self",
        "topics",
        "start_new_transaction",
    ]
    the_app = make_app(app.BridgeApp)
    tp = TP(RAW, 0)
    commits = _committing(monkeypatch, the_app, tp)
    _finished(the_app, [0, 1])
    _acked(the_app.consumer, tp, [0, 1])

    await the_app.consumer.commit()

    assert commits == [({tp: 2}, True)]


def _transaction_commits(monkeypatch: pytest.MonkeyPatch, the_app: Any, tp: TP) -> list[Any]:
    """Exactly-once commits of ``the_app``'s consumer (offsets, start a new transaction),
    recorded instead of sent, with ``tp`` assigned."""
    the_consumer = the_app.consumer
    commits: list[Any] = []

    async def commit(offsets: dict[TP, int], start_new_transaction: bool = True) -> bool:
        commits.append((dict(offsets), start_new_transaction))
        return True

    monkeypatch.setattr(the_consumer.transactions, "commit", commit)
    monkeypatch.setattr(the_consumer, "assignment", lambda: {tp})
    return commits


@pytest.mark.asyncio
async def test_no_commit_while_the_transactions_are_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    # Faust ends the transactions (commit, no new transaction) when partitions are revoked
    # and when it stops, and begins them again at the next assignment ...
    assert "self.commit(start_new_transaction=False)" in inspect.getsource(
        FaustConsumer.commit_and_end_transactions
    )
    assert "await T(self.commit_and_end_transactions)()" in inspect.getsource(
        FaustConsumer.wait_empty
    )
    assert "self._consumer_wait_empty" in inspect.getsource(faust.App._on_partitions_revoked)
    assert "consumer.transactions.on_rebalance" in inspect.getsource(
        faust.App._on_partitions_assigned
    )
    assert "if start_new_transaction:" in inspect.getsource(AIOKafkaProducer.commit_transactions)
    assert "maybe_begin_transaction" in inspect.getsource(TransactionManager._start_transactions)
    # ... aiokafka refuses offsets outside a transaction ...
    assert "Not in the middle of a transaction" in inspect.getsource(
        aiokafka.AIOKafkaProducer.send_offsets_to_transaction
    )
    # ... and Faust's periodic commit commits again when an offset moved meanwhile.
    tp = TP(RAW, 0)
    plain = make_app(processing_guarantee="exactly_once")
    commits = _transaction_commits(monkeypatch, plain, tp)
    _acked(plain.consumer, tp, [0])
    await plain.consumer.commit_and_end_transactions()
    _acked(plain.consumer, tp, [0, 1])
    await plain.consumer.commit()
    assert commits == [({tp: 1}, False), ({tp: 2}, True)]

    ours = make_app(app.BridgeApp, processing_guarantee="exactly_once")
    commits = _transaction_commits(monkeypatch, ours, tp)
    began: list[str] = []

    async def begin(transactional_id: str) -> None:
        began.append(transactional_id)

    monkeypatch.setattr(ours.producer, "maybe_begin_transaction", begin)
    monkeypatch.setattr(type(ours), "assignor", _assignor(standby=set()))
    _finished(ours, [0])
    _acked(ours.consumer, tp, [0])
    await ours.consumer.commit_and_end_transactions()
    _finished(ours, [1])
    _acked(ours.consumer, tp, [0, 1])
    await ours.consumer.commit()
    await ours.consumer.commit_and_end_transactions()
    assert commits == [({tp: 1}, False)]
    # The next assignment begins the transactions again: commits go on.
    await ours.consumer.transactions.on_rebalance({tp}, set(), set())
    assert began == [transactions.transactional_id(ours, tp)]
    await ours.consumer.commit()
    assert commits == [({tp: 1}, False), ({tp: 2}, True)]

    # At least once, commits go on (they end no transaction).
    alo = make_app(app.BridgeApp)
    commits = _committing(monkeypatch, alo, tp)
    _finished(alo, [0])
    _acked(alo.consumer, tp, [0])
    await alo.consumer.commit_and_end_transactions()
    _finished(alo, [1])
    _acked(alo.consumer, tp, [0, 1])
    await alo.consumer.commit()
    assert commits == [({tp: 1}, True), ({tp: 2}, True)]


@pytest.mark.asyncio
async def test_new_offset_and_committed_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    tp = TP(RAW, 0)
    plain = make_app()
    commits = _committing(monkeypatch, plain, tp)
    # Faust commits the end of the first run of acked offsets, wherever it starts, as long
    # as it knows no committed offset ...
    assert plain.consumer._committed_offset.get(tp) is None
    _acked(plain.consumer, tp, [5, 6, 8])
    await plain.consumer.commit()
    assert commits == [({tp: 7}, False)]
    # ... and remembers what it committed in _committed_offset.
    assert plain.consumer._committed_offset[tp] == 7
    # A run that does not follow the committed offset is not committed.
    _acked(plain.consumer, tp, [9, 10])
    assert plain.consumer._new_offset(tp) is None

    ours = make_app(app.BridgeApp)
    commits = _committing(monkeypatch, ours, tp)
    for offset in (5, 6):
        ours.offsets.observe(0, ours.consumer_generation_id, offset, None)
    ours.offsets.finished(0, 5)
    _acked(ours.consumer, tp, [5, 6])
    await ours.consumer.commit()
    assert commits == [({tp: 6}, True)]  # 6 was acked, but is not finished
    assert ours.consumer.committed(tp) == 6


@pytest.mark.asyncio
async def test_raw_commits_follow_the_tracker_not_faust_acks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = TP(RAW, 0)
    # Faust removes the run of acked offsets it returns from its acked offsets ...
    plain = make_app()
    plain.consumer._committed_offset[tp] = 10
    _acked(plain.consumer, tp, [11, 12, 13])
    assert plain.consumer._new_offset(tp) == 14
    assert plain.consumer._acked[tp] == []
    # ... and fills them with the gaps its fetcher loop recorded (offsets never handed over).
    assert "self._gap[tp]" in inspect.getsource(FaustConsumer._new_offset)
    plain.consumer._committed_offset[tp] = 14
    await plain.consumer._add_gap(tp, 15, 19)
    _acked(plain.consumer, tp, [14, 20])
    assert plain.consumer._new_offset(tp) == 21
    assert not plain.consumer._gap[tp]

    # Ours: 11-13 finished and acked before 10 (a seek back to 10), and a gap recorded
    # past them: no commit passes 10 ...
    ours = make_app(app.BridgeApp)
    commits = _committing(monkeypatch, ours, tp)
    ours.consumer._committed_offset[tp] = 10
    _finished(ours, [11, 12, 13], committed=10)
    _acked(ours.consumer, tp, [11, 12, 13])
    await ours.consumer._add_gap(tp, 14, 30)
    await ours.consumer.commit()
    assert commits == []
    # ... once 10 is finished the commit goes to 14, and Faust's acks and gaps below it go.
    _finished(ours, [10], committed=10)
    _acked(ours.consumer, tp, [10, 11, 12, 13])
    await ours.consumer.commit()
    assert commits == [({tp: 14}, True)]
    assert (ours.consumer._acked[tp], ours.consumer._acked_index[tp]) == ([], set())
    assert tp not in ours.consumer._gap
    # Acks Faust lost do not hold the commit back: only the tracker counts.
    _finished(ours, [14, 15], committed=14)
    await ours.consumer.commit()
    assert commits[-1] == ({tp: 16}, True)
    # A new generation commits nothing before it has finished records of its own.
    _finished(ours, [16], committed=16)
    ours.consumer_generation_id += 1
    await ours.consumer.commit()
    assert commits[-1] == ({tp: 16}, True)


async def _fetcher_loop(
    the_consumer: Any, fetches: list[list[int]], monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """Faust's own fetcher loop (``Consumer._drain_messages``) over ``fetches`` (the offsets
    of raw partition 0 in each aiokafka ``getmany`` result); the agent seeks back to 51 when
    it gets record 53 (51 and 52 were dropped, as in a rebalance). The offsets handed over."""
    tp = TP(RAW, 0)
    handed: list[int] = []
    fetcher = SimpleNamespace(_stopped=asyncio.Event())

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, Message]]:  # noqa: ASYNC109
        if not fetches:
            fetcher._stopped.set()
            return
        for offset in fetches.pop(0):
            yield tp, Message(RAW, 0, offset, 0.0, 0, None, b"k", b"v", None)

    async def callback(message: Message) -> None:
        handed.append(message.offset)
        if handed == [53]:
            await the_consumer.seek(tp, 51)

    async def seek_in_aiokafka(partition: TP, offset: int) -> None:
        return None

    monkeypatch.setattr(the_consumer, "getmany", getmany)
    monkeypatch.setattr(the_consumer, "callback", callback)
    monkeypatch.setattr(the_consumer, "_seek", seek_in_aiokafka)
    the_consumer._read_offset[tp] = 50
    await asyncio.wait_for(the_consumer._drain_messages(fetcher), 5)
    return handed


@pytest.mark.asyncio
async def test_a_seek_is_not_undone_by_records_fetched_before_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """53..56 were fetched before the seek to 51 and are handed over after it; aiokafka then
    fetches from 51 again. Faust's read offset follows the stale records up to 56 and drops
    51..55 when they come again; ours stays at 51 until the stream gets back there."""
    stale_then_refetched = [[53, 54, 55, 56], [51, 52, 53, 54, 55, 56, 57]]
    plain = make_app().consumer
    handed = await _fetcher_loop(plain, [list(f) for f in stale_then_refetched], monkeypatch)
    assert handed == [53, 54, 55, 56, 56, 57]

    ours = make_app(app.BridgeApp).consumer
    assert isinstance(ours._read_offset, consumer.FencedReadOffsets)
    handed = await _fetcher_loop(ours, [list(f) for f in stale_then_refetched], monkeypatch)
    assert handed == [53, 54, 55, 56, 51, 52, 53, 54, 55, 56, 57]
    assert ours._read_offset.fenced(TP(RAW, 0)) is None


class _Thread:
    """A consumer thread that runs calls in place, with an aiokafka consumer that knows
    the end offsets from the broker but not their last stable offsets yet."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    async def call_thread(self, fun: Callable[..., Any], *args: Any) -> Any:
        return await fun(*args)

    def _ensure_consumer(self) -> Any:
        return self.consumer


class _KafkaConsumer:
    def last_stable_offset(self, tp: TP) -> int:
        return -1

    async def end_offsets(self, partitions: list[TP]) -> dict[TP, int]:
        return dict.fromkeys(partitions, 10)


@pytest.mark.asyncio
async def test_recovery_highwaters() -> None:
    tp = TP("acme-dedup-changelog", 0)
    # Recovery asks consumer.highwaters and takes 1 off each.
    destination: Counter[TP] = Counter()
    recovery = make_app().tables.recovery

    async def highwaters(*tps: TP) -> dict[TP, int | None]:
        return {tp: 10, TP("acme-dedup-changelog", 1): None}

    await recovery._build_highwaters(
        SimpleNamespace(highwaters=highwaters), {tp}, destination, "active"
    )
    assert destination == {tp: 9, TP("acme-dedup-changelog", 1): -1}
    assert Recovery._build_highwaters is type(recovery)._build_highwaters
    # Under exactly-once Faust's thread reads aiokafka's last stable offset (unknown,
    # -1, until a fetch response arrived), GuardedConsumer asks the broker.
    plain = make_app(processing_guarantee="exactly_once").consumer
    thread = AIOKafkaConsumerThread(plain)
    thread._consumer = _KafkaConsumer()
    assert await thread._highwaters([tp]) == {tp: -1}
    ours = make_app(app.BridgeApp, processing_guarantee="exactly_once").consumer
    ours._thread = _Thread(_KafkaConsumer())
    assert await ours.highwaters(tp) == {tp: 10}


# --- app ------------------------------------------------------------------------------------


def test_app_state_is_set_when_the_app_is_made() -> None:
    # faust.App takes its settings as **options; the app's own are taken out first.
    assert "options" in inspect.signature(faust.App.__init__).parameters
    the_app = make_app(app.BridgeApp)

    assert (the_app.raw_topic, the_app.offsets.committable(0, 0)) == (RAW, None)
    assert not the_app.processing_guard.locked()
    assert not hasattr(the_app.conf, "raw_topic")


def test_app_makes_its_producer_and_consumer_with_new_methods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = make_app()
    made: list[dict[str, Any]] = []

    def create_consumer(**kwargs: Any) -> str:
        made.append(kwargs)
        return "consumer"

    monkeypatch.setattr(plain.transport, "create_consumer", create_consumer)
    monkeypatch.setattr(plain.transport, "create_producer", lambda **kwargs: "producer")

    assert (plain.consumer, plain.producer) == ("consumer", "producer")
    # BridgeApp._new_consumer passes the same arguments (and the transport's loop, as
    # Transport.create_consumer does).
    assert made == [
        {
            "callback": plain.topics.on_message,
            "on_partitions_revoked": plain._on_partitions_revoked,
            "on_partitions_assigned": plain._on_partitions_assigned,
            "beacon": plain.beacon,
        }
    ]
    assert "loop=self.loop" in inspect.getsource(type(plain.transport).create_consumer)
    ours = make_app(app.BridgeApp)
    assert isinstance(ours.producer, producer.IdempotentProducer)
    assert isinstance(ours.consumer, consumer.GuardedConsumer)
    assert ours.consumer._on_partitions_assigned == ours._on_partitions_assigned


@pytest.mark.asyncio
async def test_flow_control_queues_are_cleared_on_resume() -> None:
    # faust-streaming #596: Faust's channels (and so its streams' topics) ask for queues
    # cleared on resume, and resuming flow control clears them.
    plain, ours = make_app(), make_app(app.BridgeApp)
    for the_app, kept in ((plain, []), (ours, ["record"])):
        queue = the_app.channel().queue
        queue.put_nowait("record")
        the_app.flow_control.resume()
        assert [queue.get_nowait() for _ in range(queue.qsize())] == kept
    assert plain.channel().queue._clear_on_resume is True
    assert ours.channel().queue._clear_on_resume is False


# --- tables ---------------------------------------------------------------------------------


def _event(the_app: Any, partition: int, offset: int = 0) -> faust.Event:
    message = Message(
        RAW,
        partition,
        offset,
        0.0,
        0,
        None,
        b"k",
        b"v",
        None,
        generation_id=the_app.consumer_generation_id,
    )
    return faust.Event(the_app, b"k", b"v", None, message)


def test_rocksdb_store_picks_the_current_events_partition(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict")
    the_app = make_app(app.BridgeApp, tmp_path, store="rocksdb://")
    table = the_app.Table("t", key_type=bytes, value_type=bytes, partitions=4)
    events = tables.BatchEvents()
    events.start([_event(the_app, 2)])

    with events.acting_for(2):
        assert faust_streams.current_event() is events.by_partition[2]
        table.data[b"k"] = b"v"
    assert faust_streams.current_event() is None

    assert table.data._dbs.keys() == {2}
    assert table.data._db_for_partition(2)[b"k"] == b"v"
    with pytest.raises(AssertionError):  # no current event: the store cannot pick a partition
        table.data[b"k"] = b"w"


@pytest.mark.asyncio
async def test_faust_persists_exactly_once_offsets_under_keys_on_commit_never_reads() -> None:
    # Why ChangelogTable does not use Table._on_changelog_sent: under exactly-once it
    # keeps the offset for the changelog's partition, and TableManager.on_commit is
    # called with the source partitions, so the offset is never persisted.
    the_app = make_app(processing_guarantee="exactly_once")
    table = the_app.Table("t", key_type=bytes, value_type=bytes, partitions=4)
    recorded: list[int] = []
    table.data.set_persisted_offset = lambda tp, offset: recorded.append(offset)
    sent = SimpleNamespace(offset=7, topic_partition=TP("acme-t-changelog", 2))
    table._on_changelog_sent(SimpleNamespace(result=lambda: sent))

    the_app.tables.on_commit({TP(RAW, 2): 8})

    assert recorded == []


@pytest.mark.parametrize("store", ["rocksdb://", "memory://"])
def test_apply_changelog_batch_writes_and_persists_like_recovery(
    tmp_path: Path, store: str
) -> None:
    # ChangelogTable.durable writes through Table.apply_changelog_batch, which reads
    # only key, value and message of each event, writes the partition the message
    # names (no current event needed) and persists the highest offset.
    if store.startswith("rocksdb"):
        pytest.importorskip("rocksdict")
    the_app = make_app(app.BridgeApp, tmp_path, store=store)
    table = the_app.Table("t", key_type=bytes, value_type=bytes, partitions=4)
    the_app.assignor.assigned_actives = lambda: {TP("acme-t-changelog", 2)}

    for durable in (Durable(2, {b"b": b"old"}, 4), Durable(2, {b"a": b"1", b"b": None}, 9)):
        table.apply_changelog_batch(tables._changelog_events("acme-t-changelog", durable))

    assert dict(table.data.items()) == {b"a": b"1"}
    if store.startswith("rocksdb"):
        assert table.data.persisted_offset(TP("acme-t-changelog", 2)) == 9


def test_consumer_tells_the_table_manager_what_committed() -> None:
    # CommitAwareTableManager.on_commit relies on the consumer calling
    # tables.on_commit with the committed offsets, after the commit succeeded.
    source = inspect.getsource(FaustConsumer._commit_offsets)
    assert "did_commit = await self.transactions.commit(" in source
    assert "if did_commit:" in source
    assert "self.app.tables.on_commit(committable_offsets)" in source
    the_app = make_app(app.BridgeApp, TableManager=tables.CommitAwareTableManager)
    assert isinstance(the_app.tables, tables.CommitAwareTableManager)


@pytest.mark.asyncio
async def test_a_fenced_commit_is_reported_done_and_crashes_the_app() -> None:
    # Why CommitAwareTableManager.on_commit writes nothing once the app is stopping.
    from aiokafka.errors import ProducerFenced

    the_app = make_app(app.BridgeApp, processing_guarantee="exactly_once")
    crashed: list[BaseException] = []

    async def crash(reason: BaseException) -> None:
        crashed.append(reason)

    async def fenced(*args: Any, **kwargs: Any) -> None:
        raise ProducerFenced()

    the_app.crash = crash
    the_app.producer.commit_transactions = fenced
    the_app.assignor.group_for_topic = lambda topic: 0
    manager = TransactionManager(
        the_app.transport, consumer=the_app.consumer, producer=the_app.producer
    )

    assert await manager.commit({TP(RAW, 1): 5}) is True
    assert [type(reason) for reason in crashed] == [ProducerFenced]


def test_commit_aware_table_manager_applies_only_committed_raw_partitions() -> None:
    the_app = make_app(app.BridgeApp, TableManager=tables.CommitAwareTableManager)
    told: list[set[int]] = []
    the_app.changelogs.durable = lambda partitions: told.append(set(partitions))

    the_app.tables.on_commit({TP(RAW, 1): 5, TP("other", 2): 3})

    assert told == [{1}]


@pytest.mark.asyncio
@pytest.mark.parametrize("cython", [True, False], ids=["cython", "python"])
async def test_stream_skips_events_read_while_flow_control_is_suspended(
    monkeypatch: pytest.MonkeyPatch, cython: bool
) -> None:
    if not cython:
        monkeypatch.setattr(faust_streams, "_CStreamIterator", None)
    elif faust_streams._CStreamIterator is None:  # type: ignore[attr-defined]
        pytest.skip("faust's Cython extension is not installed")
    the_app = make_app()
    stream = the_app.channel().stream().noack()
    early, late = _event(the_app, 0, 0), _event(the_app, 0, 1)
    stream.channel.queue.put_nowait(early)
    events = aiter(stream.events())
    first = asyncio.ensure_future(anext(events))
    for _ in range(10):
        await asyncio.sleep(0)
    the_app.flow_control.resume()
    stream.channel.queue.put_nowait(late)

    # The early event was taken from the queue and dropped; the pure-Python iterator
    # also acks it (so its offset can be committed), the Cython one does not.
    assert await asyncio.wait_for(first, 5) is late
    assert early.message.acked is (not cython)
    await stream.stop()


@pytest.mark.asyncio
async def test_while_flowing_reads_nothing_while_suspended() -> None:
    the_app = make_app()
    taken: list[int] = []

    async def source() -> AsyncIterator[Any]:
        for item in (1, 2):
            taken.append(item)
            yield item

    flowing = agent._while_flowing(the_app, cast(Any, source()))
    first: asyncio.Future[Any] = asyncio.ensure_future(anext(flowing))
    for _ in range(10):
        await asyncio.sleep(0)
    assert taken == []
    the_app.flow_control.resume()
    assert await first == 1


def test_rocksdb_stores_live_under_tabledir(tmp_path: Path) -> None:
    pytest.importorskip("rocksdict")
    the_app = make_app(app.BridgeApp, tmp_path, store="rocksdb://")
    table = the_app.Table("t", key_type=bytes, value_type=bytes, partitions=4)

    assert the_app.conf.tabledir in table.data.partition_path(0).parents
    table.data._db_for_partition(0)
    assert any(the_app.conf.tabledir.iterdir())
    tables.reset_local_tables(the_app)
    assert not the_app.conf.tabledir.exists()
