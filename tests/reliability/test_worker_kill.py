"""A stream worker is SIGKILLed and restarted twice while a stream is delivered.

SIGKILL gives the worker no chance to commit offsets, flush tables or end a
transaction. After each restart it recovers its tables (RocksDB plus the
changelogs) and resumes from the last committed offset, so records processed
since then are processed again. Checked: no distinct event is lost, final
statuses are right, the repeats are counted (none under exactly-once), and the
probes of :mod:`tests.reliability.probe` find both tables intact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from uuid import uuid4

import pytest

from tests.reliability import results
from tests.reliability.deployment import EXACTLY_ONCE, MODES, Deployment
from tests.reliability.probe import assert_pipeline_intact, probe_tables
from tests.reliability.procs import BridgeProcess
from tests.reliability.stream import Stream, pipeline_result, report_figures, wait_for_progress

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(240)]

RATE = 20.0
KILL_AT = (0.25, 0.6)  # fractions of the distinct events already out


@pytest.mark.parametrize("mode", MODES)
async def test_worker_killed_twice_mid_stream(
    kafka_bootstrap: str, tmp_path: Path, mode: str
) -> None:
    deployment = Deployment(kafka_bootstrap, f"t{uuid4().hex[:10]}", tmp_path, mode=mode)
    await asyncio.to_thread(deployment.create_topics)
    stream = Stream.make(40, 4, seed=21)
    worker = deployment.worker("w1")
    kills: list[int] = []
    try:
        with deployment.ingress() as ingress:
            await deployment.wait_ingress_ready(ingress)
            worker.start()
            load = asyncio.create_task(stream.post(deployment.url, deployment.secret, rate=RATE))
            for fraction in KILL_AT:
                kills.append(
                    await wait_for_progress(deployment, stream, fraction, workers=[worker])
                )
                await _kill_and_restart(worker)
            report = await load
            assert report.ok, report_figures(report)
            outcome = await pipeline_result(deployment, stream, within=90, workers=[worker])
            probe = await probe_tables(deployment, stream, outcome.output_records)
            assert worker.alive(), worker.log_tail()
    finally:
        worker.stop()
    results.record(
        f"worker_kill_{mode}",
        {
            "mode": mode,
            **stream.figures(),
            **report_figures(report),
            "killed_after_events": kills,
            "outputs": outcome.to_dict(),
            "probe": probe.to_dict(),
        },
    )
    assert_pipeline_intact(outcome, probe, exactly_once=mode == EXACTLY_ONCE)


async def _kill_and_restart(worker: BridgeProcess) -> None:
    assert worker.alive(), worker.log_tail()
    await asyncio.to_thread(worker.kill)
    await asyncio.sleep(0.5)
    worker.start()
