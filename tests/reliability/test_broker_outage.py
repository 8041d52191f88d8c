"""The broker stops during a load of signed webhooks, then starts again.

Every request got either a 2xx, and then its record is in ``fedapay.raw``, or a
non-2xx (503 with Retry-After, or no answer) and was retried, as FedaPay
retries, until it got a 2xx. In the end the raw topic holds exactly the set of
bodies sent, at least one record per acknowledged request, and the pipeline's
outputs hold every distinct event (exactly once under exactly-once; under
at-least-once the repeats are counted).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from uuid import uuid4

import pytest

from tests.kafka_broker import LocalBroker
from tests.reliability import results
from tests.reliability.deployment import EXACTLY_ONCE, MODES, Deployment
from tests.reliability.outputs import Consumed, collect
from tests.reliability.stream import Stream, pipeline_result, report_figures

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(240)]

RATE = 30.0
OUTAGE_AFTER_S = 2.0
OUTAGE_S = 4.0


def _raw_complete(bodies: set[bytes], acknowledged: int) -> Callable[[list[Consumed]], bool]:
    def done(records: list[Consumed]) -> bool:
        return len(records) >= acknowledged and {r.value for r in records} >= bodies

    return done


@pytest.mark.parametrize("mode", MODES)
async def test_broker_outage_during_load(
    own_broker: LocalBroker, tmp_path: Path, mode: str
) -> None:
    deployment = Deployment(own_broker.bootstrap, f"t{uuid4().hex[:10]}", tmp_path, mode=mode)
    await asyncio.to_thread(deployment.create_topics)
    stream = Stream.make(30, 3, seed=11)
    worker = deployment.worker("w1").start()
    try:
        with deployment.ingress() as ingress:
            await deployment.wait_ingress_ready(ingress)
            load = asyncio.create_task(stream.post(deployment.url, deployment.secret, rate=RATE))
            await asyncio.sleep(OUTAGE_AFTER_S)
            await asyncio.to_thread(own_broker.stop)
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(own_broker.start)
            report = await load
            assert ingress.alive(), ingress.log_tail()
        figures = report_figures(report)
        assert report.ok, figures
        refused = report.attempts - figures["acknowledged"]
        assert refused > 0, f"the outage refused nothing; it came too late: {figures}"
        assert set(report.by_status) <= {200, 503}, figures

        raw = await collect(
            deployment.bootstrap,
            [deployment.topics.raw],
            done=_raw_complete(stream.distinct_bodies, figures["acknowledged"]),
            within=30,
            settle=2,
        )
        raw_bodies = {record.value for record in raw}
        assert raw_bodies == stream.distinct_bodies, "raw holds exactly the set of bodies sent"
        assert len(raw) >= figures["acknowledged"], "every acknowledged request has its record"

        outcome = await pipeline_result(deployment, stream, within=60, workers=[worker])
        assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    results.record(
        f"broker_outage_{mode}",
        {
            "mode": mode,
            **stream.figures(),
            **figures,
            "raw_records": len(raw),
            "raw_lost": len(stream.distinct_bodies - raw_bodies),
            "outputs": outcome.to_dict(),
        },
    )
    assert outcome.tally.lost == 0, outcome.tally.missing[:10]
    assert not outcome.tally.unexpected, outcome.tally.unexpected[:10]
    assert not outcome.status_mismatches, outcome.status_mismatches
    assert outcome.dlq_records == 0
    if mode == EXACTLY_ONCE:
        assert outcome.tally.duplicates == 0, outcome.to_dict()
