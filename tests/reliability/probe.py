"""After a fault: do the dedup table and the transaction table still hold what they held?

Two probes, run once the stream is fully processed:

* every distinct event is delivered once more: the dedup table must drop them
  all (no new output records);
* every approved transaction gets a newer ``transaction.updated`` saying
  ``transferred``: its status record must name ``approved`` as the previous
  status, which only a surviving transaction table knows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.envelope import parse
from simulator import payloads
from simulator.delivery import DeliveryPlan, SimulatedDelivery, deliver
from simulator.lifecycle import Event
from tests.reliability.deployment import Deployment
from tests.reliability.outputs import Consumed, collect
from tests.reliability.stream import UNTIL_ACCEPTED, PipelineResult, Stream


@dataclass(frozen=True)
class ProbeResult:
    redelivered: int
    #: Output records the redelivery caused (must be 0).
    outputs_after_redelivery: int
    advanced: int
    #: Transaction id -> previous_status of its new status record (must be "approved").
    previous_status: dict[str, str | None]

    def to_dict(self) -> dict[str, Any]:
        wrong = sum(1 for status in self.previous_status.values() if status != "approved")
        return {
            "redelivered": self.redelivered,
            "outputs_after_redelivery": self.outputs_after_redelivery,
            "advanced_transactions": self.advanced,
            "previous_status_wrong": wrong + self.advanced - len(self.previous_status),
        }


def assert_pipeline_intact(
    outcome: PipelineResult, probe: ProbeResult, *, exactly_once: bool
) -> None:
    """What every fault test of the stream checks once the stream is through: nothing lost
    or invented, statuses right, no DLQ, no repeats under exactly-once, both tables intact."""
    assert outcome.tally.lost == 0, outcome.tally.missing[:10]
    assert not outcome.tally.unexpected, outcome.tally.unexpected[:10]
    assert not outcome.status_mismatches, outcome.status_mismatches
    assert outcome.dlq_records == 0
    if exactly_once:
        assert outcome.tally.duplicates == 0, outcome.to_dict()
    assert probe.outputs_after_redelivery == 0, probe.to_dict()
    assert probe.advanced > 0
    assert probe.previous_status == dict.fromkeys(probe.previous_status, "approved")
    assert len(probe.previous_status) == probe.advanced, probe.to_dict()


async def probe_tables(deployment: Deployment, stream: Stream, records_before: int) -> ProbeResult:
    """Run both probes; ``records_before`` is how many output records exist already."""
    topics = deployment.topics
    outputs = sorted({*topics.per_type(), topics.unknown, topics.status, topics.anomalies})
    redelivery = DeliveryPlan(tuple(SimulatedDelivery(event) for event in stream.scenario.events))
    advance = _advance_approved(stream.scenario.events)
    await _post(deployment, redelivery)
    await _post(deployment, DeliveryPlan(tuple(SimulatedDelivery(event) for event in advance)))
    await deployment.wait_caught_up(within=60)
    expected = records_before + 2 * len(advance)  # one event and one status record each
    records = await collect(
        deployment.bootstrap,
        outputs,
        done=lambda found: len(found) >= expected,
        within=60,
        settle=2.0,
    )
    advanced_ids = {event.entity_id for event in advance}
    return ProbeResult(
        redelivered=len(redelivery),
        outputs_after_redelivery=len(records) - expected,
        advanced=len(advance),
        previous_status=_previous_status(records, topics.status, advanced_ids),
    )


async def _post(deployment: Deployment, plan: DeliveryPlan) -> None:
    report = await deliver(
        plan, deployment.url, deployment.secret, concurrency=8, rate=60.0, retry=UNTIL_ACCEPTED,
        deadline=60.0,
    )  # fmt: skip
    if not report.ok:
        raise AssertionError(f"probe deliveries failed: {report.to_dict()}")


def _advance_approved(events: Sequence[Event]) -> list[Event]:
    """For each transaction whose newest event says approved: a newer one saying transferred."""
    latest: dict[str, Event] = {}
    for event in events:
        if event.object != "transaction":
            continue
        known = latest.get(event.entity_id)
        if known is None or event.updated_at_ms > known.updated_at_ms:
            latest[event.entity_id] = event
    return [_transferred(event) for event in latest.values() if event.status == "approved"]


def _transferred(event: Event) -> Event:
    at_ms = event.updated_at_ms + 1_000
    document = orjson.loads(event.body)
    entity = document["entity"]
    entity.update(
        status="transferred",
        updated_at=payloads.iso_ms(at_ms),
        transferred_at=payloads.iso_ms(at_ms),
    )
    entity_json = payloads.dumps(entity)
    name = "transaction.updated"
    body = payloads.assemble(name, "transaction", entity_json, event.account_json)
    return Event(
        name=name,
        object="transaction",
        entity_id=event.entity_id,
        status="transferred",
        updated_at=payloads.iso_ms(at_ms),
        updated_at_ms=at_ms,
        dedup_key=parse(body).dedup_key,
        illegal=False,
        entity_json=entity_json,
        account_json=event.account_json,
    )


def _previous_status(
    records: Sequence[Consumed], status_topic: str, ids: set[str]
) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for record in records:
        if record.topic != status_topic or record.value is None:
            continue
        document = orjson.loads(record.value)
        tx_id = str(document["transaction_id"])
        if tx_id in ids and document["status"] == "transferred":
            found[tx_id] = document.get("previous_status")
    return found
