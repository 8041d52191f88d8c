"""The shipped Grafana dashboard and alerting rules against a real Prometheus.

A real ingress and two real workers (processes on loopback, on the real broker) get webhook
traffic: signed events (each transaction with an illegal transition), redeliveries, bad
signatures and signed bodies that are no event (DLQ). A real Prometheus scrapes the ingress's
and each worker's ``/metrics`` every second with the labels a ServiceMonitor gives
(``namespace``, ``pod``) and loads the chart's rule file. Then every query of every dashboard
panel, with the dashboard's variables substituted, must return at least one finite value, the
namespace variable must list the namespace, and the rules must load and the DLQ and anomaly
alerts fire.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest

from ingress.signature import sign
from simulator.lifecycle import generate
from tests.observability import catalog
from tests.observability.prometheus import Prometheus, Target, finite_values, running_prometheus
from tests.reliability.deployment import Deployment
from tests.reliability.procs import BridgeProcess

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.slow,
    pytest.mark.prometheus,
    pytest.mark.asyncio,
    pytest.mark.timeout(300),
]

NAMESPACE = "obs"
#: $__rate_interval as Grafana would give it here: over the whole traffic (1 s scrapes).
RATE_INTERVAL = "2m"
#: Transactions of the traffic, each with an illegal (newer but not allowed) transition: 69
#: events, 12 of them anomalies.
TRANSACTIONS = 12
EVENTS = len(generate(TRANSACTIONS, 0, seed=14, illegal=1.0).events)
REDELIVERED = 15
BAD_SIGNATURES = 6
NOT_EVENTS = 2
#: Seconds the traffic is spread over, so that rates see several scrapes.
SPREAD_S = 8.0


@contextmanager
def started(workers: list[BridgeProcess]) -> Iterator[None]:
    with ExitStack() as stack:
        for worker in workers:
            worker.start()
            stack.callback(worker.stop)
        yield


def targets(deployment: Deployment, workers: list[BridgeProcess]) -> list[Target]:
    found = [Target("ingress", f"127.0.0.1:{deployment.ingress_port}", _labels("ingress-0"))]
    for i, worker in enumerate(workers):
        port = worker.settings["FEDAPAY_BRIDGE_WEB_PORT"]
        found.append(Target("worker", f"127.0.0.1:{port}", _labels(f"worker-{i}")))
    return found


def _labels(pod: str) -> dict[str, str]:
    return {"namespace": NAMESPACE, "pod": pod}


async def test_every_dashboard_query_returns_data(kafka_bootstrap: str, tmp_path: Path) -> None:
    deployment = Deployment(kafka_bootstrap, f"t{uuid4().hex[:10]}", tmp_path)
    deployment.create_topics()
    workers = [deployment.worker(f"w{i}") for i in range(2)]
    with deployment.ingress() as ingress, started(workers):
        await deployment.wait_ingress_ready(ingress)
        for worker in workers:
            await deployment.wait_worker_ready(worker)
        async with running_prometheus(
            tmp_path / "prometheus",
            targets(deployment, workers),
            rule_files=[catalog.RULES],
        ) as prometheus:
            await prometheus.wait_scraped()
            statuses = await _traffic(deployment)
            await deployment.wait_caught_up()
            await asyncio.sleep(4)  # a few scrapes after the workers caught up
            await _check_dashboard(prometheus)
            await _check_rules(prometheus)
    await deployment.delete_topics()
    assert statuses == {"200": EVENTS + REDELIVERED + NOT_EVENTS, "401": BAD_SIGNATURES}


async def _traffic(deployment: Deployment) -> dict[str, int]:
    events = [event.body for event in generate(TRANSACTIONS, 0, seed=14, illegal=1.0).events]
    signed = [(body, sign(body, deployment.secret)) for body in events]
    posts = [
        *signed,
        *signed[:REDELIVERED],
        *[(body, sign(body, "wh_not_the_secret_00000000")) for body in events[:BAD_SIGNATURES]],
        *[(b'{"not": "an event", "n": %d}' % i, "") for i in range(NOT_EVENTS)],
    ]
    statuses: dict[str, int] = {}
    started_at = time.monotonic()
    async with aiohttp.ClientSession() as session:
        for i, (body, signature) in enumerate(posts):
            await asyncio.sleep(max(0.0, started_at + i * SPREAD_S / len(posts) - time.monotonic()))
            header = signature or sign(body, deployment.secret)
            headers = {"X-FEDAPAY-SIGNATURE": header, "Content-Type": "application/json"}
            async with session.post(deployment.url, data=body, headers=headers) as response:
                await response.read()
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
    return statuses


async def _values(prometheus: Prometheus, expr: str) -> list[float]:
    substituted = catalog.substitute(expr, namespace=NAMESPACE, rate_interval=RATE_INTERVAL)
    return finite_values(await prometheus.query(substituted))


async def _check_dashboard(prometheus: Prometheus) -> None:
    empty = []
    found: dict[tuple[str, str], list[float]] = {}
    for query in catalog.panel_queries():
        values = await _values(prometheus, query.expr)
        found[(query.panel, query.ref)] = values
        if not values:
            empty.append(f"{query.panel} {query.ref}: {query.expr}")
    assert empty == [], "dashboard queries without data:\n" + "\n".join(empty)
    for variable in catalog.variable_queries():
        series = variable.removeprefix("label_values(").split(",")[0]
        assert NAMESPACE in await prometheus.label_values("namespace", series)

    assert found[("Producers ready", "A")] == [1.0] == found[("Producers ready", "B")]
    assert found[("Workers ready", "A")] == [2.0] == found[("Workers ready", "B")]
    (share,) = found[("Error answers (non-2xx) share", "A")]
    expected = BAD_SIGNATURES / (EVENTS + REDELIVERED + BAD_SIGNATURES + NOT_EVENTS)
    assert share == pytest.approx(expected, rel=0.05)
    (duplicates,) = found[("Duplicate share", "A")]
    assert duplicates > 0
    assert max(found[("Webhook requests by outcome", "A")]) > 0
    assert min(found[("Consumer lag", "A")]) == 0


async def _check_rules(prometheus: Prometheus) -> None:
    groups = await prometheus.rule_groups()
    rules = [rule for group in groups for rule in group["rules"]]
    assert {rule["name"] for rule in rules} == set(catalog.alert_names())
    assert {rule["health"] for rule in rules} == {"ok"}, rules
    deadline = time.monotonic() + 15
    while True:
        firing = {
            alert["labels"]["alertname"]
            for alert in await prometheus.alerts()
            if alert["state"] == "firing" and alert["labels"].get("namespace") == NAMESPACE
        }
        if firing >= {"FedapayDeadLetters", "FedapayAnomalies"} or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert firing == {"FedapayDeadLetters", "FedapayAnomalies"}
