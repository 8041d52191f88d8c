"""A simulated FedaPay stream for a fault test, and what the pipeline made of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.delivery import DeliveryPlan, DeliveryReport, RetryPolicy, deliver, plan
from simulator.lifecycle import Scenario, generate
from tests.reliability.deployment import Deployment
from tests.reliability.outputs import (
    Consumed,
    OutputTally,
    collect,
    events_complete,
    expected_event_keys,
    final_statuses,
    status_mismatches,
    tally_events,
)
from tests.reliability.procs import BridgeProcess

#: Retry like FedaPay, but faster: every non-2xx is retried until a 2xx or the deadline.
UNTIL_ACCEPTED = RetryPolicy(max_retries=1_000, backoff=0.2, factor=2.0, max_backoff=1.0)


@dataclass(frozen=True)
class Stream:
    scenario: Scenario
    deliveries: DeliveryPlan

    @classmethod
    def make(
        cls,
        transactions: int,
        customers: int,
        *,
        seed: int,
        duplicates: float = 0.3,
        reorder_window: int = 8,
        illegal: float = 0.1,
    ) -> Stream:
        scenario = generate(
            transactions,
            customers,
            seed=seed,
            illegal=illegal,
            start_ms=int(time.time() * 1000),
        )
        deliveries = plan(
            scenario.events, duplicates=duplicates, reorder_window=reorder_window, seed=seed
        )
        return cls(scenario, deliveries)

    def figures(self) -> dict[str, int]:
        """What was planned: distinct events, and the extra copies dedup must drop."""
        return {
            "distinct_events": self.scenario.truth.distinct_events,
            "duplicate_deliveries": self.deliveries.extra_copies,
        }

    @property
    def distinct_bodies(self) -> set[bytes]:
        return {event.body for event in self.scenario.events}

    async def post(
        self,
        url: str,
        secret: str,
        *,
        rate: float,
        concurrency: int = 8,
        deadline: float = 120.0,
    ) -> DeliveryReport:
        """Post every delivery, each retried until it gets a 2xx (or the deadline)."""
        return await deliver(
            self.deliveries,
            url,
            secret,
            concurrency=concurrency,
            rate=rate,
            retry=UNTIL_ACCEPTED,
            attempt_timeout=10.0,
            deadline=deadline,
        )


@dataclass
class PipelineResult:
    tally: OutputTally
    status_mismatches: dict[str, tuple[str | None, str]]
    dlq_records: int
    anomalies: int
    status_records: int

    @property
    def output_records(self) -> int:
        """Records on the event, status and anomaly topics."""
        return self.tally.records + self.status_records + self.anomalies

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.tally.to_dict(),
            "status_mismatches": len(self.status_mismatches),
            "dlq_records": self.dlq_records,
            "anomaly_records": self.anomalies,
            "status_records": self.status_records,
        }


def died(*processes: BridgeProcess) -> Callable[[], str | None]:
    """An ``abort`` check for :func:`collect`: one of ``processes`` exited."""

    def check() -> str | None:
        for process in processes:
            if process.started and not process.alive():
                return f"{process.command} exited:\n{process.log_tail()}"
        return None

    return check


async def pipeline_result(
    deployment: Deployment,
    stream: Stream,
    *,
    within: float,
    workers: Sequence[BridgeProcess] = (),
) -> PipelineResult:
    """Wait until every distinct event is out and the workers committed every raw record
    (or ``within`` seconds), then tally all outputs."""
    topics = deployment.topics
    expected = expected_event_keys(stream.scenario.events, topics)
    names = sorted({*topics.per_type(), topics.unknown})
    await collect(
        deployment.bootstrap,
        names,
        done=events_complete(expected),
        within=within,
        settle=0.0,
        abort=died(*workers),
    )
    await deployment.wait_caught_up(within=within)
    events = await collect(
        deployment.bootstrap, names, done=lambda records: True, within=10.0, settle=2.0
    )
    others = await collect(
        deployment.bootstrap,
        [topics.status, topics.anomalies, topics.dlq],
        done=lambda records: True,
        within=10.0,
        settle=2.0,
    )
    return PipelineResult(
        tally=tally_events(events, expected),
        status_mismatches=status_mismatches(
            final_statuses(others, topics.status), stream.scenario.truth
        ),
        dlq_records=_count(others, topics.dlq),
        anomalies=_count(others, topics.anomalies),
        status_records=_count(others, topics.status),
    )


async def wait_for_progress(
    deployment: Deployment,
    stream: Stream,
    fraction: float,
    *,
    within: float = 60.0,
    workers: Sequence[BridgeProcess] = (),
) -> int:
    """Wait until the workers emitted ``fraction`` of the distinct events; return how many."""
    topics = deployment.topics
    wanted = max(1, int(stream.scenario.truth.distinct_events * fraction))
    records = await collect(
        deployment.bootstrap,
        sorted({*topics.per_type(), topics.unknown}),
        done=lambda found: len(found) >= wanted,
        within=within,
        settle=0.0,
        committed=False,
        abort=died(*workers),
    )
    if len(records) < wanted:
        raise TimeoutError(f"only {len(records)} of {wanted} events out after {within} s")
    return len(records)


def _count(records: list[Consumed], topic: str) -> int:
    return sum(1 for record in records if record.topic == topic)


def report_figures(report: DeliveryReport) -> dict[str, Any]:
    """A delivery report as figures: requests sent, acknowledged, refused, failed."""
    return {
        "deliveries": report.deliveries,
        "requests": report.attempts,
        "acknowledged": report.by_status.get(200, 0),
        "by_status": {str(code): n for code, n in sorted(report.by_status.items())},
        "connection_errors": dict(report.errors),
        "deliveries_failed": report.failures,
    }
