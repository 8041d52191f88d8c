"""The pure pipeline: parsing, DLQ, normalization, routing, headers, and a whole scenario."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import orjson
import pytest
from jsonschema import Draft202012Validator

from schemas import headers
from schemas.envelope import parse
from schemas.jsonschema import load
from schemas.topics import Topics
from simulator.lifecycle import Truth, generate
from streams import codec
from streams.pipeline import (
    Output,
    OutputKind,
    ParsedEvent,
    PipelineConfig,
    RawRecord,
    plan,
    read,
    replay,
)
from streams.processor import PROCESSING_ERROR
from streams.staging import MemoryTable, Write
from streams.state_machine import Observation, Outcome, advance
from tests.fixtures import fixture_bytes
from tests.support.processing import SingleAttemptProcessor

TOPICS = Topics("t")
CONFIG = PipelineConfig(topics=TOPICS, dedup_window_ms=72 * 3600 * 1000)
T0 = 1_708_343_300_000
SCHEMA_OF = {
    OutputKind.EVENT: "normalized-event",
    OutputKind.STATUS: "status-record",
    OutputKind.ANOMALY: "anomaly",
}
VALIDATORS = {name: Draft202012Validator(load(name)) for name in SCHEMA_OF.values()}


def record(
    body: bytes | None,
    received_at_ms: int | None = T0,
    partition: int = 0,
    offset: int = 0,
    extra: dict[str, str | int] | None = None,
) -> RawRecord:
    pairs: dict[str, str | int] = {headers.ENDPOINT: "sandbox", **(extra or {})}
    if received_at_ms is not None:
        pairs[headers.RECEIVED_AT_MS] = received_at_ms
    return RawRecord(
        key=b"transaction:235879",
        value=body,
        headers=tuple(headers.encode(pairs)),
        partition=partition,
        offset=offset,
        timestamp_ms=T0 - 1,
    )


def approved() -> bytes:
    return fixture_bytes("transaction.approved.json")


def with_changes(body: bytes, **changes: object) -> bytes:
    document = orjson.loads(body)
    document.update(changes)
    return orjson.dumps(document)


def delivery(body: bytes, received_at_ms: int = T0) -> ParsedEvent:
    parsed = read(record(body, received_at_ms=received_at_ms), TOPICS)
    assert isinstance(parsed, ParsedEvent)
    return parsed


def validate(output: Output) -> None:
    VALIDATORS[SCHEMA_OF[output.kind]].validate(orjson.loads(output.value))


def header(output: Output, name: str) -> str:
    return headers.decode(output.headers)[name]


# ------------------------------------------------------------------------ read


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (None, "invalid_json"),
        (b"[1, 2]", "not_a_fedapay_event"),
        (b'{"name": "transaction.approved", "object": "transaction"}', "not_a_fedapay_event"),
    ],
    ids=["broken-json", "tombstone", "array", "no-entity"],
)
def test_unparseable_records_go_to_the_dlq(body: bytes | None, code: str) -> None:
    result = read(record(body, extra={headers.SIGNATURE_TIMESTAMP: 17}), TOPICS)

    assert isinstance(result, Output)
    assert (result.kind, result.topic, result.key) == (
        OutputKind.DLQ,
        "t.dlq",
        b"transaction:235879",
    )
    assert result.value == (body or b"")
    assert header(result, headers.ERROR) == code
    assert header(result, headers.ERROR_DETAIL)
    assert header(result, headers.SIGNATURE_TIMESTAMP) == "17"  # raw headers kept
    assert header(result, headers.DEDUP_KEY).startswith("sha256:")


def test_dlq_keeps_a_dedup_key_from_the_raw_headers() -> None:
    result = read(record(b"{", extra={headers.DEDUP_KEY: "abc"}), TOPICS)

    assert isinstance(result, Output)
    assert [v for k, v in result.headers if k == headers.DEDUP_KEY] == [b"abc"]


@pytest.mark.parametrize(
    ("received_at", "expected"), [(T0, T0), (None, T0 - 1)], ids=["header", "record-time"]
)
def test_receive_time_from_header_else_record_timestamp(
    received_at: int | None, expected: int
) -> None:
    parsed = read(record(approved(), received_at_ms=received_at), TOPICS)

    assert isinstance(parsed, ParsedEvent)
    assert parsed.received_at_ms == expected
    assert parsed.endpoint == "sandbox"


# ------------------------------------------------------------------------ plan


def test_a_transaction_event_gives_a_normalized_event_and_a_status_record() -> None:
    result = plan(delivery(approved()), None, None, CONFIG)

    event, status = result.outputs
    assert (event.kind, event.topic, event.key) == (
        OutputKind.EVENT,
        "t.transaction.approved",
        b"transaction:235879",
    )
    assert (status.kind, status.topic, status.key) == (
        OutputKind.STATUS,
        "t.transaction.status",
        b"sandbox:235879",
    )
    dedup_key = "transaction.approved:transaction:235879:2024-02-19T11:48:10.408Z"
    for output in result.outputs:
        assert header(output, headers.DEDUP_KEY) == dedup_key
        assert header(output, headers.EVENT_NAME) == "transaction.approved"
        validate(output)
    assert orjson.loads(status.value)["status"] == "approved"
    assert result.state is not None
    assert not result.duplicate


def test_account_is_reduced_to_its_id_by_default() -> None:
    event = orjson.loads(plan(delivery(approved()), None, None, CONFIG).outputs[0].value)

    assert "account" not in event
    assert event["account_id"] == 8202
    assert event["entity"]["reference"] == "trx_fOg_1708343266047"
    assert (event["received_at"], event["endpoint"]) == ("2024-02-19T11:48:20.000Z", "sandbox")
    assert event["dedup_key"] == parse(approved()).dedup_key


def test_account_is_kept_when_configured() -> None:
    config = PipelineConfig(topics=TOPICS, dedup_window_ms=1000, keep_account=True)
    output = plan(delivery(approved()), None, None, config).outputs[0]

    assert orjson.loads(output.value)["account"]["users"][0]["email"] == "customer@example.com"
    validate(output)


@pytest.mark.parametrize(
    ("name", "topic"),
    [
        ("transaction.approved", "t.transaction.approved"),
        ("transaction.updated", "t.transaction.updated"),
        ("transaction.payout_made", "t.unknown"),
    ],
    ids=["named", "updated", "unknown"],
)
def test_routing_by_event_name(name: str, topic: str) -> None:
    result = plan(delivery(with_changes(approved(), name=name)), None, None, CONFIG)

    assert result.outputs[0].topic == topic


def test_a_duplicate_emits_nothing_and_refreshes_the_entry() -> None:
    first = plan(delivery(approved()), None, None, CONFIG)
    again = plan(delivery(approved(), received_at_ms=T0 + 5000), first.seen, first.state, CONFIG)

    assert again.duplicate
    assert again.outputs == ()
    assert again.state is None
    assert again.seen.last_seen_ms == T0 + 5000


def test_customer_events_have_no_state() -> None:
    body = orjson.dumps(
        {
            "name": "customer.created",
            "object": "customer",
            "entity": {"id": 5, "updated_at": "2024-02-19T11:47:46.042Z"},
            "account": {"id": 8202},
        }
    )
    result = plan(delivery(body), None, None, CONFIG)

    assert [o.topic for o in result.outputs] == ["t.customer.created"]
    assert result.state is None
    assert read(record(body), TOPICS).transaction_id is None  # type: ignore[union-attr]


def test_illegal_transition_emits_an_anomaly_keyed_by_transaction() -> None:
    state = advance(
        None,
        Observation("235879", "refunded", "2024-02-19T11:40:00.000Z", "transaction.refunded", "k"),
    ).state
    result = plan(delivery(approved()), None, state, CONFIG)

    kinds = [o.kind for o in result.outputs]
    assert kinds == [OutputKind.EVENT, OutputKind.STATUS, OutputKind.ANOMALY]
    anomaly = result.outputs[2]
    assert (anomaly.topic, anomaly.key) == ("t.anomalies", b"sandbox:235879")
    document = orjson.loads(anomaly.value)
    assert (document["from_status"], document["to_status"]) == ("refunded", "approved")
    for output in result.outputs:
        validate(output)


# -------------------------------------------------------------- a whole scenario


def shuffled_deliveries(seed: int, transactions: int) -> tuple[list[RawRecord], Truth]:
    scenario = generate(transactions, customers=5, seed=seed, illegal=0.1)
    rng = random.Random(seed)
    events = list(scenario.events)
    deliveries = events + [event for event in events if rng.random() < 0.3]
    rng.shuffle(deliveries)
    records = [
        RawRecord(
            key=event.key.encode(),
            value=event.body,
            headers=tuple(
                headers.encode({headers.ENDPOINT: "live", headers.RECEIVED_AT_MS: T0 + i})
            ),
            partition=0,
            offset=i,
            timestamp_ms=T0 + i,
        )
        for i, event in enumerate(deliveries)
    ]
    return records, scenario.truth


def test_a_shuffled_scenario_with_duplicates_matches_the_truth() -> None:
    records, truth = shuffled_deliveries(seed=7, transactions=200)
    outputs, _, states = replay(records, CONFIG)

    events = [o for o in outputs if o.kind is OutputKind.EVENT]
    keys = Counter(header(o, headers.DEDUP_KEY) for o in events)
    assert set(keys) == truth.dedup_keys
    assert set(keys.values()) == {1}
    per_topic = Counter(o.topic for o in events)
    assert per_topic == {f"t.{n}": c for n, c in truth.events_per_name.items()}
    final = {
        tx.removeprefix("live:"): codec.decode_state(codec.encode_state(s)).status
        for tx, s in states.items()
    }
    assert final == truth.final_status
    anomalies = [o for o in outputs if o.kind is OutputKind.ANOMALY]
    assert len(anomalies) == truth.illegal_total
    per_tx = Counter(o.key.decode().removeprefix("live:") for o in anomalies if o.key is not None)
    assert per_tx == truth.illegal_per_transaction
    last_status: dict[bytes | None, str] = {}
    for output in outputs:
        validate(output)
        if output.kind is OutputKind.STATUS:
            last_status[output.key] = orjson.loads(output.value)["status"]
    final_records = {k.decode().removeprefix("live:"): v for k, v in last_status.items() if k}
    assert final_records == truth.final_status


# ------------------------------------------------------------------- processor


class Sender:
    def __init__(self, fail: BaseException | None = None, failures: int = 0) -> None:
        self.sent: list[Output] = []
        self.fail = fail
        self.failures = failures

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        if self.fail is not None and self.failures > 0:
            self.failures -= 1
            raise self.fail
        self.sent.extend(outputs)


@pytest.mark.asyncio
async def test_nothing_is_marked_seen_when_outputs_fail() -> None:
    seen: dict[bytes, bytes] = {}
    states: dict[bytes, bytes] = {}
    sender = Sender(ConnectionError("down"), failures=1)
    worker = SingleAttemptProcessor(
        CONFIG, MemoryTable(seen), MemoryTable(states), sender, sweep_interval_ms=1
    )

    with pytest.raises(ConnectionError):
        await worker.handle(record(approved()))

    assert (seen, states) == ({}, {})


@pytest.mark.asyncio
async def test_send_errors_are_retried_until_they_succeed() -> None:
    sender = Sender(RuntimeError("no transaction producer yet"), failures=5)
    worker = SingleAttemptProcessor(
        CONFIG, MemoryTable(), MemoryTable(), sender, sweep_interval_ms=1, retry_backoff_s=0.001
    )

    await worker.process([record(approved())])

    assert [o.kind for o in sender.sent] == [OutputKind.EVENT, OutputKind.STATUS]


@pytest.mark.asyncio
async def test_a_record_that_cannot_be_decided_goes_to_the_dlq() -> None:
    sender = Sender()
    worker = SingleAttemptProcessor(
        CONFIG, MemoryTable(), MemoryTable(), sender, sweep_interval_ms=1
    )

    def broken(_: RawRecord) -> None:
        raise RuntimeError("bug")

    worker._plan_record = broken  # type: ignore[method-assign,assignment]
    await worker.process([record(approved(), offset=9)])

    (dead,) = sender.sent
    assert (dead.kind, dead.value) == (OutputKind.DLQ, approved())
    assert header(dead, headers.ERROR) == PROCESSING_ERROR
    assert worker.stats.dead_letters == 1


@pytest.mark.asyncio
async def test_corrupt_table_values_are_ignored() -> None:
    key = f"sandbox:{parse(approved()).dedup_key}".encode()
    seen = {key: b"garbage"}
    states = {b"sandbox:235879": b'{"v": 99}'}
    sender = Sender()
    worker = SingleAttemptProcessor(
        CONFIG, MemoryTable(seen), MemoryTable(states), sender, sweep_interval_ms=10**9
    )

    await worker.handle(record(approved()))

    assert len(sender.sent) == 2
    assert worker.stats.corrupt_values == 2
    assert codec.decode_seen(seen[key]).deliveries == 1


# ------------------------------------------------------------ processor batches


class CountingTable(MemoryTable):
    """A MemoryTable that records each durable write call, and can fail some."""

    def __init__(self, log: list[str], name: str, failures: int = 0) -> None:
        super().__init__()
        self.log = log
        self.name = name
        self.failures = failures
        self.writes: list[Write] = []

    async def write(self, writes: Sequence[Write]) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.log.append(f"{self.name} failed")
            raise ConnectionError("down")
        self.log.append(self.name)
        self.writes.extend(writes)
        await super().write(writes)


class LoggingSender(Sender):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        self.log.append("outputs")
        await super().send(outputs, partition)


@pytest.mark.asyncio
async def test_a_batch_gives_the_outputs_of_its_records_one_by_one() -> None:
    records, _ = shuffled_deliveries(seed=11, transactions=60)
    expected, _, expected_states = replay(records, CONFIG)
    log: list[str] = []
    seen, states = CountingTable(log, "seen"), CountingTable(log, "states")
    sender = LoggingSender(log)
    worker = SingleAttemptProcessor(CONFIG, seen, states, sender, sweep_interval_ms=10**9)

    for start in range(0, len(records), 50):
        await worker.process(records[start : start + 50])

    assert sender.sent == expected
    kept = {
        k.decode(): codec.decode_state(v) for k, v in states.data.items() if not k.startswith(b"*:")
    }
    assert kept == expected_states
    # One durable write per table per batch, each key once (the last value).
    batches = -(-len(records) // 50)
    assert log == ["outputs", "states", "seen"] * batches
    assert len(states.writes) < sum(1 for r in records if r.key)  # coalesced


@pytest.mark.asyncio
async def test_a_failing_step_is_retried_alone_and_the_next_waits_for_it() -> None:
    log: list[str] = []
    seen, states = CountingTable(log, "seen"), CountingTable(log, "states", failures=2)
    sender = LoggingSender(log)
    worker = SingleAttemptProcessor(
        CONFIG, seen, states, sender, sweep_interval_ms=10**9, retry_backoff_s=0
    )

    await worker.process([record(approved())])

    assert log == ["outputs", "states failed", "states failed", "states", "seen"]
    assert [o.kind for o in sender.sent] == [OutputKind.EVENT, OutputKind.STATUS]


@pytest.mark.asyncio
async def test_staged_writes_reach_no_table_before_the_outputs_are_sent() -> None:
    log: list[str] = []
    seen, states = CountingTable(log, "seen"), CountingTable(log, "states")
    worker = SingleAttemptProcessor(CONFIG, seen, states, Sender(), sweep_interval_ms=10**9)

    batch = worker.plan_batch([record(approved()), record(approved(), offset=1)])

    assert (seen.data, states.data, log) == ({}, {}, [])
    assert [len(outputs) for outputs in batch.outputs.values()] == [2]  # the second: a duplicate
    assert worker.stats.duplicates == 1


@pytest.mark.asyncio
async def test_writes_carry_the_partition_of_the_record_that_made_them() -> None:
    log: list[str] = []
    seen, states = CountingTable(log, "seen"), CountingTable(log, "states")
    worker = SingleAttemptProcessor(CONFIG, seen, states, Sender(), sweep_interval_ms=10**9)
    other = with_changes(approved(), id=999)

    await worker.process([record(approved(), partition=3), record(other, partition=5, offset=7)])

    assert sorted(w.partition for w in seen.writes) == [3, 5]
    # The repeat changes no state; the first state of the transaction is indexed.
    assert [(w.partition, w.key) for w in states.writes] == [
        (3, b"sandbox:235879"),
        (3, b"*:235879"),
    ]


# ------------------------------------------------------------------------ stale deliveries


def stale_pair(config: PipelineConfig) -> list[Output]:
    """The fixture (approved at 11:48:10.408Z), then an older pending delivery of it."""
    newer = delivery(approved())
    first = plan(newer, None, None, config)
    older_entity = {
        **orjson.loads(approved())["entity"],
        "status": "pending",
        "updated_at": "2024-02-19T11:47:50.000Z",
    }
    older = delivery(with_changes(approved(), name="transaction.updated", entity=older_entity))
    second = plan(older, None, first.state, config)
    assert second.outcome is Outcome.STALE
    return list(second.outputs)


def test_a_stale_delivery_is_not_an_anomaly_by_default() -> None:
    outputs = stale_pair(CONFIG)

    assert [o.kind for o in outputs] == [OutputKind.EVENT]


def test_a_stale_delivery_is_reported_when_configured() -> None:
    config = PipelineConfig(topics=TOPICS, dedup_window_ms=72 * 3600 * 1000, report_stale=True)

    outputs = stale_pair(config)

    [anomaly] = [o for o in outputs if o.kind is OutputKind.ANOMALY]
    validate(anomaly)
    assert (anomaly.topic, anomaly.key) == ("t.anomalies", b"sandbox:235879")
    document = orjson.loads(anomaly.value)
    assert {k: document[k] for k in ("kind", "from_status", "to_status", "applied")} == {
        "kind": "stale_delivery",
        "from_status": "approved",
        "to_status": "pending",
        "applied": False,
    }
    assert (document["from_updated_at"], document["to_updated_at"]) == (
        "2024-02-19T11:48:10.408Z",
        "2024-02-19T11:47:50.000Z",
    )
    assert header(anomaly, headers.DEDUP_KEY) == document["dedup_key"]
    assert not any(o.kind is OutputKind.STATUS for o in outputs)
