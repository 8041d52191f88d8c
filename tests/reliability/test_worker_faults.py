"""The stream workers under faults: every scenario of :mod:`tests.reliability.faults`,
in both processing guarantees, each checked against every bound the docs state.

SIGKILL gives a worker no chance to commit offsets, flush tables or end a
transaction; after its restart it recovers its tables (RocksDB plus the
changelogs, or the changelogs alone) and resumes from the last committed offset.
A join or a leave moves partitions, whose tables the new owner rebuilds from the
changelogs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import results
from tests.reliability.deployment import MODES
from tests.reliability.faults import SCENARIOS, run_scenario

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.asyncio, pytest.mark.timeout(300)]

CASES = [
    pytest.param(scenario, mode, id=f"{scenario}-{mode}")
    for scenario in SCENARIOS
    for mode in MODES
]


@pytest.mark.parametrize(("scenario", "mode"), CASES)
async def test_worker_fault(kafka_bootstrap: str, tmp_path: Path, scenario: str, mode: str) -> None:
    run = await run_scenario(scenario, mode, kafka_bootstrap, tmp_path)
    results.record(f"faults_{scenario}_{mode}", run.figures())
    run.check()
    await run.clean_up()
