"""Slow clients against a real ingress process: memory stays bounded before any check runs.

300 connections each send the largest request head the ingress admits, without its final
CRLF; 400 connections each send a head and 262,000 of the 262,144 body bytes they announce.
While all of them are held open, signed deliveries must still be accepted (a delivery that
meets every body-read slot taken is refused ``503 overloaded`` with ``Retry-After``, and is
retried as FedaPay retries it), and the ingress's resident memory must stay under the
chart's memory limit. The measured figures (peak RSS,
how long the server held a slow connection) go to ``.cache/reliability/slow_connections.json``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml

from ingress.settings import IngressSettings
from ingress.signature import sign
from tests.fixtures import fixture_bytes
from tests.kafka_io import create_topics
from tests.reliability.deployment import Deployment
from tests.reliability.procs import REPO_ROOT, BridgeProcess
from tests.reliability.results import record

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

SLOW_HEADS = 300
SLOW_BODIES = 400
DELIVERIES = 20
#: How long one delivery is retried after ``503`` answers.
RETRY_FOR_S = 30.0
#: The largest head the ingress admits with its default limits: as many fields as allowed,
#: each as long as allowed.
HEAD_FIELDS = IngressSettings.max_headers
FIELD_BYTES = IngressSettings.max_header_line_bytes
BODY_BYTES = 262_144
BODY_SENT = 262_000
FIXTURE = fixture_bytes("transaction.approved.json")


def chart_memory_limit_kib() -> int:
    values = yaml.safe_load((REPO_ROOT / "helm/fedapay-bridge/values.yaml").read_text())
    limit = values["receiver"]["resources"]["limits"]["memory"]
    assert limit.endswith("Mi"), limit
    return int(limit[:-2]) * 1024


def slow_head(index: int) -> bytes:
    lines = [b"POST /webhooks/sandbox HTTP/1.1", b"Host: 127.0.0.1"]
    for field in range(HEAD_FIELDS - 1):  # Host is one of them
        name = b"X-Slow-%d-%d: " % (index, field)
        lines.append(name + b"v" * (FIELD_BYTES - len(name) - 2))
    return b"\r\n".join(lines) + b"\r\n"  # no final CRLF: the head never ends


def slow_body(index: int) -> bytes:
    head = (
        "POST /webhooks/sandbox HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {BODY_BYTES}\r\nX-FEDAPAY-SIGNATURE: t=1,s={index:064x}\r\n\r\n"
    ).encode()
    return head + b"a" * BODY_SENT


class Held:
    """One slow connection: when it was opened and when the server closed it."""

    def __init__(self) -> None:
        self.sent_at = 0.0
        self.closed_after: float | None = None
        self.answer = b""

    async def hold(self, port: int, data: bytes, until: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        self.sent_at = time.monotonic()
        writer.write(data)
        try:
            while time.monotonic() < until:
                chunk = await asyncio.wait_for(reader.read(65536), until - time.monotonic())
                if not chunk:
                    self.closed_after = time.monotonic() - self.sent_at
                    break
                self.answer += chunk
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def status(self) -> int:
        return int(self.answer[9:12]) if self.answer.startswith(b"HTTP/1.1 ") else 0


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Deployment:
    deployment = Deployment(kafka_bootstrap, f"t{int(time.time() * 1000) % 10**10}s", tmp_path)
    asyncio.run(create_topics(kafka_bootstrap, [deployment.topics.raw, deployment.topics.dlq]))
    return deployment


async def _sample_rss(process: BridgeProcess, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(process.rss_kib())
        await asyncio.sleep(0.1)


@dataclass
class Delivered:
    """One signed delivery: its final status, the refusals before it, and how long it took."""

    status: int
    refusals: list[str]
    seconds: float


async def _deliver(url: str, secret: str) -> list[Delivered]:
    answers = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for index in range(DELIVERIES):
            body = FIXTURE.replace(b"235879", b"5%05d" % index)
            answers.append(await _deliver_one(session, url, secret, body))
            await asyncio.sleep(0.25)
    return answers


async def _deliver_one(
    session: aiohttp.ClientSession, url: str, secret: str, body: bytes
) -> Delivered:
    """Post ``body`` until it gets an answer other than 503, at most :data:`RETRY_FOR_S`,
    waiting ``Retry-After`` (at most 1 s here) between attempts and signing each anew, as
    FedaPay does."""
    started = time.monotonic()
    refusals: list[str] = []
    while True:
        headers = {"X-FEDAPAY-SIGNATURE": sign(body, secret)}
        async with session.post(url, data=body, headers=headers) as response:
            status = response.status
            if status != 503 or time.monotonic() - started > RETRY_FOR_S:
                return Delivered(status, refusals, time.monotonic() - started)
            refusals.append(str((await response.json()).get("error")))
            retry_after = float(response.headers.get("Retry-After", "1"))
        await asyncio.sleep(min(retry_after, 1.0))


async def _attack(deployment: Deployment, process: BridgeProcess) -> dict[str, object]:
    await deployment.wait_ingress_ready(process)
    baseline = process.rss_kib()
    samples: list[int] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(process, samples, stop))
    until = time.monotonic() + 60
    heads = [Held() for _ in range(SLOW_HEADS)]
    bodies = [Held() for _ in range(SLOW_BODIES)]
    holders = [
        *(held.hold(deployment.ingress_port, slow_head(i), until) for i, held in enumerate(heads)),
        *(held.hold(deployment.ingress_port, slow_body(i), until) for i, held in enumerate(bodies)),
    ]
    holding = asyncio.gather(*holders)
    await asyncio.sleep(2.0)  # every slow connection has sent what it will send
    deliveries = await _deliver(deployment.url, deployment.secret)
    await holding
    stop.set()
    await sampler
    held_heads = [h.closed_after for h in heads]
    held_bodies = [h.closed_after for h in bodies]
    body_statuses: dict[str, int] = {}
    for held in bodies:
        status = str(held.status)
        body_statuses[status] = body_statuses.get(status, 0) + 1
    return {
        "baseline_rss_kib": baseline,
        "peak_rss_kib": max(samples),
        "limit_kib": chart_memory_limit_kib(),
        "deliveries": deliveries,
        "slow_heads_still_open": sum(1 for h in held_heads if h is None),
        "slow_bodies_still_open": sum(1 for h in held_bodies if h is None),
        "slow_head_held_max_s": max((h for h in held_heads if h is not None), default=None),
        "slow_body_held_max_s": max((h for h in held_bodies if h is not None), default=None),
        "slow_body_statuses": body_statuses,
    }


def test_slow_heads_and_bodies_keep_memory_bounded_and_deliveries_flowing(
    deployment: Deployment,
) -> None:
    with deployment.ingress() as process:
        figures = asyncio.run(_attack(deployment, process))
    deliveries = figures["deliveries"]
    assert isinstance(deliveries, list)
    record(
        "slow_connections",
        {
            "slow_heads": SLOW_HEADS,
            "head_fields": HEAD_FIELDS,
            "field_bytes": FIELD_BYTES,
            "slow_bodies": SLOW_BODIES,
            "body_bytes_sent": BODY_SENT,
            **{k: v for k, v in figures.items() if k != "deliveries"},
            "delivery_statuses": sorted({delivery.status for delivery in deliveries}),
            "delivery_seconds_max": max(delivery.seconds for delivery in deliveries),
            "delivery_refusals": [r for delivery in deliveries for r in delivery.refusals],
        },
    )
    assert [delivery.status for delivery in deliveries] == [200] * DELIVERIES
    assert figures["peak_rss_kib"] < figures["limit_kib"], figures  # type: ignore[operator]
    assert figures["slow_heads_still_open"] == 0, "the server closes every unfinished head"
    assert figures["slow_bodies_still_open"] == 0, "the server closes every unfinished body"
