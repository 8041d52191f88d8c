"""simulator.delivery: the delivery plan (duplicates, reordering) and honest delivery (loopback
only, retries, deadline, rate, report)."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from schemas.envelope import parse
from simulator.delivery import (
    DeliveryPlan,
    DeliveryReport,
    RetryPolicy,
    TargetNotAllowed,
    check_target,
    deliver,
    plan,
)
from simulator.lifecycle import Scenario, generate
from tests.unit.simulator.receiver import SECRET, Receiver, free_port

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
