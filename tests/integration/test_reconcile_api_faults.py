"""(d) FedaPay's API refusing or failing: clear errors, and the checkpoint never advanced past
pages that were not fetched (real broker, the FedaPay API stand-in; no worker needed)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import pytest_asyncio

from common.kafka import KafkaSettings
from reconcile import kafka_io, run
from reconcile.errors import ApiAuthError, ApiUnavailable
from reconcile.window import Checkpoint
from schemas import headers
from schemas.topics import Topics
from simulator.lifecycle import generate
from streams.clock import iso_ms
from tests.integration.fedapay_api import API_KEY, FedaPayStandIn, serving
from tests.integration.reconcile_harness import api_events, settings
from tests.integration.streams_harness import provision_topics, read_all

pytestmark = [pytest.mark.kafka, pytest.mark.asyncio]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENTS = generate(12, seed=4).events[:30]
FIRST_MS = EVENTS[0].updated_at_ms - 60_000
#: Two passes' windows: the first ends at MIDDLE_MS, the second at LAST_MS.
MIDDLE_MS = EVENTS[-1].updated_at_ms + 60_000
LAST_MS = MIDDLE_MS + 3_600_000
PER_PAGE = 10


def options(until_ms: int) -> run.Options:
    return run.Options(since_ms=FIRST_MS, until_ms=until_ms, drift=False)


async def checkpoint(bootstrap: str, prefix: str) -> Checkpoint | None:
    return await kafka_io.load_checkpoint(
        KafkaSettings(bootstrap_servers=bootstrap), Topics(prefix), "sandbox"
    )


async def api_records(bootstrap: str, prefix: str) -> int:
    raw = await read_all(bootstrap, Topics(prefix).raw)
    return sum(1 for r in raw if headers.decode(list(r.headers))[headers.SOURCE] == "api")


@pytest_asyncio.fixture
async def first_pass(kafka_bootstrap: str, topic_prefix: str) -> FedaPayStandIn:
    """A stand-in with 30 events (3 pages) and one complete pass ending at MIDDLE_MS."""
    await provision_topics(kafka_bootstrap, topic_prefix)
    standin = FedaPayStandIn(events=api_events(EVENTS))
    async with serving(standin) as base:
        config = settings(kafka_bootstrap, topic_prefix, base, per_page=PER_PAGE)
        summary = await run.reconcile(config, options(MIDDLE_MS))
    assert (summary.pages, summary.events_published) == (3, 30)
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", MIDDLE_MS)
    standin.log.clear()
    return standin


async def test_transient_429_and_5xx_are_waited_out(
    kafka_bootstrap: str, topic_prefix: str, first_pass: FedaPayStandIn
) -> None:
    standin = first_pass
    standin.fail("/v1/events", 429, page=2, retry_after="1")
    standin.fail("/v1/events", 503, page=3, times=2)
    standin.fail("/v1/events", 502, page=1)
    async with serving(standin) as base:
        config = settings(kafka_bootstrap, topic_prefix, base, per_page=PER_PAGE)
        summary = await run.reconcile(config, options(LAST_MS))
    assert (summary.pages, summary.events_published, summary.api_retries) == (3, 30, 4)
    assert [(page, status) for _, page, status in standin.log] == [
        (1, 502),
        (1, 200),
        (2, 429),
        (2, 200),
        (3, 503),
        (3, 503),
        (3, 200),
    ]
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", LAST_MS)
    assert await api_records(kafka_bootstrap, topic_prefix) == 60


async def test_5xx_until_the_attempts_run_out_keeps_the_checkpoint(
    kafka_bootstrap: str, topic_prefix: str, first_pass: FedaPayStandIn
) -> None:
    standin = first_pass
    standin.fail("/v1/events", 500, page=3, times=100)
    async with serving(standin) as base:
        config = settings(kafka_bootstrap, topic_prefix, base, per_page=PER_PAGE, max_attempts=3)
        with pytest.raises(ApiUnavailable, match=r"still answered 500 .* after 3 attempts"):
            await run.reconcile(config, options(LAST_MS))
    assert [(page, status) for _, page, status in standin.log] == [
        (1, 200),
        (2, 200),
        (3, 500),
        (3, 500),
        (3, 500),
    ]
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", MIDDLE_MS)
    # Pages 1 and 2 were published (the workers drop them as duplicates if need be).
    assert await api_records(kafka_bootstrap, topic_prefix) == 30 + 20


async def test_401_mid_pass_stops_at_once_and_keeps_the_checkpoint(
    kafka_bootstrap: str, topic_prefix: str, first_pass: FedaPayStandIn
) -> None:
    standin = first_pass
    standin.fail("/v1/events", 401, page=2)
    async with serving(standin) as base:
        config = settings(kafka_bootstrap, topic_prefix, base, per_page=PER_PAGE)
        with pytest.raises(ApiAuthError, match=r"refused the API key \(401\)"):
            await run.reconcile(config, options(LAST_MS))
    assert [(page, status) for _, page, status in standin.log] == [(1, 200), (2, 401)]
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", MIDDLE_MS)


def cli_env(bootstrap: str, prefix: str, base: str, key: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("FEDAPAY_BRIDGE_")},
        "FEDAPAY_BRIDGE_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "FEDAPAY_BRIDGE_TOPIC_PREFIX": prefix,
        "FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_API_BASE": base,
        "FEDAPAY_BRIDGE_WEBHOOK_SANDBOX_API_KEY": key,
        "FEDAPAY_BRIDGE_RECONCILE_PER_PAGE": str(PER_PAGE),
        "FEDAPAY_BRIDGE_LOG_FORMAT": "text",
    }


async def test_command_line_pass_prints_its_summary(
    kafka_bootstrap: str, topic_prefix: str, first_pass: FedaPayStandIn
) -> None:
    standin = first_pass
    async with serving(standin) as base:
        command = [
            sys.executable,
            "-m",
            "common.cli",
            "reconcile",
            "--endpoint",
            "sandbox",
            "--since",
            iso_ms(FIRST_MS),
            "--until",
            iso_ms(LAST_MS),
        ]
        process = await _run(command, cli_env(kafka_bootstrap, topic_prefix, base, API_KEY))
    assert process.returncode == 0, process.stderr
    summary = orjson.loads(process.stdout)
    assert (summary["pages"], summary["events_published"], summary["checkpoint"]) == (
        3,
        30,
        iso_ms(LAST_MS),
    )
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", LAST_MS)


async def test_wrong_key_exits_3_with_a_clear_message(
    kafka_bootstrap: str, topic_prefix: str, first_pass: FedaPayStandIn
) -> None:
    standin = first_pass
    async with serving(standin) as base:
        env = cli_env(kafka_bootstrap, topic_prefix, base, "sk_sandbox_wrong_key_value")
        command = [sys.executable, "-m", "common.cli", "reconcile", "--endpoint", "sandbox"]
        # The stand-in runs in this process's loop: the child must run beside it.
        process = await _run(command, env)
    assert process.returncode == 3, process.stderr
    assert "FedaPay refused the API key (401)" in process.stderr
    assert "sk_sandbox_wrong_key_value" not in process.stderr + process.stdout
    assert standin.log == [("/v1/events", 1, 401)]
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", MIDDLE_MS)


async def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child = await asyncio.create_subprocess_exec(
        *command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=120)
    return subprocess.CompletedProcess(command, child.returncode or 0, out.decode(), err.decode())


async def test_an_unmappable_event_goes_to_the_dlq_and_the_pass_goes_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    await provision_topics(kafka_bootstrap, topic_prefix)
    listed = api_events(EVENTS)
    listed[4] = {"id": 4, "type": "transaction.update", "created_at": listed[4]["created_at"]}
    standin = FedaPayStandIn(events=listed)
    async with serving(standin) as base:
        config = settings(kafka_bootstrap, topic_prefix, base, per_page=PER_PAGE)
        summary = await run.reconcile(config, options(MIDDLE_MS))
    assert (summary.events_published, summary.dead_lettered) == (29, 1)
    (dead,) = await read_all(kafka_bootstrap, Topics(topic_prefix).dlq)
    found = headers.decode(list(dead.headers))
    assert (found[headers.ERROR], found[headers.SOURCE]) == ("unmappable_api_event", "api")
    assert found[headers.ERROR_DETAIL] == "event 4 has no entity object"
    assert await checkpoint(kafka_bootstrap, topic_prefix) == Checkpoint("sandbox", MIDDLE_MS)
