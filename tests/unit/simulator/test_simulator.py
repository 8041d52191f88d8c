"""The simulator: realistic bodies, legal lifecycles, a truth that holds, honest delivery."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import socket
import threading
import zlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from ingress.signature import SignatureError, sign, verify_signature
from schemas.envelope import parse
from simulator import cli, payloads
from simulator.delivery import (
    DeliveryPlan,
    DeliveryReport,
    RetryPolicy,
    TargetNotAllowed,
    check_target,
    deliver,
    plan,
)
from simulator.lifecycle import Event, Scenario, compute_truth, generate

SECRET = "wh_sandbox_test_secret"

# Written from the shared notes on FedaPay, independently of simulator.lifecycle.
LEGAL = {
    ("pending", "approved"),
    ("pending", "declined"),
    ("pending", "canceled"),
    ("pending", "expired"),
    ("declined", "approved"),
    ("canceled", "approved"),
    ("approved", "transferred"),
    ("approved", "refunded"),
    ("approved", "approved_partially_refunded"),
    ("transferred", "refunded"),
    ("transferred", "transferred_partially_refunded"),
}
NAMED = {
    "approved": "transaction.approved",
    "declined": "transaction.declined",
    "canceled": "transaction.canceled",
    "expired": "transaction.expired",
    "transferred": "transaction.transferred",
    "refunded": "transaction.refunded",
    "approved_partially_refunded": "transaction.refunded",
    "transferred_partially_refunded": "transaction.refunded",
}

# Key order of the real sandbox delivery (shared fixture transaction.approved.json).
FIXTURE_ENTITY_KEYS = (
    "klass", "id", "reference", "amount", "description", "callback_url", "status", "customer_id",
    "currency_id", "mode", "operation", "metadata", "commission", "fees", "fixed_commission",
    "amount_transferred", "created_at", "updated_at", "approved_at", "canceled_at", "declined_at",
    "refunded_at", "transferred_at", "deleted_at", "last_error_code", "custom_metadata",
    "amount_debited", "receipt_url", "payment_method_id", "sub_accounts_commissions",
    "transaction_key", "merchant_reference", "account_id", "balance_id", "customer", "currency",
    "payment_method", "balance", "refunds"
)  # fmt: skip
FIXTURE_CUSTOMER_KEYS = (
    "klass", "id", "firstname", "lastname", "full_name", "email", "account_id", "phone_number_id",
    "created_at", "updated_at", "deleted_at"
)  # fmt: skip
FIXTURE_ACCOUNT_KEYS = (
    "klass", "id", "name", "timezone", "country", "created_at", "updated_at", "verified",
    "reference", "business_type", "business_identity_type", "business_identity_number",
    "business_vat_number", "business_registration_number", "business_category", "blocked",
    "business_website", "business_address", "business_name", "business_phone", "business_email",
    "business_owner", "business_company_capital", "business_description", "submitted",
    "reject_reason", "has_balance_issue", "last_balance_issue_checked_at", "prospect_code",
    "deal_closer_code", "manager_code", "business_identity_id", "business_vat_id",
    "business_registration_id", "business_owner_signature_id", "business_identity", "business_vat",
    "business_registration", "business_owner_signature", "user_accounts", "users", "api_keys",
    "balances", "bank_accounts", "mobile_accounts", "card_accounts", "currencies"
)  # fmt: skip
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return generate(400, 30, seed=7, illegal=0.1)


def transaction_events(scenario: Scenario) -> dict[str, list[Event]]:
    by_id: dict[str, list[Event]] = defaultdict(list)
    for event in scenario.events:
        if event.object == "transaction":
            by_id[event.entity_id].append(event)
    return by_id


def reachable(source: str) -> set[str]:
    seen: set[str] = set()
    frontier = [source]
    while frontier:
        current = frontier.pop()
        for before, after in LEGAL:
            if before == current and after not in seen:
                seen.add(after)
                frontier.append(after)
    return seen


# --------------------------------------------------------------------------- bodies


def test_every_body_parses_and_matches_its_event(scenario: Scenario) -> None:
    for event in scenario.events:
        envelope = parse(event.body)
        entity = envelope.body["entity"]
        assert (envelope.name, envelope.object) == (event.name, event.object)
        assert envelope.entity_id == event.entity_id
        assert envelope.updated_at == event.updated_at
        assert envelope.dedup_key == event.dedup_key
        assert envelope.key == event.key == f"{event.object}:{event.entity_id}"
        assert entity.get("status") == event.status
        assert payloads.parse_iso_ms(event.updated_at) == event.updated_at_ms


def test_transaction_body_has_the_real_shape(scenario: Scenario) -> None:
    event = next(e for e in scenario.events if e.name == "transaction.approved")
    document = orjson.loads(event.body)
    assert list(document) == ["name", "object", "entity", "account"]
    entity, account = document["entity"], document["account"]
    assert tuple(entity) == FIXTURE_ENTITY_KEYS
    assert tuple(entity["customer"]) == FIXTURE_CUSTOMER_KEYS
    assert tuple(account) == FIXTURE_ACCOUNT_KEYS
    assert isinstance(entity["id"], int)
    assert entity["reference"].startswith("trx_")
    assert isinstance(entity["commission"], str)
    assert entity["currency"]["iso"] == "XOF"
    assert entity["mode"] in payloads.OPERATORS
    assert entity["approved_at"] is not None
    assert entity["refunds"] == []
    for user in account["users"]:
        assert user["email"].endswith("@example.com")
    assert all(key["public_key"].startswith("pk_sandbox_") for key in account["api_keys"])
    assert 6_000 <= len(event.body) <= 7_800


def test_customer_body_has_the_real_shape(scenario: Scenario) -> None:
    event = next(e for e in scenario.events if e.name == "customer.created")
    entity = orjson.loads(event.body)["entity"]
    assert tuple(entity) == FIXTURE_CUSTOMER_KEYS
    assert entity["email"] is None or entity["email"].endswith("@example.com")
    assert event.status is None


def test_timestamps_are_iso_utc_with_milliseconds(scenario: Scenario) -> None:
    entity = orjson.loads(scenario.events[-1].body)["entity"]
    stamps = [v for k, v in entity.items() if k.endswith("_at") and v is not None]
    assert stamps
    assert all(ISO_MS.match(stamp) for stamp in stamps)
    assert payloads.iso_ms(1_708_343_290_408) == "2024-02-19T11:48:10.408Z"


def test_bodies_are_escaped_like_fedapay(scenario: Scenario) -> None:
    body = next(e for e in scenario.events if e.object == "transaction").body
    assert b"\\u0026" in body  # the callback_url has an "&"
    assert b"&" not in body
    assert b"<" not in body
    assert b">" not in body
    assert payloads.dumps(orjson.loads(body)) == body  # compact, nothing else changed
    reserialized = orjson.dumps(orjson.loads(body))
    assert reserialized != body
    header = sign(body, SECRET)
    assert verify_signature(body, header, [SECRET]) > 0
    with pytest.raises(SignatureError):
        verify_signature(reserialized, header, [SECRET])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a&b", b'"a\\u0026b"'),
        ("<x>", b'"\\u003cx\\u003e"'),
        ("Aïcha", '"Aïcha"'.encode()),
        ("\u2028", b'"\\u2028"'),
    ],
)
def test_dumps_escapes_html_characters(text: str, expected: bytes) -> None:
    assert payloads.dumps(text) == expected
    assert orjson.loads(payloads.dumps(text)) == text


# ------------------------------------------------------------------------ lifecycles


def test_lifecycles_are_legal_except_the_injected_transitions(scenario: Scenario) -> None:
    for events in transaction_events(scenario).values():
        assert events[0].name == "transaction.created"
        assert events[0].status == "pending"
        status = "pending"
        for event in events[1:]:
            assert event.status is not None
            if event.status == status:
                continue
            if event.illegal:
                assert event.status not in reachable(status)
            else:
                assert (status, event.status) in LEGAL
            status = event.status


def test_every_status_change_has_its_named_event_and_a_twin(scenario: Scenario) -> None:
    for events in transaction_events(scenario).values():
        by_time: dict[int, list[Event]] = defaultdict(list)
        for event in events:
            by_time[event.updated_at_ms].append(event)
        status = "pending"
        for stamp in sorted(by_time):
            group = by_time[stamp]
            names = sorted(e.name for e in group)
            changed = group[0].status != status
            if group[0].name == "transaction.created":
                assert names == ["transaction.created"]
            elif changed and not group[0].illegal:
                assert group[0].status is not None
                assert names == sorted([NAMED[group[0].status], "transaction.updated"])
                assert group[0].entity_json == group[1].entity_json
                assert group[0].body != group[1].body
            else:  # metadata update or injected transition: transaction.updated only
                assert names == ["transaction.updated"]
            status = group[0].status or status


def test_updated_at_strictly_increases_within_an_entity(scenario: Scenario) -> None:
    last: dict[str, tuple[int, str]] = {}
    for event in scenario.events:
        previous = last.get(event.key)
        if previous is not None:
            stamp, name = previous
            assert event.updated_at_ms > stamp or (
                event.updated_at_ms == stamp and event.name == "transaction.updated" != name
            )
        last[event.key] = (event.updated_at_ms, event.name)


def test_metadata_updates_exist_without_status_change(scenario: Scenario) -> None:
    touched = 0
    for events in transaction_events(scenario).values():
        for before, after in itertools.pairwise(events):
            if after.name == "transaction.updated" and after.status == before.status:
                touched += after.updated_at_ms > before.updated_at_ms
    assert touched > 0


def test_truth_final_status_is_the_status_at_the_newest_updated_at(scenario: Scenario) -> None:
    newest: dict[str, tuple[str, str]] = {}
    for event in scenario.events:
        entity = orjson.loads(event.body)["entity"]
        if event.object != "transaction":
            continue
        key = str(entity["id"])
        if key not in newest or entity["updated_at"] > newest[key][0]:
            newest[key] = (entity["updated_at"], entity["status"])
    assert scenario.truth.final_status == {key: status for key, (_, status) in newest.items()}
    assert len(scenario.truth.final_status) == 400


def test_truth_counts(scenario: Scenario) -> None:
    truth = scenario.truth
    assert truth.events_per_name == dict(Counter(e.name for e in scenario.events))
    assert truth.dedup_keys == {e.dedup_key for e in scenario.events}
    assert len(truth.dedup_keys) == len(scenario.events)
    assert truth.events_per_name["transaction.created"] == 400
    assert truth.events_per_name["customer.created"] == 30
    assert truth.entered_status["pending"] >= 400
    assert truth.to_dict()["distinct_events"] == len(scenario.events)


def test_illegal_fraction_is_exact_and_one_per_transaction(scenario: Scenario) -> None:
    injected = [e for e in scenario.events if e.illegal]
    assert len(injected) == scenario.truth.illegal_total == 40
    assert all(e.name == "transaction.updated" for e in injected)
    assert scenario.truth.illegal_per_transaction == {e.entity_id: 1 for e in injected}
    for event in injected:  # the injected transition is the transaction's last word
        assert scenario.truth.final_status[event.entity_id] == event.status


def test_truth_ignores_repeated_events(scenario: Scenario) -> None:
    repeated = compute_truth([*scenario.events, *scenario.events[::3]])
    assert repeated == scenario.truth


def test_same_seed_same_bodies() -> None:
    first, again, other = generate(20, 3, seed=5), generate(20, 3, seed=5), generate(20, 3, seed=6)
    assert [e.body for e in first.events] == [e.body for e in again.events]
    assert [e.body for e in first.events] != [e.body for e in other.events]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transactions": -1}, "transactions"),
        ({"transactions": 1, "illegal": 1.5}, "illegal"),
        ({"transactions": 1, "customers": -2}, "customers"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)


# --------------------------------------------------------------------------- planning


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3, 1.0])
def test_duplicates_rate_is_honoured(scenario: Scenario, rate: float) -> None:
    deliveries = plan(scenario.events, duplicates=rate, seed=3)
    copies = Counter(d.event.dedup_key for d in deliveries.deliveries)
    assert set(copies) == scenario.truth.dedup_keys
    duplicated = sum(1 for n in copies.values() if n >= 2)
    assert duplicated == deliveries.duplicated_events
    assert abs(duplicated - rate * len(scenario.events)) <= 1
    assert max(copies.values()) <= 3
    assert len(deliveries) == len(scenario.events) + deliveries.extra_copies


def test_duplicates_follow_their_original(scenario: Scenario) -> None:
    deliveries = plan(scenario.events, duplicates=0.5, seed=3).deliveries
    first: dict[str, int] = {}
    for position, delivery in enumerate(deliveries):
        key = delivery.event.dedup_key
        if delivery.copy == 0:
            first[key] = position
        else:
            assert key in first


@pytest.mark.parametrize("window", [1, 5, 40])
def test_reorder_window_bounds_displacement(scenario: Scenario, window: int) -> None:
    deliveries = plan(scenario.events, reorder_window=window, seed=11).deliveries
    position = {e.dedup_key: i for i, e in enumerate(scenario.events)}
    moves = [abs(position[d.event.dedup_key] - i) for i, d in enumerate(deliveries)]
    assert max(moves) < window
    assert window == 1 or max(moves) > 0


def test_shuffle_keeps_every_delivery(scenario: Scenario) -> None:
    ordered = plan(scenario.events, duplicates=0.2, seed=4)
    shuffled = plan(scenario.events, duplicates=0.2, shuffle=True, seed=4)
    assert shuffled.deliveries != ordered.deliveries
    assert Counter(shuffled.deliveries) == Counter(ordered.deliveries)


# --------------------------------------------------------------------------- delivery


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8080/webhooks/sandbox", True),
        ("http://127.9.9.9/x", True),
        ("http://localhost:1/x", True),
        ("https://[::1]:8443/x", True),
        ("http://example.com/webhooks/live", False),
        ("http://10.0.0.1/x", False),
        ("http://0.0.0.0:8080/x", False),
        ("ftp://127.0.0.1/x", False),
        ("127.0.0.1:8080", False),
    ],
)
def test_only_loopback_targets(url: str, allowed: bool) -> None:
    if allowed:
        check_target(url)
    else:
        with pytest.raises(TargetNotAllowed):
            check_target(url)


def test_remote_target_needs_explicit_permission() -> None:
    check_target("http://example.com/x", allow_remote=True)


@pytest.mark.asyncio
async def test_deliver_refuses_a_remote_target_before_sending() -> None:
    with pytest.raises(TargetNotAllowed):
        await deliver(DeliveryPlan(()), "http://example.com/webhooks/live", SECRET)


class Receiver:
    """A webhook endpoint that verifies, and answers 503 to the first try of some bodies."""

    def __init__(self, flaky_every: int = 0) -> None:
        self.flaky_every = flaky_every
        self.seen: Counter[bytes] = Counter()
        self.accepted: list[bytes] = []
        self.signature_t: list[int] = []
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert request.headers["Content-Type"] == "application/json"
        try:
            self.signature_t.append(
                verify_signature(body, request.headers.get("x-fedapay-signature"), [SECRET])
            )
        except SignatureError:
            self.rejected += 1
            return web.json_response({"error": "invalid_signature"}, status=401)
        self.seen[body] += 1
        if self.flaky_every and self.seen[body] == 1 and zlib.crc32(body) % self.flaky_every == 0:
            return web.json_response({"error": "unavailable"}, status=503)
        self.accepted.append(body)
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/{endpoint}", self.handle)
        return app


@pytest_asyncio.fixture
async def flaky() -> AsyncIterator[tuple[Receiver, str]]:
    receiver = Receiver(flaky_every=3)
    async with TestServer(receiver.app(), host="127.0.0.1") as server:
        yield receiver, str(server.make_url("/webhooks/sandbox"))


@pytest.mark.asyncio
async def test_delivery_retries_until_every_delivery_got_a_2xx(
    flaky: tuple[Receiver, str],
) -> None:
    receiver, url = flaky
    small = generate(40, 5, seed=2, illegal=0.1)
    deliveries = plan(small.events, duplicates=0.3, reorder_window=8, seed=2)
    report = await deliver(deliveries, url, SECRET, concurrency=8, retry=RetryPolicy(backoff=0.01))
    failed_first = sum(1 for body in receiver.seen if zlib.crc32(body) % 3 == 0)
    assert failed_first > 0
    assert report.ok
    assert report.deliveries == report.sent == len(deliveries)
    assert report.failures == report.abandoned == 0
    assert report.by_status == {200: len(deliveries), 503: failed_first}
    assert report.attempts == len(deliveries) + failed_first
    assert report.retried == failed_first
    assert len(report.latencies) == report.attempts
    assert receiver.rejected == 0
    assert Counter(receiver.accepted) == Counter(d.event.body for d in deliveries.deliveries)
    assert {parse(body).dedup_key for body in receiver.accepted} == small.truth.dedup_keys


@pytest.mark.asyncio
async def test_rejected_signatures_are_retried_then_reported() -> None:
    receiver = Receiver()
    deliveries = plan(generate(3, seed=1).events)
    async with TestServer(receiver.app(), host="127.0.0.1") as server:
        report = await deliver(
            deliveries,
            str(server.make_url("/webhooks/sandbox")),
            "wh_sandbox_wrong",
            retry=RetryPolicy(max_retries=2, backoff=0.01),
        )
    assert not report.ok
    assert report.failures == len(deliveries) == len(report.failed_keys)
    assert report.by_status == {401: 3 * len(deliveries)}
    assert report.sent == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.asyncio
async def test_connection_errors_are_retried_and_counted() -> None:
    deliveries = plan(generate(2, seed=1).events)
    report = await deliver(
        deliveries,
        f"http://127.0.0.1:{free_port()}/webhooks/sandbox",
        SECRET,
        retry=RetryPolicy(max_retries=2, backoff=0.01),
    )
    assert report.failures == len(deliveries)
    assert report.attempts == 3 * len(deliveries)
    assert sum(report.errors.values()) == report.attempts
    assert report.latencies == []


@pytest.mark.asyncio
async def test_deadline_abandons_unfinished_deliveries() -> None:
    async def unavailable(_: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/webhooks/sandbox", unavailable)
    deliveries = plan(generate(3, seed=1).events)
    async with TestServer(app, host="127.0.0.1") as server:
        report = await deliver(
            deliveries,
            str(server.make_url("/webhooks/sandbox")),
            SECRET,
            retry=RetryPolicy(backoff=5.0),
            deadline=0.5,
        )
    assert report.abandoned == report.failures == len(deliveries)
    assert report.sent == 0
    assert report.elapsed < 5


@pytest.mark.asyncio
async def test_rate_limit_spaces_requests() -> None:
    receiver = Receiver()
    deliveries = plan(generate(3, seed=1).events)  # 3 created + lifecycle events
    async with TestServer(receiver.app(), host="127.0.0.1") as server:
        report = await deliver(
            deliveries, str(server.make_url("/webhooks/x")), SECRET, concurrency=8, rate=50.0
        )
    assert report.ok
    # n attempts at 50/s need at least (n - 1) / 50 s; a lower bound, not a benchmark.
    assert report.elapsed >= (len(deliveries) - 1) / 50 * 0.9


def test_report_percentiles_and_json() -> None:
    report = DeliveryReport(deliveries=4, sent=4, attempts=4, elapsed=2.0)
    report.latencies = [0.004, 0.001, 0.003, 0.002]
    assert report.percentile(50) == 0.002
    assert report.percentile(99) == 0.004
    assert report.percentile(0) == 0.001
    assert report.throughput == 2.0
    assert orjson.loads(orjson.dumps(report.to_dict()))["latency_s"]["p50"] == 0.002
    assert DeliveryReport().percentile(50) is None


# -------------------------------------------------------------------------------- CLI


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fedapay-bridge")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.register(subparsers)
    args = parser.parse_args(["simulate", *argv])
    assert args.run is cli.run
    return args


def test_cli_dump_writes_bodies_and_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = parse_cli(
        "--transactions", "10", "--customers", "2", "--duplicates", "0.5", "--shuffle",
        "--dump", str(tmp_path / "out"), "--json", "--start-ms", "1708343266047",
    )  # fmt: skip
    assert cli.run(args) == 0
    files = sorted((tmp_path / "out").glob("*-*.json"))
    summary = orjson.loads(capsys.readouterr().out)
    assert len(files) == summary["deliveries"] > summary["distinct_events"]
    assert all(parse(path.read_bytes()).name in path.name for path in files)
    truth = orjson.loads((tmp_path / "out" / "truth.json").read_bytes())
    assert len(truth["final_status"]) == 10


@pytest.mark.parametrize(
    "argv",
    [
        ("--duplicates", "1.5"),
        ("--concurrency", "0"),
        ("--shuffle", "--reorder-window", "3"),
        ("--secret", "a", "--secret-file", "b"),
    ],
)
def test_cli_rejects_bad_options(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        parse_cli(*argv)


def test_cli_needs_a_secret_and_a_loopback_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(parse_cli("--transactions", "1"), {}) == 2
    assert "FEDAPAY_BRIDGE_SIMULATOR_SECRET" in capsys.readouterr().err
    assert cli.run(parse_cli("--url", "http://example.com/x", "--secret", "s")) == 2
    assert "non-loopback" in capsys.readouterr().err


@pytest.fixture
def threaded_receiver() -> Iterator[tuple[Receiver, str]]:
    """A receiver on its own loop and thread, for the CLI's own ``asyncio.run``."""
    receiver = Receiver(flaky_every=4)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(receiver.app())
    port = free_port()
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield receiver, f"http://127.0.0.1:{port}/webhooks/sandbox"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_cli_posts_and_reports(
    threaded_receiver: tuple[Receiver, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, url = threaded_receiver
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    args = parse_cli(
        "--url", url, "--secret-file", str(secret_file), "--transactions", "20",
        "--customers", "3", "--duplicates", "0.3", "--reorder-window", "10", "--illegal", "0.1",
        "--backoff", "0.01", "--json",
    )  # fmt: skip
    assert cli.run(args) == 0
    output = orjson.loads(capsys.readouterr().out)
    assert output["delivery"]["sent"] == output["scenario"]["deliveries"] == len(receiver.accepted)
    assert output["delivery"]["failures"] == 0
    assert output["scenario"]["illegal_total"] == 2
    assert receiver.rejected == 0
    assert SECRET not in str(output)


def test_cli_human_summary_with_the_secret_from_the_environment(
    threaded_receiver: tuple[Receiver, str], capsys: pytest.CaptureFixture[str]
) -> None:
    receiver, url = threaded_receiver
    environ = {"FEDAPAY_BRIDGE_SIMULATOR_SECRET": SECRET}
    assert cli.run(parse_cli("--url", url, "--transactions", "5"), environ) == 0
    assert receiver.rejected == 0
    out = capsys.readouterr().out
    assert "5 transactions" in out
    assert "delivered" in out
    assert "p50" in out
