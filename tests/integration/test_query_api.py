"""The query API on two workers of one consumer group, on the real broker.

A simulated stream goes through the HTTP ingress into a 3-partition raw topic
consumed by two workers. The same query sent to either worker must give the
same numbers, and those must match counts computed independently: from the
simulator's truth (events per name, duplicates, anomalies, final statuses) and
from the pure pipeline's replay of the raw topic (status records entered, with
their amounts, currencies and operators).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from schemas.topics import Topics
from simulator import delivery
from simulator.lifecycle import generate
from streams import routing
from streams.pipeline import OutputKind, PipelineConfig, replay
from tests.integration.query_harness import get_json, two_workers, wait_partitions
from tests.integration.streams_harness import (
    AUTHORIZATION,
    PARTITIONS,
    PROJECT_ROOT,
    QUERY_TOKEN,
    feeder,
    raw_records,
    read_all,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def reference(raw: list[Any], topics: Topics) -> dict[str, Any]:
    """Entered statuses, amounts and approvals from the pure pipeline's replay."""
    config = PipelineConfig(topics=topics, dedup_window_ms=72 * 3600 * 1000)
    entered: Counter[str] = Counter()
    amount: dict[str, Counter[str]] = defaultdict(Counter)
    modes: dict[str, Counter[str]] = defaultdict(Counter)
    for records in raw_records(raw).values():
        mode = {}
        for record in records:
            entity = orjson.loads(record.value or b"{}").get("entity", {})
            mode[str(entity.get("id"))] = entity.get("mode")
        outputs, _, _ = replay(records, config)
        for output in outputs:
            if output.kind is not OutputKind.STATUS:
                continue
            status = orjson.loads(output.value)
            name, operator = status["status"], mode[status["transaction_id"]]
            entered[name] += 1
            amount[status["currency"]][name] += status["amount"]
            modes[operator]["decided"] += name in ("approved", "declined", "canceled", "expired")
            modes[operator]["approved"] += name == "approved"
    return {"entered": dict(entered), "amount": amount, "modes": modes}


def run_query(url: str, output: Path, *argv: str) -> str:
    """``fedapay-bridge query --url URL ...`` in a subprocess; its output, also saved."""
    command = [sys.executable, "-m", "common.cli", "query", "--url", url, *argv]
    env = {**os.environ, "FEDAPAY_BRIDGE_QUERY_TOKEN": QUERY_TOKEN}
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    output.write_text(done.stdout)
    return done.stdout


async def prometheus(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The unlabelled samples of a worker's ``/metrics``."""
    async with session.get(f"{url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            samples[name] = float(value)
    return samples


@pytest.mark.asyncio
@pytest.mark.timeout(420)
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
async def test_any_worker_answers_the_same_correct_numbers(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, guarantee: str
) -> None:
    topics = Topics(topic_prefix)
    scenario = generate(120, customers=10, seed=5, illegal=0.1)
    truth = scenario.truth
    plan = delivery.plan(scenario.events, duplicates=0.3, shuffle=True, seed=5)
    started_ms = int(time.time() * 1000)
    async with (
        two_workers(
            kafka_bootstrap, topic_prefix, tmp_path, PROCESSING_GUARANTEE=guarantee
        ) as workers,
        aiohttp.ClientSession() as session,
    ):
        owned = await wait_partitions(session, workers, PARTITIONS, within=120)
        await feeder(kafka_bootstrap, topic_prefix)(plan)
        params = {
            "from": str(started_ms - 120_000),
            "to": str(int(time.time() * 1000) + 120_000),
            "resolution": "1m",
        }
        a, b = workers[0].url, workers[1].url
        deadline = time.monotonic() + 180
        while True:
            status, first = await get_json(session, f"{a}/query/range", params)
            if status == 200 and first["total"]["deliveries"] == len(plan):
                break
            assert time.monotonic() < deadline, (status, first)
            await asyncio.sleep(0.5)
        status_b, second = await get_json(session, f"{b}/query/range", params)
        assert (status, status_b) == (200, 200)
        assert first == second

        hourly = {**params, "resolution": "1h"}
        hours = [(await get_json(session, f"{w.url}/query/range", hourly))[1] for w in workers]
        assert hours[0] == hours[1]
        assert hours[0]["total"] == first["total"]

        summaries = [
            (await get_json(session, f"{w.url}/query/summary", {"minutes": "30"}))[1]
            for w in workers
        ]
        assert summaries[0]["deliveries"] == summaries[1]["deliveries"] == len(plan)

        filtered = [
            (await get_json(session, f"{w.url}/query/range", {**params, "currency": "XOF"}))[1]
            for w in workers
        ]
        assert filtered[0] == filtered[1]

        ids = sorted(truth.final_status)
        answers = {}
        for worker in workers:
            for tx_id in ids:
                code, body = await get_json(session, f"{worker.url}/transactions/{tx_id}")
                assert code == 200, (worker.url, tx_id, body)
                answers[(worker.url, tx_id)] = body
        cli = {
            name: await asyncio.to_thread(run_query, b, tmp_path / f"cli-{name}.txt", *argv)
            for name, argv in {
                "summary": ["summary", "--minutes", "30"],
                "range": ["range", "--from", params["from"], "--to", params["to"]],
                "transaction": ["transaction", ids[0]],
            }.items()
        }
        scraped = [await prometheus(session, w.url) for w in workers]
        missing = await get_json(session, f"{a}/transactions/999999999999")
        not_an_id = await get_json(session, f"{a}/transactions/no-such-id")
        escaping = await get_json(session, f"{a}/transactions/..%2Finternal%2Fwindows")
        anonymous = await get_json(session, f"{a}/query/range", params, headers={})
        async with session.get(f"{a}/table/transactions/", headers=AUTHORIZATION) as answer:
            faust_table = answer.status
        bad = await get_json(session, f"{a}/query/range", {"from": "yesterday", "to": "1"})
        raw = await read_all(kafka_bootstrap, topics.raw)

    total = first["total"]
    assert total["events"] == dict(truth.events_per_name)
    assert total["events_total"] == truth.distinct_events
    assert total["duplicates_total"] == plan.extra_copies
    assert total["anomalies"] == {"illegal_transition": truth.illegal_total}
    assert total["latency_ms"]["count"] == truth.distinct_events
    expected = reference(raw, topics)
    assert total["entered_status"] == expected["entered"]
    assert total["amount"] == {cur: dict(by) for cur, by in expected["amount"].items()}
    for mode, by in expected["modes"].items():
        assert total["approval"][mode]["approved"] == by["approved"]
        assert total["approval"][mode]["decided"] == by["decided"]
    assert sum(w["deliveries"] for w in first["windows"]) == len(plan)

    xof = filtered[0]["total"]
    assert xof["entered_status"] == expected["entered"]  # the simulator pays in XOF only
    assert xof["events_total"] == 0  # event counters carry no currency

    by_partition: dict[int, str] = {p: url for url, parts in owned.items() for p in parts}
    remote = 0
    for tx_id in ids:
        one, two = answers[(a, tx_id)], answers[(b, tx_id)]
        assert one == two
        assert one["status"] == truth.final_status[tx_id]
        owner = by_partition[routing.key_partition(f"transaction:{tx_id}".encode(), PARTITIONS)]
        remote += owner != a
    assert 0 < remote < len(ids), "every id on one worker: routing not exercised"
    assert f"{len(plan):,}" in cli["summary"]
    assert cli["range"].splitlines()[-1].split()[:2] == ["total", f"{len(plan):,}"]
    assert truth.final_status[ids[0]] in cli["transaction"]
    records = sum(m.get("fedapay_worker_records_total", 0) for m in scraped)
    duplicates = sum(m.get("fedapay_worker_duplicates_total", 0) for m in scraped)
    assert (records, duplicates) == (len(plan), plan.extra_copies)
    assert all(m["fedapay_worker_ready"] == 1 for m in scraped)
    assert missing[0] == 404
    assert (not_an_id[0], escaping[0]) == (400, 400)
    assert anonymous == (401, {"error": "unauthorized", "reason": anonymous[1]["reason"]})
    assert faust_table == 404
    assert bad[0] == 400
    assert bad[1]["error"] == "bad_request"
