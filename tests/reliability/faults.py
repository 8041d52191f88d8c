"""The stream workers' fault scenarios, shared by the CI tests and the torture run.

Each scenario posts a simulated stream through a real ingress to the real broker
while it kills, restarts, adds or removes workers. Then every run is checked
against every bound the docs state (:meth:`FaultRun.check`):

* no distinct event lost, no DLQ record, every final status right;
* repeats: 0 under exactly-once; under at-least-once at most the raw records the
  group had not committed when each worker died (:attr:`Kill.uncommitted`, read
  from the broker right after the kill: all a restarted worker can process
  again); 0 for a graceful join or leave, which commits what it finished;
* the probes (:mod:`tests.reliability.probe`): redelivering every event emits
  nothing, and the transaction table still knows every approved transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka.errors import KafkaError

from simulator.delivery import DeliveryReport
from tests.reliability.deployment import EXACTLY_ONCE, Deployment
from tests.reliability.probe import ProbeResult, assert_pipeline_intact, probe_tables
from tests.reliability.procs import BridgeProcess
from tests.reliability.stream import (
    PipelineResult,
    Stream,
    pipeline_result,
    report_figures,
    wait_for_progress,
)

RATE = 20.0
#: How long a restarted worker may take to start its table recovery.
RECOVERY_START_WITHIN_S = 60.0


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: when it came, and what the worker could repeat after it."""

    after_events: int
    #: Raw records written but not committed by the group when the worker died.
    uncommitted: int


@dataclass
class Faults:
    """What a scenario did to the workers, for the checks and the figures."""

    kills: list[Kill] = field(default_factory=list)
    #: Graceful joins and leaves (these must repeat nothing).
    moves: int = 0


@dataclass
class Run:
    """The workers of one scenario run and the stream they handle."""

    deployment: Deployment
    stream: Stream
    workers: dict[str, BridgeProcess]
    faults: Faults = field(default_factory=Faults)
    #: The workers that should be running now.
    running: set[str] = field(default_factory=set)

    @property
    def alive(self) -> list[BridgeProcess]:
        return [self.workers[name] for name in sorted(self.running)]

    def start(self, name: str) -> BridgeProcess:
        self.running.add(name)
        return self.workers[name].start()

    async def leave(self, name: str) -> None:
        """SIGTERM worker ``name``: it leaves the group gracefully and must exit 0."""
        self.running.discard(name)
        worker = self.workers[name]
        exit_code = await asyncio.to_thread(worker.terminate)
        assert exit_code == 0, worker.log_tail()
        self.faults.moves += 1

    async def progress(self, fraction: float) -> int:
        """Until ``fraction`` of the distinct events are out; how many are."""
        return await wait_for_progress(self.deployment, self.stream, fraction, workers=self.alive)

    async def kill(self, name: str, after_events: int) -> None:
        """SIGKILL worker ``name``, note what it leaves uncommitted; not restarted."""
        worker = self.workers[name]
        assert worker.alive(), worker.log_tail()
        self.running.discard(name)
        await asyncio.to_thread(worker.kill)
        uncommitted = (await self.deployment.progress()).lag
        self.faults.kills.append(Kill(after_events, uncommitted))

    async def restart(self, name: str) -> None:
        await asyncio.sleep(0.5)
        self.start(name)

    async def wait_recovery_started(self, name: str, recoveries_before: int) -> None:
        """Until worker ``name`` has begun its next table recovery (read from its log)."""
        worker = self.workers[name]
        for _ in range(int(RECOVERY_START_WITHIN_S / 0.05)):
            if _recoveries(worker) > recoveries_before:
                return
            assert worker.alive(), worker.log_tail()
            await asyncio.sleep(0.05)
        raise AssertionError(f"no table recovery began:\n{worker.log_tail()}")


def _recoveries(worker: BridgeProcess) -> int:
    return worker.log_text().count("Highwater for active changelog partitions")


Scenario = Callable[[Run], Awaitable[None]]


async def kill_mid_stream(run: Run) -> None:
    """SIGKILL after 25 % and 60 % of the events are out, restarted each time."""
    for fraction in (0.25, 0.6):
        await run.kill("w1", await run.progress(fraction))
        await run.restart("w1")


async def kill_during_recovery(run: Run) -> None:
    """SIGKILL after 30 %, restarted, and killed again as soon as its table recovery began."""
    await run.kill("w1", await run.progress(0.3))
    recoveries = _recoveries(run.workers["w1"])
    await run.restart("w1")
    await run.wait_recovery_started("w1", recoveries)
    await run.kill("w1", await run.progress(0.0))
    await run.restart("w1")


async def kill_during_rebalance(run: Run) -> None:
    """A second worker joins after 10 % (early, so deliveries still arrive while the group
    rebalances); the first is SIGKILLed as soon as the newcomer begins recovering the tables
    it was given, and restarted."""
    joined = await run.progress(0.1)
    run.start("w2")
    await run.wait_recovery_started("w2", 0)
    await run.kill("w1", joined)
    await run.restart("w1")


async def join_and_leave(run: Run) -> None:
    """A second worker joins after 20 % (and takes partitions over) and leaves after 60 %."""
    await run.progress(0.2)
    await run.deployment.wait_worker_ready(run.start("w2"))
    run.faults.moves += 1
    await run.progress(0.6)
    await run.leave("w2")


async def empty_data_dir(run: Run) -> None:
    """SIGKILL after 40 %; the worker's data directory is deleted before its restart, so
    its tables come back from the changelogs alone."""
    await run.kill("w1", await run.progress(0.4))
    data_dir = Path(run.workers["w1"].settings["FEDAPAY_BRIDGE_DATA_DIR"])
    shutil.rmtree(data_dir, ignore_errors=True)
    await run.restart("w1")


SCENARIOS: dict[str, Scenario] = {
    "kill_mid_stream": kill_mid_stream,
    "kill_during_recovery": kill_during_recovery,
    "kill_during_rebalance": kill_during_rebalance,
    "join_and_leave": join_and_leave,
    "empty_data_dir": empty_data_dir,
}

#: Scenarios that move partitions between workers (a rebalance under way).
REBALANCING = frozenset({"kill_during_rebalance", "join_and_leave"})


@dataclass
class FaultRun:
    """The result of one scenario run, with the bounds it must meet."""

    scenario: str
    mode: str
    stream: Stream
    report: DeliveryReport
    faults: Faults
    outcome: PipelineResult
    probe: ProbeResult
    deployment: Deployment

    @property
    def repeat_bound(self) -> int:
        """The most repeated outputs the docs allow for this run."""
        if self.mode == EXACTLY_ONCE:
            return 0
        return sum(kill.uncommitted for kill in self.faults.kills)

    def check(self) -> None:
        assert self.report.ok, report_figures(self.report)
        assert_pipeline_intact(self.outcome, self.probe, exactly_once=self.mode == EXACTLY_ONCE)
        assert self.outcome.tally.duplicates <= self.repeat_bound, self.figures()

    async def clean_up(self) -> None:
        """Delete the run's topics (call it once the run passed: a failed run's topics are
        the evidence), so that many runs on one broker do not pile topics up."""
        with contextlib.suppress(KafkaError):
            await self.deployment.delete_topics()

    def figures(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "mode": self.mode,
            **self.stream.figures(),
            **report_figures(self.report),
            "kills": [vars(kill) for kill in self.faults.kills],
            "moves": self.faults.moves,
            "repeat_bound": self.repeat_bound,
            "outputs": self.outcome.to_dict(),
            "probe": self.probe.to_dict(),
        }


async def run_scenario(
    name: str, mode: str, bootstrap: str, root: Path, *, seed: int = 21
) -> FaultRun:
    """Run scenario ``name`` once in ``mode`` on a deployment of its own under ``root``."""
    deployment = Deployment(
        bootstrap,
        f"t{uuid4().hex[:10]}",
        root,
        mode=mode,
        partitions=4 if name in REBALANCING else 3,
        extra={"SESSION_TIMEOUT_SECONDS": "6"} if name in REBALANCING else {},
    )
    await asyncio.to_thread(deployment.create_topics)
    stream = Stream.make(40, 4, seed=seed)
    run = Run(deployment, stream, {name: deployment.worker(name) for name in ("w1", "w2")})
    try:
        with deployment.ingress() as ingress:
            await deployment.wait_ingress_ready(ingress)
            run.start("w1")
            load = asyncio.create_task(stream.post(deployment.url, deployment.secret, rate=RATE))
            try:
                await SCENARIOS[name](run)
            finally:
                report = await load
            outcome = await pipeline_result(deployment, stream, within=120, workers=run.alive)
            probe = await probe_tables(deployment, stream, outcome.output_records)
            for worker in run.alive:
                assert worker.alive(), worker.log_tail()
    finally:
        for worker in run.workers.values():
            worker.stop()
    return FaultRun(name, mode, stream, report, run.faults, outcome, probe, deployment)
