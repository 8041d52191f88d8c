"""Live and sandbox kept apart end to end: real workers on the real broker.

The same transaction id and the same event id are delivered on both
endpoints (raw records exactly as the ingress writes them). Each endpoint
keeps its own status (no invented anomaly), its own dedup (the other
endpoint's event with the same id is not a duplicate; a real repeat is) and
its own metrics; ``GET /transactions/{id}`` asks which endpoint (409), and
answers for the chosen one from either worker (one of them routes it).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from schemas import headers
from schemas.topics import Topics
from tests.integration.query_harness import get_json, two_workers, wait_partitions
from tests.integration.streams_harness import (
    PARTITIONS,
    Consumed,
    OutputReader,
    latest_by_key,
    output_topics,
    produce_raw,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def endpoint_of(record: Consumed) -> str:
    return headers.decode(list(record.headers))[headers.ENDPOINT]


def event(name: str, status: str, updated_at: str, event_id: str) -> bytes:
    return orjson.dumps(
        {
            "id": event_id,
            "name": name,
            "object": "transaction",
            "entity": {
                "id": 500,
                "status": status,
                "updated_at": updated_at,
                "amount": 2500,
                "currency": {"iso": "XOF"},
                "mode": "mtn",
            },
        }
    )


@pytest.mark.asyncio
@pytest.mark.timeout(420)
async def test_the_same_ids_on_two_endpoints_keep_their_own_status_dedup_and_metrics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    topics = Topics(topic_prefix)
    now = int(time.time() * 1000)
    live = [
        event("transaction.created", "pending", "2026-11-28T08:00:01Z", "evt_1"),
        event("transaction.approved", "approved", "2026-11-28T08:00:05Z", "evt_2"),
    ]
    # Sandbox's own transaction 500, newer than live's approval, with live's first event id.
    sandbox = event("transaction.created", "pending", "2026-11-28T08:00:09Z", "evt_1")
    async with (
        two_workers(kafka_bootstrap, topic_prefix, tmp_path) as workers,
        aiohttp.ClientSession() as session,
    ):
        await wait_partitions(session, workers, PARTITIONS, within=120)
        await produce_raw(
            kafka_bootstrap, topics, [(b, now + i, None) for i, b in enumerate(live)], "live"
        )
        await produce_raw(
            kafka_bootstrap, topics, [(sandbox, now + 2, None), (sandbox, now + 3, None)], "sandbox"
        )
        params = {"from": str(now - 120_000), "to": str(now + 120_000), "resolution": "1m"}
        a, b = workers[0].url, workers[1].url
        deadline = time.monotonic() + 180
        while True:
            status, every = await get_json(session, f"{a}/query/range", params)
            if status == 200 and every["total"]["deliveries"] == 4:
                break
            assert time.monotonic() < deadline, (status, every)
            await asyncio.sleep(0.5)
        by_endpoint = {
            name: (await get_json(session, f"{url}/query/range", {**params, "endpoint": name}))[1]
            for name, url in (("live", a), ("sandbox", b))
        }
        answers: dict[tuple[str, str | None], tuple[int, Any]] = {}
        for url in (a, b):
            for endpoint in (None, "live", "sandbox", "other"):
                query: dict[str, str] = {} if endpoint is None else {"endpoint": endpoint}
                answers[(url, endpoint)] = await get_json(session, f"{url}/transactions/500", query)
        unknown = await get_json(session, f"{a}/transactions/501")
        async with OutputReader(
            kafka_bootstrap, output_topics(topics), committed_only=False
        ) as reader:
            await reader.until(lambda records: len(records) >= 5, within=60)

    per_type = [r for r in reader.records if r.topic in topics.per_type()]
    delivered = sorted((endpoint_of(r), orjson.loads(r.value or b"")["event_id"]) for r in per_type)
    assert delivered == [("live", "evt_1"), ("live", "evt_2"), ("sandbox", "evt_1")]
    final = {
        key: orjson.loads(record.value or b"")
        for key, record in latest_by_key(reader.of(topics.status)).items()
    }
    assert {key: (doc["endpoint"], doc["status"]) for key, doc in final.items()} == {
        b"live:500": ("live", "approved"),
        b"sandbox:500": ("sandbox", "pending"),
    }
    assert final[b"sandbox:500"]["previous_status"] is None
    assert reader.of(topics.anomalies) == []

    total = every["total"]
    assert (total["deliveries"], total["events_total"], total["duplicates_total"]) == (4, 3, 1)
    assert every["endpoint"] is None
    live_total, sandbox_total = by_endpoint["live"]["total"], by_endpoint["sandbox"]["total"]
    assert (live_total["deliveries"], live_total["events_total"]) == (2, 2)
    assert live_total["duplicates_total"] == 0
    assert live_total["entered_status"] == {"pending": 1, "approved": 1}
    assert (sandbox_total["deliveries"], sandbox_total["events_total"]) == (2, 1)
    assert sandbox_total["duplicates"] == {"transaction.created": 1}
    assert sandbox_total["entered_status"] == {"pending": 1}
    assert live_total["anomalies_total"] == sandbox_total["anomalies_total"] == 0

    for url in (a, b):
        code, body = answers[(url, None)]
        assert (code, body["error"], body["endpoints"]) == (409, "ambiguous", ["live", "sandbox"])
        code, body = answers[(url, "live")]
        assert (code, body["endpoint"], body["status"]) == (200, "live", "approved")
        assert [h["status"] for h in body["history"]] == ["pending", "approved"]
        code, body = answers[(url, "sandbox")]
        assert (code, body["endpoint"], body["status"], body["anomalies"]) == (
            200,
            "sandbox",
            "pending",
            0,
        )
        assert answers[(url, "other")][0] == 404
    assert unknown[0] == 404
