"""The ingress gets SIGTERM while many webhooks are in flight.

The ingress's shutdown (:mod:`ingress.server`) closes the listening socket, drains the
connections already open (what their clients send is still read and answered, with
``Connection: close``), then lets aiohttp finish the requests being handled (their publishes
included) and stops the producer. Checked: requests in flight at the signal are answered (200
once acknowledged, or 503), later ones are answered or fail cleanly (refused or disconnected,
so FedaPay retries), no 5xx other than 503, and every acknowledged body is in
``fedapay.raw``; the process exits 0 without a traceback. The figures record how many
requests were cut off (disconnected without an answer): the drain exists to make that 0.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from uuid import uuid4

import aiohttp
import pytest

from ingress.signature import sign
from simulator.lifecycle import generate
from tests.kafka_io import create_topics
from tests.reliability import results
from tests.reliability.deployment import Deployment
from tests.reliability.outputs import collect

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(120)]

CLIENTS = 24
SIGTERM_AFTER_S = 1.5
#: What a client may see once the ingress stops listening: FedaPay retries these.
REFUSED = {"ClientConnectorError"}
CUT_OFF = {"ServerDisconnectedError", "ClientOSError"}
CLEAN_FAILURES = REFUSED | CUT_OFF


@dataclass(frozen=True)
class Attempt:
    body: bytes
    started: float
    ended: float
    outcome: str  # the status code, or the exception's class name


async def test_sigterm_during_load_loses_nothing_acknowledged(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    deployment = Deployment(kafka_bootstrap, f"t{uuid4().hex[:10]}", tmp_path)
    topics = deployment.topics
    await create_topics(kafka_bootstrap, [topics.raw, topics.dlq])
    bodies = [event.body for event in generate(300, 0, seed=41).events]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    attempts: list[Attempt] = []
    # Linger keeps every publish in flight for a while, so the signal finds many.
    with deployment.ingress(PRODUCER_LINGER_MS="150", PUBLISH_TIMEOUT_SECONDS="5") as ingress:
        await deployment.wait_ingress_ready(ingress)
        connector = aiohttp.TCPConnector(limit=CLIENTS)
        async with aiohttp.ClientSession(connector=connector) as session:
            clients = [
                asyncio.create_task(_client(session, deployment, queue, attempts))
                for _ in range(CLIENTS)
            ]
            await asyncio.sleep(SIGTERM_AFTER_S)
            signalled = time.monotonic()
            ingress.send(signal.SIGTERM)
            exit_code = await asyncio.to_thread(ingress.wait, 30.0)
            stopped = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*clients), 30)
        log = ingress.log_text()

    acknowledged = {a.body for a in attempts if a.outcome == "200"}
    raw = await collect(
        kafka_bootstrap,
        [topics.raw],
        done=lambda records: {r.value for r in records} >= acknowledged,
        within=30,
        settle=1.0,
    )
    in_raw = {record.value for record in raw}
    in_flight = [a for a in attempts if a.started < signalled < a.ended]
    outcomes = Counter(a.outcome for a in attempts)
    results.record(
        "ingress_sigterm",
        {
            "requests": len(attempts),
            "acknowledged": len(acknowledged),
            "lost": len(acknowledged - in_raw),
            "outcomes": dict(outcomes),
            "cut_off": sum(outcomes[name] for name in CUT_OFF),
            "in_flight_at_sigterm": len(in_flight),
            "in_flight_outcomes": dict(Counter(a.outcome for a in in_flight)),
            "shutdown_seconds": round(stopped - signalled, 2),
            "exit_code": exit_code,
        },
    )
    assert exit_code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert acknowledged <= in_raw, f"{len(acknowledged - in_raw)} acknowledged bodies lost"
    assert set(outcomes) <= {"200", "503", *CLEAN_FAILURES}, outcomes
    assert in_flight, "the signal found no request in flight; the test proves nothing"
    assert any(a.outcome == "200" for a in in_flight), "in-flight requests were not finished"
    assert {a.outcome for a in in_flight} <= {"200", "503"}, "an in-flight request was cut off"


async def _client(
    session: aiohttp.ClientSession,
    deployment: Deployment,
    queue: asyncio.Queue[bytes],
    attempts: list[Attempt],
) -> None:
    """Post bodies until the ingress refuses connections (it stopped listening)."""
    while not queue.empty():
        body = queue.get_nowait()
        headers = {"X-FEDAPAY-SIGNATURE": sign(body, deployment.secret)}
        started = time.monotonic()
        try:
            async with session.post(deployment.url, data=body, headers=headers) as response:
                await response.read()
                outcome = str(response.status)
        except aiohttp.ClientError as exc:
            outcome = type(exc).__name__
        attempts.append(Attempt(body, started, time.monotonic(), outcome))
        if outcome == "ClientConnectorError":
            return
