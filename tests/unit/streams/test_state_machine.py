"""The transaction state machine, by table: every transition, stale, skips, twins, conflicts."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.records import STATUSES, Status
from simulator.lifecycle import ILLEGAL_TARGETS, LEGAL_TRANSITIONS
from streams.clock import iso_ms
from streams.state_machine import (
    HISTORY_LIMIT,
    Observation,
    Outcome,
    Step,
    TransactionState,
    advance,
    is_legal,
)

T0 = 1_708_343_266_047

#: Every legal (source, target) pair with source != target, written out by hand:
#: FedaPay's direct transitions plus every skip along them.
LEGAL: dict[str, set[str]] = {
    "pending": {
        "approved", "declined", "canceled", "expired", "transferred", "refunded",
        "approved_partially_refunded", "transferred_partially_refunded",
    },
    "declined": {
        "approved", "canceled", "transferred", "refunded",
        "approved_partially_refunded", "transferred_partially_refunded",
    },
    "canceled": {
        "approved", "declined", "transferred", "refunded",
        "approved_partially_refunded", "transferred_partially_refunded",
    },
    "approved": {
        "transferred", "refunded", "approved_partially_refunded",
        "transferred_partially_refunded",
    },
    "approved_partially_refunded": {"refunded", "transferred_partially_refunded"},
    "transferred": {"refunded", "transferred_partially_refunded"},
    "transferred_partially_refunded": {"refunded"},
    "expired": set(),
    "refunded": set(),
}  # fmt: skip


def obs(status: str, at_ms: int | None, event: str = "transaction.updated") -> Observation:
    updated_at = None if at_ms is None else iso_ms(at_ms)
    return Observation(
        transaction_id="42",
        status=status,
        updated_at=updated_at,
        event=event,
        dedup_key=f"{event}:transaction:42:{updated_at}",
        reference="trx_x",
        amount=1000,
        currency="XOF",
    )


def run(*observations: Observation) -> tuple[TransactionState | None, list[Step]]:
    state: TransactionState | None = None
    steps = []
    for observation in observations:
        step = advance(state, observation)
        steps.append(step)
        state = step.state
    return state, steps


def anomalies(steps: list[Step], kind: str = "illegal_transition") -> int:
    return sum(1 for step in steps for anomaly in step.anomalies if anomaly.kind == kind)


ALL_PAIRS = [(source, target) for source in STATUSES for target in STATUSES]


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{s}->{t}" for s, t in ALL_PAIRS])
def test_every_transition_newer(source: Status, target: Status) -> None:
    state, _ = run(obs(source, T0))
    step = advance(state, obs(target, T0 + 1000))

    assert step.outcome is Outcome.APPLIED
    assert step.state is not None
    assert step.state.status == target
    if source == target:
        assert step.status_record is None
        assert step.anomalies == ()
        return
    assert step.status_record is not None
    assert (step.status_record.previous_status, step.status_record.status) == (source, target)
    if target in LEGAL[source]:
        assert step.anomalies == ()
    else:
        (anomaly,) = step.anomalies
        assert (anomaly.kind, anomaly.from_status, anomaly.to_status) == (
            "illegal_transition",
            source,
            target,
        )
        assert anomaly.applied is True


def test_legality_table_matches_the_hand_written_one() -> None:
    for source, target in ALL_PAIRS:
        assert is_legal(source, target) == (source == target or target in LEGAL[source])


def test_agrees_with_the_simulator() -> None:
    for source, legal in LEGAL_TRANSITIONS.items():
        for target in legal:
            assert is_legal(source, target), f"{source}->{target}"
    for source, illegal in ILLEGAL_TARGETS.items():
        for target in illegal:
            assert not is_legal(source, target), f"{source}->{target}"


@pytest.mark.parametrize(
    ("path", "records", "illegal"),
    [
        (("pending", "approved", "transferred"), 3, 0),
        (("pending", "transferred"), 2, 0),  # a skip along a legal path
        (("pending", "declined", "approved"), 3, 0),  # retry after declined
        (("pending", "canceled", "approved"), 3, 0),  # retry after canceled
        (("pending", "declined", "canceled", "approved", "refunded"), 5, 0),
        (("pending", "approved", "approved_partially_refunded", "refunded"), 4, 0),
        (("pending", "approved", "pending"), 3, 1),
        (("pending", "approved", "refunded", "approved"), 4, 1),
        (("pending", "expired", "approved"), 3, 1),
        (("pending", "approved", "pending", "approved", "declined"), 5, 2),
    ],
    ids=[
        "happy",
        "skip",
        "retry-declined",
        "retry-canceled",
        "declined-canceled-approved",
        "partial-refund",
        "approved-pending",
        "refunded-approved",
        "expired-approved",
        "two-illegal-steps",
    ],
)
def test_paths_in_order(path: tuple[str, ...], records: int, illegal: int) -> None:
    state, steps = run(*(obs(status, T0 + i * 1000) for i, status in enumerate(path)))

    assert state is not None
    assert state.status == path[-1]
    assert sum(1 for step in steps if step.status_record is not None) == records
    assert anomalies(steps) == illegal


def test_stale_delivery_keeps_the_state_and_is_counted() -> None:
    state, _ = run(obs("pending", T0), obs("approved", T0 + 2000))
    step = advance(state, obs("pending", T0 + 1000))

    assert step.outcome is Outcome.STALE
    assert step.status_record is None
    assert step.anomalies == ()
    assert step.state is not None
    assert step.state.status == "approved"
    assert step.state.stale_deliveries == 1


def test_twin_with_equal_updated_at_and_status_is_not_a_change() -> None:
    state, _ = run(obs("pending", T0), obs("approved", T0 + 1000, "transaction.approved"))
    step = advance(state, obs("approved", T0 + 1000, "transaction.updated"))

    assert step.outcome is Outcome.UNCHANGED
    assert step.state is state
    assert step.status_record is None
    assert step.anomalies == ()


def test_newer_same_status_is_applied_silently() -> None:
    state, _ = run(obs("approved", T0))
    step = advance(state, obs("approved", T0 + 1000))

    assert step.outcome is Outcome.APPLIED
    assert step.status_record is None
    assert step.state is not None
    assert step.state.updated_at == iso_ms(T0 + 1000)


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        ("approved", "declined", "approved"),
        ("declined", "approved", "approved"),
        ("pending", "canceled", "canceled"),
        ("refunded", "transferred", "refunded"),
    ],
    ids=["approved-first", "declined-first", "pending-canceled", "refunded-transferred"],
)
def test_equal_updated_at_with_different_status(first: str, second: str, kept: str) -> None:
    state, steps = run(obs("pending", T0 - 1000), obs(first, T0), obs(second, T0))
    other_order, _ = run(obs("pending", T0 - 1000), obs(second, T0), obs(first, T0))

    assert state is not None
    assert other_order is not None
    assert state.status == kept == other_order.status
    assert anomalies(steps, "conflicting_status") == 1
    assert steps[-1].outcome is Outcome.CONFLICT
    changed = kept == second
    assert (steps[-1].status_record is not None) == changed


@pytest.mark.parametrize(
    ("status", "at_ms", "kind"),
    [("cancelled", T0, "unknown_status"), ("approved", None, "invalid_updated_at")],
    ids=["misspelt-status", "no-updated-at"],
)
def test_events_that_cannot_be_placed(status: str, at_ms: int | None, kind: str) -> None:
    state, _ = run(obs("pending", T0 - 1000))
    assert state is not None
    step = advance(state, obs(status, at_ms))

    assert step.outcome is Outcome.REJECTED
    assert step.status_record is None
    assert [anomaly.kind for anomaly in step.anomalies] == [kind]
    assert step.state is not None
    assert step.state.history == state.history


def test_unknown_status_first_leaves_no_state() -> None:
    step = advance(None, obs("paid", T0))

    assert step.state is None
    assert [anomaly.kind for anomaly in step.anomalies] == ["unknown_status"]


def test_first_event_has_no_previous_status() -> None:
    step = advance(None, obs("approved", T0, "transaction.approved"))

    assert step.status_record is not None
    assert step.status_record.previous_status is None
    assert step.status_record.event == "transaction.approved"
    assert (step.status_record.amount, step.status_record.currency) == (1000, "XOF")


@pytest.mark.parametrize(
    "timeline",
    [
        ("pending", "approved", "pending"),
        ("pending", "approved", "transferred", "approved"),
        ("pending", "declined", "pending"),
        ("pending", "approved", "refunded", "approved"),
        ("pending", "approved", "transferred", "refunded", "pending"),
    ],
    ids=lambda path: "-".join(path),
)
def test_one_anomaly_per_illegal_step_in_every_arrival_order(timeline: tuple[str, ...]) -> None:
    points = [obs(status, T0 + i * 1000) for i, status in enumerate(timeline)]
    for order in itertools.permutations(points):
        state, steps = run(*order)
        assert state is not None
        assert state.status == timeline[-1], order
        assert anomalies(steps) == 1, [o.status for o in order]


def test_older_than_the_kept_history_is_stale() -> None:
    state, _ = run(*(obs("approved", T0 + i * 1000) for i in range(1, HISTORY_LIMIT + 1)))
    assert state is not None
    assert len(state.history) == HISTORY_LIMIT
    step = advance(state, obs("pending", T0))

    assert step.outcome is Outcome.STALE
    assert step.anomalies == ()
    assert step.state is not None
    assert step.state.history == state.history


def _illegal_steps(timeline: list[Status]) -> int:
    return sum(1 for a, b in itertools.pairwise(timeline) if not is_legal(a, b))


@settings(max_examples=300, deadline=None)
@given(
    timeline=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=12),
    data=st.data(),
)
def test_outcome_does_not_depend_on_arrival_order(
    timeline: list[Status], data: st.DataObject
) -> None:
    """Any timeline, any order, with repeats: one anomaly per illegal step, newest status wins."""
    points = [obs(status, T0 + i * 997) for i, status in enumerate(timeline)]
    repeats = data.draw(st.lists(st.sampled_from(points), max_size=6))
    order = data.draw(st.permutations([*points, *repeats]))
    state, steps = run(*order)

    assert state is not None
    assert state.status == timeline[-1]
    assert anomalies(steps) == _illegal_steps(timeline)
    assert [p.status for p in state.history] == timeline
    changes = sum(1 for step in steps if step.status_record is not None)
    assert changes >= 1


def test_state_counts_anomalies_and_stale() -> None:
    state, _ = run(obs("approved", T0 + 2000), obs("pending", T0 + 3000), obs("pending", T0))
    assert state is not None
    assert (state.status, state.anomalies, state.stale_deliveries) == ("pending", 1, 1)
