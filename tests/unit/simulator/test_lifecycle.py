"""simulator.lifecycle: legal lifecycles, named events, and a truth that holds."""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from simulator.lifecycle import Event, Scenario, compute_truth, generate

# Written from the shared notes on FedaPay, independently of simulator.lifecycle.
LEGAL = {
    ("pending", "approved"),
    ("pending", "declined"),
    ("pending", "canceled"),
    ("pending", "expired"),
    ("declined", "approved"),
    ("canceled", "approved"),
    ("approved", "transferred"),
    ("approved", "refunded"),
    ("approved", "approved_partially_refunded"),
    ("transferred", "refunded"),
    ("transferred", "transferred_partially_refunded"),
}
NAMED = {
    "approved": "transaction.approved",
    "declined": "transaction.declined",
    "canceled": "transaction.canceled",
    "expired": "transaction.expired",
    "transferred": "transaction.transferred",
    "refunded": "transaction.refunded",
    "approved_partially_refunded": "transaction.refunded",
    "transferred_partially_refunded": "transaction.refunded",
}


def transaction_events(scenario: Scenario) -> dict[str, list[Event]]:
    by_id: dict[str, list[Event]] = defaultdict(list)
    for event in scenario.events:
        if event.object == "transaction":
            by_id[event.entity_id].append(event)
    return by_id


def reachable(source: str) -> set[str]:
    seen: set[str] = set()
    frontier = [source]
    while frontier:
        current = frontier.pop()
        for before, after in LEGAL:
            if before == current and after not in seen:
                seen.add(after)
                frontier.append(after)
    return seen


# ------------------------------------------------------------------------ lifecycles


def test_lifecycles_are_legal_except_the_injected_transitions(scenario: Scenario) -> None:
    for events in transaction_events(scenario).values():
        assert events[0].name == "transaction.created"
        assert events[0].status == "pending"
        status = "pending"
        for event in events[1:]:
            assert event.status is not None
            if event.status == status:
                continue
            if event.illegal:
                assert event.status not in reachable(status)
            else:
                assert (status, event.status) in LEGAL
            status = event.status


def test_every_status_change_has_its_named_event_and_a_twin(scenario: Scenario) -> None:
    for events in transaction_events(scenario).values():
        by_time: dict[int, list[Event]] = defaultdict(list)
        for event in events:
            by_time[event.updated_at_ms].append(event)
        status = "pending"
        for stamp in sorted(by_time):
            group = by_time[stamp]
            names = sorted(e.name for e in group)
            changed = group[0].status != status
            if group[0].name == "transaction.created":
                assert names == ["transaction.created"]
            elif changed and not group[0].illegal:
                assert group[0].status is not None
                assert names == sorted([NAMED[group[0].status], "transaction.updated"])
                assert group[0].entity_json == group[1].entity_json
                assert group[0].body != group[1].body
            else:  # metadata update or injected transition: transaction.updated only
                assert names == ["transaction.updated"]
            status = group[0].status or status


def test_updated_at_strictly_increases_within_an_entity(scenario: Scenario) -> None:
    last: dict[str, tuple[int, str]] = {}
    for event in scenario.events:
        previous = last.get(event.key)
        if previous is not None:
            stamp, name = previous
            assert event.updated_at_ms > stamp or (
                event.updated_at_ms == stamp and event.name == "transaction.updated" != name
            )
        last[event.key] = (event.updated_at_ms, event.name)


def test_metadata_updates_exist_without_status_change(scenario: Scenario) -> None:
    touched = 0
    for events in transaction_events(scenario).values():
        for before, after in itertools.pairwise(events):
            if after.name == "transaction.updated" and after.status == before.status:
                touched += after.updated_at_ms > before.updated_at_ms
    assert touched > 0


def test_truth_final_status_is_the_status_at_the_newest_updated_at(scenario: Scenario) -> None:
    newest: dict[str, tuple[str, str]] = {}
    for event in scenario.events:
        entity = orjson.loads(event.body)["entity"]
        if event.object != "transaction":
            continue
        key = str(entity["id"])
        if key not in newest or entity["updated_at"] > newest[key][0]:
            newest[key] = (entity["updated_at"], entity["status"])
    assert scenario.truth.final_status == {key: status for key, (_, status) in newest.items()}
    assert len(scenario.truth.final_status) == 400


def test_truth_counts(scenario: Scenario) -> None:
    truth = scenario.truth
    assert truth.events_per_name == dict(Counter(e.name for e in scenario.events))
    assert truth.dedup_keys == {e.dedup_key for e in scenario.events}
    assert len(truth.dedup_keys) == len(scenario.events)
    assert truth.events_per_name["transaction.created"] == 400
    assert truth.events_per_name["customer.created"] == 30
    assert truth.entered_status["pending"] >= 400
    assert truth.to_dict()["distinct_events"] == len(scenario.events)


def test_illegal_fraction_is_exact_and_one_per_transaction(scenario: Scenario) -> None:
    injected = [e for e in scenario.events if e.illegal]
    assert len(injected) == scenario.truth.illegal_total == 40
    assert all(e.name == "transaction.updated" for e in injected)
    assert scenario.truth.illegal_per_transaction == {e.entity_id: 1 for e in injected}
    for event in injected:  # the injected transition is the transaction's last word
        assert scenario.truth.final_status[event.entity_id] == event.status


def test_truth_ignores_repeated_events(scenario: Scenario) -> None:
    repeated = compute_truth([*scenario.events, *scenario.events[::3]])
    assert repeated == scenario.truth


def test_same_seed_same_bodies() -> None:
    first, again, other = generate(20, 3, seed=5), generate(20, 3, seed=5), generate(20, 3, seed=6)
    assert [e.body for e in first.events] == [e.body for e in again.events]
    assert [e.body for e in first.events] != [e.body for e in other.events]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"transactions": -1}, "transactions"),
        ({"transactions": 1, "illegal": 1.5}, "illegal"),
        ({"transactions": 1, "customers": -2}, "customers"),
    ],
)
def test_generate_rejects_bad_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(**kwargs)
