"""A second worker joins mid-stream and leaves again (two rebalances).

Partitions move to the new worker, which rebuilds their tables from the
changelogs, and move back when it leaves. Checked as for a crash: no distinct
event lost, final statuses right, repeats counted; then the probes of
:mod:`tests.reliability.probe` show that the dedup table and the transaction
table survived both moves.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from tests.reliability import results
from tests.reliability.deployment import EXACTLY_ONCE, MODES, Deployment
from tests.reliability.probe import assert_pipeline_intact, probe_tables
from tests.reliability.stream import Stream, pipeline_result, report_figures, wait_for_progress

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(300)]

RATE = 20.0
JOIN_AT, LEAVE_AT = 0.2, 0.6  # fractions of the distinct events already out


# exactly_once is left out: across a rebalance it has kept a stale status and missed outputs of
# records delivered while the group rebalanced (RELIABILITY.md, open problems). It is not claimed
# until fixed.
@pytest.mark.parametrize("mode", [m for m in MODES if m != EXACTLY_ONCE])
async def test_worker_joins_and_leaves_mid_stream(
    kafka_bootstrap: str, tmp_path: Path, mode: str
) -> None:
    deployment = Deployment(
        kafka_bootstrap,
        f"t{uuid4().hex[:10]}",
        tmp_path,
        mode=mode,
        partitions=4,
        extra={"SESSION_TIMEOUT_SECONDS": "6"},
    )
    await asyncio.to_thread(deployment.create_topics)
    stream = Stream.make(40, 4, seed=31)
    first, second = deployment.worker("w1"), deployment.worker("w2")
    try:
        with deployment.ingress() as ingress:
            await deployment.wait_ingress_ready(ingress)
            first.start()
            load = asyncio.create_task(stream.post(deployment.url, deployment.secret, rate=RATE))
            joined = await wait_for_progress(deployment, stream, JOIN_AT, workers=[first])
            second.start()
            await deployment.wait_worker_ready(second)  # it really took partitions over
            left = await wait_for_progress(deployment, stream, LEAVE_AT, workers=[first, second])
            second_exit = await asyncio.to_thread(second.terminate)
            report = await load
            assert report.ok, report_figures(report)
            outcome = await pipeline_result(deployment, stream, within=90, workers=[first])
            probe = await probe_tables(deployment, stream, outcome.output_records)
            assert first.alive(), first.log_tail()
    finally:
        first.stop()
        second.stop()
    results.record(
        f"rebalance_{mode}",
        {
            "mode": mode,
            **stream.figures(),
            **report_figures(report),
            "joined_after_events": joined,
            "left_after_events": left,
            "outputs": outcome.to_dict(),
            "probe": probe.to_dict(),
        },
    )
    assert second_exit == 0, second.log_tail()
    assert_pipeline_intact(outcome, probe, exactly_once=mode == EXACTLY_ONCE)
