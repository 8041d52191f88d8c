"""The transaction state machine: one pure function, :func:`advance`.

The truth is ``entity.status`` at ``entity.updated_at`` (FedaPay's clock), never
the order deliveries arrive in. Each transaction's state keeps its recent
timeline: the statuses seen, ordered by ``updated_at``. A delivery is placed in
that timeline:

=========================================  ==========================================
delivery                                    result
=========================================  ==========================================
first one seen for the transaction          applied; status record (previous = null)
newer, legal transition (or a legal skip)   applied; status record if the status changed
newer, same status (metadata update)        applied silently (no status record)
newer, illegal transition                   applied (FedaPay's truth wins); status record
                                            and an ``illegal_transition`` anomaly
older than the newest known (stale)         state kept; counted in ``stale_deliveries``;
                                            inserted in the timeline, so an illegal step
                                            it reveals is still reported
same ``updated_at``, same status            not a change (the ``transaction.updated``
                                            twin of a named event): nothing emitted
same ``updated_at``, different status       ``conflicting_status`` anomaly; the status
                                            later in :data:`LIFECYCLE_ORDER` wins, so the
                                            result does not depend on arrival order
unknown status / unreadable ``updated_at``  state kept; an anomaly
=========================================  ==========================================

Legality: :data:`TRANSITIONS` lists FedaPay's direct transitions; a transition
is legal when its target is reachable from its source through them (so a skip
along a legal path, pending to transferred, is legal) or when the status stays
the same. declined and canceled are not final (the customer may pay again).
Because reachability is transitive, inserting a late delivery between two
points can only add illegal steps, never make one legal again; with each
reported step remembered on its point, every illegal step of the final
timeline is reported exactly once whatever the arrival order.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, cast

from schemas.records import STATUSES, Anomaly, AnomalyKind, Status, StatusRecord
from streams.clock import parse_ms

#: FedaPay's direct status transitions.
TRANSITIONS: Final[Mapping[Status, frozenset[Status]]] = {
    "pending": frozenset({"approved", "declined", "canceled", "expired"}),
    "declined": frozenset({"approved", "canceled"}),
    "canceled": frozenset({"approved", "declined"}),
    "approved": frozenset({"transferred", "refunded", "approved_partially_refunded"}),
    "approved_partially_refunded": frozenset({"refunded", "transferred_partially_refunded"}),
    "transferred": frozenset({"refunded", "transferred_partially_refunded"}),
    "transferred_partially_refunded": frozenset({"refunded"}),
    "expired": frozenset(),
    "refunded": frozenset(),
}

#: Tie-break for two statuses with the same ``updated_at``: the later one here wins.
LIFECYCLE_ORDER: Final[tuple[Status, ...]] = (
    "pending",
    "declined",
    "canceled",
    "expired",
    "approved",
    "approved_partially_refunded",
    "transferred",
    "transferred_partially_refunded",
    "refunded",
)

#: How many timeline points a state keeps (the newest ones).
HISTORY_LIMIT: Final = 32


def _closure(direct: Mapping[Status, frozenset[Status]]) -> dict[str, frozenset[str]]:
    reachable: dict[str, frozenset[str]] = {}
    for source in direct:
        seen: set[str] = set()
        frontier = list(direct[source])
        while frontier:
            status = frontier.pop()
            if status not in seen:
                seen.add(status)
                frontier.extend(direct.get(status, frozenset()))
        reachable[source] = frozenset(seen)
    return reachable


#: Every status reachable from each status through :data:`TRANSITIONS`.
REACHABLE: Final[Mapping[str, frozenset[str]]] = _closure(TRANSITIONS)
_RANK: Final[Mapping[Status, int]] = {status: rank for rank, status in enumerate(LIFECYCLE_ORDER)}


def is_legal(source: str, target: str) -> bool:
    """Whether FedaPay may move a transaction from ``source`` to ``target``."""
    return source == target or target in REACHABLE.get(source, frozenset())


class Outcome(StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    STALE = "stale"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the state machine reads from one transaction event."""

    transaction_id: str
    status: str
    updated_at: str | None
    event: str
    dedup_key: str
    #: The record's ``endpoint`` field (``None``: the raw record had no endpoint header).
    endpoint: str | None = None
    reference: str | None = None
    amount: int | None = None
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Point:
    """One status at one instant of FedaPay's clock."""

    at_ms: int
    status: Status
    updated_at: str
    #: The step from the previous point into this one was reported as an anomaly.
    reported: bool = False


@dataclass(frozen=True, slots=True)
class TransactionState:
    transaction_id: str
    #: Ordered by ``at_ms``, newest last; never empty.
    history: tuple[Point, ...]
    #: Details of the newest delivery that moved the newest point.
    event: str
    dedup_key: str
    reference: str | None = None
    amount: int | None = None
    currency: str | None = None
    stale_deliveries: int = 0
    anomalies: int = 0
    #: The endpoint the transaction belongs to (``None``: raw records without the header).
    endpoint: str | None = None

    @property
    def current(self) -> Point:
        return self.history[-1]

    @property
    def status(self) -> Status:
        return self.current.status

    @property
    def updated_at(self) -> str:
        return self.current.updated_at


@dataclass(frozen=True, slots=True)
class Step:
    """The result of one delivery: the state to store and what to emit."""

    state: TransactionState | None
    outcome: Outcome
    status_record: StatusRecord | None = None
    anomalies: tuple[Anomaly, ...] = ()


def advance(state: TransactionState | None, observation: Observation) -> Step:
    """Place one delivery in a transaction's timeline (see the module docstring)."""
    rejected = _reject(state, observation)
    if rejected is not None:
        return rejected
    status = cast(Status, observation.status)
    at_ms = cast(int, parse_ms(observation.updated_at))
    point = Point(at_ms, status, cast(str, observation.updated_at))
    if state is None:
        first = TransactionState(
            transaction_id=observation.transaction_id,
            endpoint=observation.endpoint,
            history=(point,),
            event=observation.event,
            dedup_key=observation.dedup_key,
            reference=observation.reference,
            amount=observation.amount,
            currency=observation.currency,
        )
        return Step(first, Outcome.APPLIED, _status_record(observation, None))
    history = list(state.history)
    index = bisect.bisect_left([p.at_ms for p in history], at_ms)
    if index < len(history) and history[index].at_ms == at_ms:
        return _same_instant(state, history, index, point, observation)
    if index == 0 and len(history) >= HISTORY_LIMIT:
        return Step(_counted_stale(state), Outcome.STALE)
    history.insert(index, point)
    anomalies = _check_inserted(history, index, observation)
    return _finish(state, history, index, anomalies, observation, Outcome.APPLIED)


def _reject(state: TransactionState | None, observation: Observation) -> Step | None:
    kind: AnomalyKind
    if observation.status not in STATUSES:
        kind, detail = "unknown_status", f"entity.status {observation.status!r} is not known"
    elif parse_ms(observation.updated_at) is None:
        kind, detail = "invalid_updated_at", "entity.updated_at is missing or not ISO 8601"
    else:
        return None
    anomaly = Anomaly(
        kind=kind,
        transaction_id=observation.transaction_id,
        endpoint=observation.endpoint,
        from_status=None if state is None else state.status,
        to_status=observation.status,
        from_updated_at=None if state is None else state.updated_at,
        to_updated_at=observation.updated_at,
        event=observation.event,
        dedup_key=observation.dedup_key,
        applied=False,
        detail=detail,
    )
    counted = None if state is None else replace(state, anomalies=state.anomalies + 1)
    return Step(counted, Outcome.REJECTED, None, (anomaly,))


def _same_instant(
    state: TransactionState,
    history: list[Point],
    index: int,
    point: Point,
    observation: Observation,
) -> Step:
    existing = history[index]
    if existing.status == point.status:
        return Step(state, Outcome.UNCHANGED)
    wins = _RANK[point.status] > _RANK[existing.status]
    conflict = Anomaly(
        kind="conflicting_status",
        transaction_id=state.transaction_id,
        endpoint=observation.endpoint,
        from_status=existing.status,
        to_status=point.status,
        from_updated_at=existing.updated_at,
        to_updated_at=point.updated_at,
        event=observation.event,
        dedup_key=observation.dedup_key,
        applied=wins and index == len(history) - 1,
        detail=(
            f"{existing.status} and {point.status} share one updated_at; "
            f"{point.status if wins else existing.status} is kept (lifecycle order)"
        ),
    )
    if not wins:
        counted = replace(state, anomalies=state.anomalies + 1)
        return Step(counted, Outcome.CONFLICT, None, (conflict,))
    history[index] = replace(point, reported=existing.reported)
    anomalies = (conflict, *_check_replaced(history, index, observation))
    return _finish(state, history, index, anomalies, observation, Outcome.CONFLICT)


def _check_inserted(history: list[Point], index: int, observation: Observation) -> list[Anomaly]:
    """Report the illegal steps that the point inserted at ``index`` creates.

    If the step it splits had been reported, that report moves to one of the two
    new steps (at least one is illegal, by transitivity) instead of repeating.
    """
    before = history[index - 1] if index > 0 else None
    point = history[index]
    after = history[index + 1] if index + 1 < len(history) else None
    illegal_in = before is not None and not is_legal(before.status, point.status)
    illegal_out = after is not None and not is_legal(point.status, after.status)
    carried = after is not None and after.reported
    reported_in = carried and illegal_in and not illegal_out
    reported_out = carried and illegal_out
    anomalies = []
    newest = index == len(history) - 1
    if illegal_in and not reported_in and before is not None:
        reported_in = True
        anomalies.append(_illegal(before, point, observation, applied=newest))
    if illegal_out and not reported_out and after is not None:
        reported_out = True
        anomalies.append(_illegal(point, after, observation, applied=False))
    history[index] = replace(point, reported=reported_in)
    if after is not None:
        history[index + 1] = replace(after, reported=reported_out)
    return anomalies


def _check_replaced(history: list[Point], index: int, observation: Observation) -> list[Anomaly]:
    """Re-check both steps around a point whose status was replaced in place."""
    anomalies = []
    newest = index == len(history) - 1
    point = history[index]
    if index > 0:
        before = history[index - 1]
        illegal = not is_legal(before.status, point.status)
        if illegal and not point.reported:
            anomalies.append(_illegal(before, point, observation, applied=newest))
        point = replace(point, reported=illegal)
        history[index] = point
    if index + 1 < len(history):
        after = history[index + 1]
        illegal = not is_legal(point.status, after.status)
        if illegal and not after.reported:
            anomalies.append(_illegal(point, after, observation, applied=False))
        history[index + 1] = replace(after, reported=illegal)
    return anomalies


def _finish(
    state: TransactionState,
    history: list[Point],
    index: int,
    anomalies: list[Anomaly] | tuple[Anomaly, ...],
    observation: Observation,
    outcome: Outcome,
) -> Step:
    trimmed = tuple(history[-HISTORY_LIMIT:])
    counted = replace(state, history=trimmed, anomalies=state.anomalies + len(anomalies))
    if index < len(history) - 1:
        if outcome is Outcome.APPLIED:
            counted = _counted_stale(counted)
            outcome = Outcome.STALE
        return Step(counted, outcome, None, tuple(anomalies))
    new_state = _with_details(counted, observation)
    record = None
    if state.status != new_state.status:
        record = _status_record(observation, state.status)
    return Step(new_state, outcome, record, tuple(anomalies))


def _counted_stale(state: TransactionState) -> TransactionState:
    return replace(state, stale_deliveries=state.stale_deliveries + 1)


def _with_details(state: TransactionState, observation: Observation) -> TransactionState:
    return replace(
        state,
        event=observation.event,
        dedup_key=observation.dedup_key,
        reference=observation.reference,
        amount=observation.amount,
        currency=observation.currency,
    )


def _status_record(observation: Observation, previous: Status | None) -> StatusRecord:
    return StatusRecord(
        transaction_id=observation.transaction_id,
        endpoint=observation.endpoint,
        status=cast(Status, observation.status),
        previous_status=previous,
        updated_at=cast(str, observation.updated_at),
        event=observation.event,
        dedup_key=observation.dedup_key,
        reference=observation.reference,
        amount=observation.amount,
        currency=observation.currency,
    )


def _illegal(source: Point, target: Point, observation: Observation, *, applied: bool) -> Anomaly:
    return Anomaly(
        kind="illegal_transition",
        transaction_id=observation.transaction_id,
        endpoint=observation.endpoint,
        from_status=source.status,
        to_status=target.status,
        from_updated_at=source.updated_at,
        to_updated_at=target.updated_at,
        event=observation.event,
        dedup_key=observation.dedup_key,
        applied=applied,
        detail=f"{source.status} -> {target.status} is not a legal transition",
    )
