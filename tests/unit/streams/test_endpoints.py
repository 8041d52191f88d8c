"""Live and sandbox are separate accounts: every identity the worker keeps is per endpoint.

FedaPay numbers the transactions and events of each account independently,
so the same transaction id or event id on two endpoints names two different
things: two states, two dedup entries, two sets of metric windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from common.cli import build_parser
from schemas import headers, keys
from schemas.topics import Topics
from streams import aggregates, codec, counters, errors, openapi, query, query_cli
from streams.pipeline import Output, OutputKind, PipelineConfig, RawRecord, read, replay
from streams.processor import Processor
from streams.staging import MemoryTable
from streams.state_machine import Point, TransactionState
from streams.web import QueryService
from streams.window_store import WindowKey, WindowStore
from streams.windows import Resolution

TOPICS = Topics("t")
CONFIG = PipelineConfig(topics=TOPICS, dedup_window_ms=3_600_000)
MINUTE = Resolution("1m", 60_000, 24 * 3_600_000)
T0 = 1_764_331_200_000  # 2025-11-28T12:00:00Z


def body(status: str, updated_at: str, *, tx_id: int = 500, event_id: str | None = None) -> bytes:
    document: dict[str, Any] = {
        "name": f"transaction.{'created' if status == 'pending' else status}",
        "object": "transaction",
        "entity": {
            "id": tx_id,
            "status": status,
            "updated_at": updated_at,
            "amount": 1000,
            "currency": {"iso": "XOF"},
            "mode": "mtn",
        },
    }
    if event_id is not None:
        document["id"] = event_id
    return orjson.dumps(document)


def record(value: bytes, endpoint: str | None, offset: int, partition: int = 0) -> RawRecord:
    pairs: dict[str, str | int] = {headers.RECEIVED_AT_MS: T0 + offset}
    if endpoint is not None:
        pairs[headers.ENDPOINT] = endpoint
    return RawRecord(
        key=b"transaction:500",
        value=value,
        headers=tuple(headers.encode(pairs)),
        partition=partition,
        offset=offset,
        timestamp_ms=T0 + offset,
    )


class Sender:
    def __init__(self) -> None:
        self.sent: list[Output] = []

    async def send(self, outputs: Sequence[Output], partition: int) -> None:
        self.sent.extend(outputs)


def of(outputs: list[Output], kind: OutputKind) -> list[Output]:
    return [o for o in outputs if o.kind is kind]


# ----------------------------------------------------------------- transactions


LIVE_APPROVED = body("approved", "2025-11-28T11:00:05Z")
SANDBOX_PENDING = body("pending", "2025-11-28T11:00:09Z")


@pytest.mark.asyncio
async def test_the_same_transaction_on_two_endpoints_keeps_two_statuses() -> None:
    """A newer sandbox pending for transaction 500 is not live 500 going back from approved."""
    states = MemoryTable()
    sender = Sender()
    worker = Processor(CONFIG, MemoryTable(), states, sender, sweep_interval_ms=10**9)

    await worker.process([record(LIVE_APPROVED, "live", 0), record(SANDBOX_PENDING, "sandbox", 1)])

    assert of(sender.sent, OutputKind.ANOMALY) == []
    statuses = of(sender.sent, OutputKind.STATUS)
    assert [(o.key, orjson.loads(o.value)["status"]) for o in statuses] == [
        (b"live:500", "approved"),
        (b"sandbox:500", "pending"),
    ]
    documents = [orjson.loads(o.value) for o in statuses]
    assert [(d["endpoint"], d["previous_status"]) for d in documents] == [
        ("live", None),
        ("sandbox", None),
    ]
    live = codec.decode_state(states.data[b"live:500"])
    sandbox = codec.decode_state(states.data[b"sandbox:500"])
    assert (live.status, live.endpoint, live.anomalies) == ("approved", "live", 0)
    assert (sandbox.status, sandbox.endpoint, sandbox.anomalies) == ("pending", "sandbox", 0)
    assert codec.decode_endpoints(states.data[b"*:500"]) == ["live", "sandbox"]


def test_anomalies_name_their_endpoint_and_are_keyed_by_it() -> None:
    illegal = body("pending", "2025-11-28T11:00:09Z")
    outputs, _, _ = replay([record(LIVE_APPROVED, "live", 0), record(illegal, "live", 1)], CONFIG)

    (anomaly,) = of(outputs, OutputKind.ANOMALY)
    assert anomaly.key == b"live:500"
    assert orjson.loads(anomaly.value)["endpoint"] == "live"


def test_a_state_keyed_by_the_bare_id_is_read_as_no_endpoints() -> None:
    """A state written before keys were qualified (version 1, key ``500``) is never read."""
    old = (
        b'{"v":1,"id":"500","history":[[1764327605000,"approved","2025-11-28T11:00:05Z",false]],'
        b'"event":"transaction.approved","dedup_key":"k"}'
    )
    states = MemoryTable({b"500": old})
    sender = Sender()
    worker = Processor(CONFIG, MemoryTable(), states, sender, sweep_interval_ms=10**9)

    batch = worker.plan_batch([record(SANDBOX_PENDING, "live", 0)])

    (_event, status) = batch.outputs[0]  # no anomaly: approved -> pending is not seen
    assert (status.key, orjson.loads(status.value)["previous_status"]) == (b"live:500", None)
    with pytest.raises(codec.CorruptValue):
        codec.decode_state(old)  # not even under a qualified key


# ------------------------------------------------------------------------ dedup


@pytest.mark.asyncio
async def test_the_same_event_id_on_two_endpoints_is_not_a_duplicate() -> None:
    seen = MemoryTable()
    sender = Sender()
    worker = Processor(CONFIG, seen, MemoryTable(), sender, sweep_interval_ms=10**9)
    live = body("approved", "2025-11-28T11:00:05Z", event_id="evt_77")
    sandbox = body("approved", "2025-11-28T11:00:05Z", event_id="evt_77", tx_id=501)

    await worker.process(
        [
            record(live, "live", 0),
            record(sandbox, "sandbox", 1),
            record(sandbox, "sandbox", 2),  # a real repeat, on its own endpoint
        ]
    )

    events = of(sender.sent, OutputKind.EVENT)
    assert [orjson.loads(o.value)["endpoint"] for o in events] == ["live", "sandbox"]
    assert worker.stats.duplicates == 1
    assert sorted(seen.data) == [b"live:evt_77", b"sandbox:evt_77"]


def test_a_record_without_the_endpoint_header_has_its_own_namespace() -> None:
    outputs, seen, states = replay(
        [record(LIVE_APPROVED, "live", 0), record(LIVE_APPROVED, None, 1)], CONFIG
    )

    statuses = of(outputs, OutputKind.STATUS)
    assert [o.key for o in statuses] == [b"live:500", b"-:500"]
    assert orjson.loads(statuses[1].value)["endpoint"] is None
    assert "endpoint" not in dict(of(outputs, OutputKind.EVENT)[1].headers)
    assert sorted(states) == ["-:500", "live:500"]
    assert len(seen) == 2


@pytest.mark.parametrize("value", ["live:x", "LIVE", "", "a|b", "-", "*"])
def test_an_endpoint_header_that_is_not_a_name_goes_to_the_dlq(value: str) -> None:
    raw = RawRecord(
        key=b"transaction:500",
        value=LIVE_APPROVED,
        headers=tuple(headers.encode({headers.ENDPOINT: value})),
        partition=0,
        offset=0,
        timestamp_ms=T0,
    )

    dead = read(raw, TOPICS)

    assert isinstance(dead, Output)
    assert dead.kind is OutputKind.DLQ
    assert headers.decode(dead.headers)[headers.ERROR] == keys.INVALID_ENDPOINT


def test_qualified_keys_split_back_unambiguously() -> None:
    key = keys.qualified("live", "transaction.updated:transaction:5:2025-11-28T11:00:05Z")
    assert keys.split(key) == ("live", "transaction.updated:transaction:5:2025-11-28T11:00:05Z")
    assert keys.split("500") is None
    assert keys.split("*:500") is None
    with pytest.raises(keys.InvalidEndpoint):
        keys.qualified("a:b", "c")


# ---------------------------------------------------------------------- metrics


@pytest.mark.asyncio
async def test_metrics_are_kept_and_read_per_endpoint() -> None:
    table = MemoryTable()
    metrics = WindowStore(table, (MINUTE,))
    worker = Processor(
        CONFIG,
        MemoryTable(),
        MemoryTable(),
        Sender(),
        sweep_interval_ms=10**9,
        window_store=metrics,
        clock_ms=lambda: T0 + 10,
    )
    live = body("approved", "2025-11-28T11:00:05Z", event_id="evt_1")
    sandbox = body("approved", "2025-11-28T11:00:05Z", event_id="evt_1")

    await worker.process(
        [record(live, "live", 0), record(sandbox, "sandbox", 1), record(sandbox, "sandbox", 2)]
    )

    def reading(endpoint: str | None) -> dict[str, Any]:
        windows = metrics.windows([0], MINUTE, T0, T0 + 60_000, endpoint)
        return counters.summarize(aggregates.merge_all(windows.values()))

    live_only, sandbox_only, every = reading("live"), reading("sandbox"), reading(None)
    assert (live_only["deliveries"], live_only["duplicates_total"]) == (1, 0)
    assert (sandbox_only["deliveries"], sandbox_only["duplicates_total"]) == (2, 1)
    assert live_only["entered_status"] == sandbox_only["entered_status"] == {"approved": 1}
    assert (every["deliveries"], every["entered_status"]) == (3, {"approved": 2})
    assert reading("other")["deliveries"] == 0
    found = sorted(
        (w.partition, w.endpoint) for w in map(WindowKey.decode, table.data) if w is not None
    )
    assert found == [(0, "live"), (0, "sandbox")]


def test_windows_written_before_endpoints_count_for_all_endpoints_only() -> None:
    start = MINUTE.start(T0)
    legacy = WindowKey(0, "1m", start, None).encode()
    assert legacy == f"0|1m|{start}".encode()
    table = MemoryTable({legacy: aggregates.encode({"deliveries": 4})})
    metrics = WindowStore(table, (MINUTE,))

    assert metrics.windows([0], MINUTE, T0, T0 + 60_000) == {start: {"deliveries": 4}}
    assert metrics.windows([0], MINUTE, T0, T0 + 60_000, "live") == {}
    assert metrics.sweep(0, T0 + 48 * 3_600_000) == 1  # retired by retention


# ---------------------------------------------------------------- transaction API


class Service(QueryService):
    """The query service's local lookups over a plain states table (no Faust app)."""

    def __init__(self, states: MemoryTable) -> None:
        self.states = states
        self.ready = lambda: True


@pytest.mark.parametrize(
    ("endpoint", "tx_id", "found"),
    [
        (None, "500", ["live", "sandbox"]),  # 409: choose one
        ("live", "500", "approved"),
        ("sandbox", "500", "pending"),
        ("other", "500", None),  # 404
        (None, "501", "pending"),  # only one endpoint: no need to choose
        ("live", "501", None),
        (None, "502", None),
    ],
)
def test_a_transaction_is_looked_up_on_its_endpoint(
    endpoint: str | None, tx_id: str, found: object
) -> None:
    _, _, states = replay(
        [
            record(LIVE_APPROVED, "live", 0),
            record(SANDBOX_PENDING, "sandbox", 1),
            record(body("pending", "2025-11-28T11:00:09Z", tx_id=501), "sandbox", 2),
        ],
        CONFIG,
    )
    table = MemoryTable({k.encode(): codec.encode_state(s) for k, s in states.items()})
    table.data[b"*:500"] = codec.encode_endpoints(["sandbox", "live"])
    table.data[b"*:501"] = codec.encode_endpoints(["sandbox"])

    answer = Service(table).local_transaction(tx_id, endpoint)

    if isinstance(found, str):
        assert isinstance(answer, dict)
        assert (answer["transaction_id"], answer["status"]) == (tx_id, found)
        assert answer["endpoint"] == (endpoint or "sandbox")
    else:
        assert answer == found


# ------------------------------------------------------------- query parameters


def test_metric_queries_take_an_endpoint() -> None:
    params = {"from": str(T0), "to": str(T0 + 60_000)}

    assert query.parse_range(params, (MINUTE,)).endpoint is None
    chosen = query.parse_range({**params, "endpoint": "sandbox"}, (MINUTE,))
    assert chosen.endpoint == "sandbox"
    assert query.range_document(chosen, {})["endpoint"] == "sandbox"
    summary, _ = query.parse_summary({"endpoint": "-"}, (MINUTE,), T0)
    assert summary.endpoint == "-"
    for bad in ("Live", "live:x", "", "*"):
        with pytest.raises(errors.BadQuery):
            query.parse_range({**params, "endpoint": bad}, (MINUTE,))


def test_openapi_documents_the_endpoint_and_the_409() -> None:
    paths = openapi.document((MINUTE,))["paths"]
    for path in ("/query/range", "/query/summary", "/transactions/{id}", "/internal/windows"):
        names = [p["name"] for p in paths[path]["get"]["parameters"]]
        assert "endpoint" in names, path
    answers = paths["/transactions/{id}"]["get"]["responses"]
    assert answers["409"]["content"]["application/json"]["schema"]["required"] == [
        "error",
        "reason",
        "endpoints",
    ]


def test_the_cli_sends_the_endpoint() -> None:
    parser = build_parser()
    args = parser.parse_args(["query", "transaction", "500", "--endpoint", "live"])
    assert args.endpoint == "live"
    args = parser.parse_args(["query", "summary", "--endpoint", "sandbox", "--currency", "XOF"])
    assert query_cli._params(args) == {"endpoint": "sandbox", "currency": "XOF"}
    document = query.transaction_document(codec.decode_state(codec.encode_state(_state("live"))))
    assert "endpoint          live" in query_cli.render_transaction(document)


def _state(endpoint: str) -> TransactionState:
    point = Point(T0, "approved", "2025-11-28T12:00:00Z")
    return TransactionState("500", (point,), "transaction.approved", "k", endpoint=endpoint)
