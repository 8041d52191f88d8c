"""The dedup table stays bounded by its window: expired keys are really deleted.

A worker with a 4 s window (swept every second of stream time) sees stream A,
then, after the window, stream B. Its dedup changelog must then hold none of
A's keys (each deleted by a tombstone) and all of B's; and redelivering A is no
longer a duplicate: the table forgot it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from schemas import keys
from simulator.delivery import DeliveryPlan, SimulatedDelivery
from streams.tables import DEDUP, changelog_topic
from tests.reliability import results
from tests.reliability.dedup_table import DedupChangelog
from tests.reliability.deployment import ENDPOINT, Deployment
from tests.reliability.outputs import (
    collect,
    events_complete,
    expected_event_keys,
    tally_events,
)
from tests.reliability.stream import Stream

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(180)]

WINDOW_S = 4
RATE = 40.0


async def test_expired_dedup_keys_are_deleted(kafka_bootstrap: str, tmp_path: Path) -> None:
    deployment = Deployment(
        kafka_bootstrap,
        f"t{uuid4().hex[:10]}",
        tmp_path,
        extra={"DEDUP_WINDOW_SECONDS": str(WINDOW_S), "DEDUP_SWEEP_INTERVAL_SECONDS": "1"},
    )
    await asyncio.to_thread(deployment.create_topics)
    first, second = Stream.make(15, 2, seed=51), Stream.make(15, 2, seed=52)
    topics = deployment.topics
    event_topics = sorted({*topics.per_type(), topics.unknown})
    changelog = changelog_topic(deployment.app_id, DEDUP)
    worker = deployment.worker("w1")
    try:
        with deployment.ingress() as ingress:
            await deployment.wait_ingress_ready(ingress)
            worker.start()
            for stream in (first, second):
                assert (await stream.post(deployment.url, deployment.secret, rate=RATE)).ok
                expected = expected_event_keys(stream.scenario.events, topics)
                await collect(
                    kafka_bootstrap, event_topics, done=events_complete(expected), within=60
                )
                if stream is first:
                    await asyncio.sleep(WINDOW_S + 2)
            folded = DedupChangelog().apply(
                await collect(
                    kafka_bootstrap, [changelog], done=lambda r: True, within=20, settle=2
                )
            )
            before = await collect(
                kafka_bootstrap, event_topics, done=lambda r: True, within=10, settle=2
            )
            once = DeliveryPlan(tuple(SimulatedDelivery(event) for event in first.scenario.events))
            assert (
                await Stream(first.scenario, once).post(
                    deployment.url, deployment.secret, rate=RATE
                )
            ).ok
            wanted = len(before) + len(first.scenario.truth.dedup_keys)
            after = await collect(
                kafka_bootstrap, event_topics, done=lambda r: len(r) >= wanted, within=60
            )
    finally:
        worker.stop()
    # The dedup table keys each delivery by its endpoint (live and sandbox are separate accounts).
    first_keys = {keys.qualified(ENDPOINT, key) for key in first.scenario.truth.dedup_keys}
    second_keys = {keys.qualified(ENDPOINT, key) for key in second.scenario.truth.dedup_keys}
    alive = folded.alive_keys()
    both = expected_event_keys([*first.scenario.events, *second.scenario.events], topics)
    tally = tally_events(after, both)
    results.record(
        "dedup_window",
        {
            "window_s": WINDOW_S,
            "changelog_writes": folded.writes,
            "tombstones": folded.tombstones,
            "alive_after_window": len(alive),
            "first_stream_keys_alive": len(alive & first_keys),
            "second_stream_keys_alive": len(alive & second_keys),
            "records_after_redelivery": len(after) - len(before),
        },
    )
    assert folded.tombstones >= len(first_keys), "expired keys were not deleted"
    assert not alive & first_keys, "keys older than the window are still in the table"
    assert second_keys <= alive, "keys inside the window must be kept"
    assert alive <= first_keys | second_keys
    # Forgotten keys are new again: each of A's events is emitted once more, exactly.
    assert len(after) - len(before) == len(first_keys), tally.to_dict()
    assert tally.duplicates == len(first_keys)
    assert tally.lost == 0
