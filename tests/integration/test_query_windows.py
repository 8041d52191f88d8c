"""Window boundaries on a real worker: records received either side of a minute and an hour
boundary land in different windows of the query API."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from schemas.topics import Topics
from streams.clock import iso_ms
from tests.integration.query_harness import get_json, wait_partitions, web_worker
from tests.integration.streams_harness import PARTITIONS, produce_raw, provision_topics

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
MINUTE, HOUR = 60_000, 3_600_000


def customer(customer_id: int, received_at_ms: int) -> bytes:
    return orjson.dumps(
        {
            "name": "customer.created",
            "object": "customer",
            "entity": {"id": customer_id, "updated_at": iso_ms(received_at_ms)},
        }
    )


@pytest.mark.asyncio
@pytest.mark.timeout(240)
async def test_boundary_milliseconds_land_in_different_windows(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)
    minute = now - now % MINUTE - 2 * MINUTE  # a recent minute boundary, e.g. 12:01:00.000
    hour = now - now % HOUR  # the current hour's start, e.g. 13:00:00.000
    received = [minute - 1, minute, hour - 1, hour]
    await provision_topics(kafka_bootstrap, topic_prefix)
    worker = web_worker(kafka_bootstrap, topic_prefix, tmp_path, 0)
    worker.process.start()
    try:
        await worker.process.wait_ready()
        async with aiohttp.ClientSession() as session:
            await wait_partitions(session, [worker], PARTITIONS, within=60)
            bodies = [(customer(i, at), at, 0) for i, at in enumerate(received)]
            await produce_raw(kafka_bootstrap, Topics(topic_prefix), bodies)

            async def query(frm: int, to: int, resolution: str) -> dict[str, int]:
                params = {"from": str(frm), "to": str(to), "resolution": resolution}
                deadline = time.monotonic() + 60
                while True:
                    status, doc = await get_json(session, f"{worker.url}/query/range", params)
                    assert status == 200, doc
                    if doc["total"]["deliveries"] >= len(received) or time.monotonic() > deadline:
                        return {w["start"]: w["deliveries"] for w in doc["windows"]}
                    await asyncio.sleep(0.5)

            earliest = min(received) - HOUR
            minutes = await query(earliest, now + MINUTE, "1m")
            hours = await query(earliest, now + HOUR, "1h")
    finally:
        worker.process.stop()

    expected_minutes: dict[str, int] = {}
    expected_hours: dict[str, int] = {}
    for at in received:
        key_m, key_h = iso_ms(at - at % MINUTE), iso_ms(at - at % HOUR)
        expected_minutes[key_m] = expected_minutes.get(key_m, 0) + 1
        expected_hours[key_h] = expected_hours.get(key_h, 0) + 1
    assert minutes == expected_minutes
    assert hours == expected_hours
    assert minutes[iso_ms(minute - MINUTE)] >= 1  # 12:00:59.999 is in the 12:00 minute
    assert minutes[iso_ms(minute)] >= 1  # 12:01:00.000 is in the 12:01 minute
    assert hours[iso_ms(hour - HOUR)] >= 1
    assert hours[iso_ms(hour)] >= 1
