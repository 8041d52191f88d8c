"""Seeded transaction and customer lifecycles, as the events FedaPay would send.

Pure: one ``random.Random(seed)`` drives everything, so a seed always gives the
same bodies. :func:`generate` returns a :class:`Scenario`: the events in the
order FedaPay emits them (by ``updated_at``) and the :class:`Truth` a test
asserts against. The truth is computed here from the generated states only;
the one piece of bridge code it shares is the dedup key
(:func:`schemas.envelope.parse`), so that both sides agree on what a
duplicate is.

Lifecycles follow FedaPay's statuses: ``pending`` at ``transaction.created``;
then approved, declined, canceled or expired (or still pending); declined and
canceled may later be approved (the customer pays again); approved may be
transferred; approved and transferred may be refunded in full or in part.
Each status change fires its named event (partial refunds fire
``transaction.refunded``) and a ``transaction.updated`` twin with the same
entity. Some ``transaction.updated`` carry no status change (the merchant's
``custom_metadata`` changed). ``updated_at`` strictly increases within an
entity, a few seconds per step, on a millisecond clock.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from schemas.envelope import parse
from simulator import payloads
from simulator.payloads import Customer, Merchant, Refund, Transaction

#: 2024-02-19T11:47:46.047Z, the creation time of the real delivery's transaction.
DEFAULT_START_MS: Final = 1_708_343_266_047
MAX_TRANSACTIONS: Final = 1_000_000
MAX_CUSTOMERS: Final = 1_000_000
#: Ids reserved for test traffic (``helm test``, ``simulate --reserved-ids``): transaction, customer
#: and refund ids of such a scenario all lie in ``[RESERVED_IDS_START, RESERVED_IDS_END)``, far
#: above FedaPay's own sequential ids, so a consumer can tell test events apart and they never
#: collide with a real transaction's dedup entries or status.
RESERVED_IDS_START: Final = 900_000_000_000
RESERVED_IDS_END: Final = 901_000_000_000

STATUSES: Final = (
    "pending",
    "approved",
    "declined",
    "canceled",
    "expired",
    "transferred",
    "refunded",
    "approved_partially_refunded",
    "transferred_partially_refunded",
)

#: The direct transitions this simulator generates (all legal for FedaPay).
LEGAL_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "pending": frozenset({"approved", "declined", "canceled", "expired"}),
    "declined": frozenset({"approved"}),
    "canceled": frozenset({"approved"}),
    "approved": frozenset({"transferred", "refunded", "approved_partially_refunded"}),
    "transferred": frozenset({"refunded", "transferred_partially_refunded"}),
    "expired": frozenset(),
    "refunded": frozenset(),
    "approved_partially_refunded": frozenset(),
    "transferred_partially_refunded": frozenset(),
}

#: Injected transitions: none of these targets is reachable from the source.
ILLEGAL_TARGETS: Final[Mapping[str, tuple[str, ...]]] = {
    "approved": ("pending", "declined"),
    "declined": ("pending",),
    "canceled": ("pending",),
    "expired": ("pending",),
    "transferred": ("declined", "pending", "approved"),
    "refunded": ("approved", "pending"),
    "approved_partially_refunded": ("pending", "declined"),
    "transferred_partially_refunded": ("approved", "pending"),
}

#: The named event a change into a status fires (besides ``transaction.updated``).
STATUS_EVENTS: Final[Mapping[str, str]] = {
    "approved": "transaction.approved",
    "declined": "transaction.declined",
    "canceled": "transaction.canceled",
    "expired": "transaction.expired",
    "transferred": "transaction.transferred",
    "refunded": "transaction.refunded",
    "approved_partially_refunded": "transaction.refunded",
    "transferred_partially_refunded": "transaction.refunded",
}

UPDATED: Final = "transaction.updated"
CREATED: Final = "transaction.created"

# Next status and its weight; ``None`` ends the lifecycle.
_NEXT: Final[Mapping[str, tuple[tuple[str | None, float], ...]]] = {
    "pending": (
        ("approved", 0.62),
        ("declined", 0.14),
        ("canceled", 0.10),
        ("expired", 0.09),
        (None, 0.05),
    ),
    "declined": (("approved", 0.3), (None, 0.7)),
    "canceled": (("approved", 0.3), (None, 0.7)),
    "approved": (
        ("transferred", 0.45),
        ("refunded", 0.06),
        ("approved_partially_refunded", 0.06),
        (None, 0.43),
    ),
    "transferred": (("refunded", 0.05), ("transferred_partially_refunded", 0.05), (None, 0.9)),
}

_REFUND_STATUSES: Final = frozenset(
    {"refunded", "approved_partially_refunded", "transferred_partially_refunded"}
)
_STEP_MS: Final = (400, 5_000)
_ARRIVAL_MEAN_MS: Final = 40.0


@dataclass(frozen=True, slots=True)
class Event:
    """One event as FedaPay emits it (before any duplicate or reordering)."""

    name: str
    object: str
    entity_id: str
    #: The transaction status the body shows; ``None`` for customer events.
    status: str | None
    updated_at: str
    updated_at_ms: int
    dedup_key: str
    #: True for the injected illegal-but-newer transition.
    illegal: bool
    entity_json: bytes = field(repr=False)
    account_json: bytes = field(repr=False)

    @property
    def body(self) -> bytes:
        """The exact bytes FedaPay posts (rebuilt on demand to save memory)."""
        return payloads.assemble(self.name, self.object, self.entity_json, self.account_json)

    @property
    def key(self) -> str:
        """The record key the ingress derives: ``<object>:<entity.id>``."""
        return f"{self.object}:{self.entity_id}"


@dataclass(frozen=True, slots=True)
class Truth:
    """What a correct pipeline must conclude from the scenario's events."""

    #: Transaction id → ``entity.status`` at its newest ``updated_at``.
    final_status: Mapping[str, str]
    #: Event name → number of distinct events (duplicates not counted).
    events_per_name: Mapping[str, int]
    #: Transaction id → injected illegal transitions (only ids with at least one).
    illegal_per_transaction: Mapping[str, int]
    #: Every distinct dedup key; one per distinct event.
    dedup_keys: frozenset[str]
    #: Status → number of times a transaction entered it (creation enters pending).
    entered_status: Mapping[str, int]
    #: Transaction id → its statuses in ``updated_at`` order, one per change.
    history: Mapping[str, tuple[str, ...]]

    @property
    def distinct_events(self) -> int:
        return sum(self.events_per_name.values())

    @property
    def illegal_total(self) -> int:
        return sum(self.illegal_per_transaction.values())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (dedup keys and histories left out)."""
        return {
            "transactions": len(self.final_status),
            "distinct_events": self.distinct_events,
            "events_per_name": dict(sorted(self.events_per_name.items())),
            "final_status_counts": dict(sorted(Counter(self.final_status.values()).items())),
            "entered_status": dict(sorted(self.entered_status.items())),
            "illegal_total": self.illegal_total,
        }


@dataclass(frozen=True, slots=True)
class Scenario:
    seed: int
    events: tuple[Event, ...]
    truth: Truth


def generate(
    transactions: int,
    customers: int = 0,
    *,
    seed: int = 0,
    illegal: float = 0.0,
    metadata_updates: float = 0.15,
    start_ms: int = DEFAULT_START_MS,
    reserved_ids: bool = False,
) -> Scenario:
    """``transactions`` lifecycles and ``customers`` customer histories.

    With ``reserved_ids`` every transaction, customer and refund id is taken from the range
    reserved for test traffic (``RESERVED_IDS_START`` and up); the bodies are otherwise the same.

    ``illegal`` is the exact fraction (rounded) of transactions that end with
    one injected illegal transition, sent as a newer ``transaction.updated``.
    ``metadata_updates`` is the chance, before each step, of a
    ``transaction.updated`` that changes no status. With ``customers`` > 0 each
    transaction pays as one of them; otherwise as an anonymous customer created
    with it (FedaPay's checkout), which fires no event.
    """
    _check_count("transactions", transactions, MAX_TRANSACTIONS)
    _check_count("customers", customers, MAX_CUSTOMERS)
    _check_fraction("illegal", illegal)
    _check_fraction("metadata_updates", metadata_updates)
    rng = random.Random(seed)
    id_base = RESERVED_IDS_START if reserved_ids else 0
    builder = _Builder(rng, payloads.build_merchant(rng, start_ms - 1_989_000_000), id_base)
    pool = builder.customers(customers, start_ms)
    chosen = set(rng.sample(range(transactions), round(illegal * transactions)))
    at_ms = start_ms
    for index in range(transactions):
        at_ms += 1 + int(rng.expovariate(1.0 / _ARRIVAL_MEAN_MS))
        builder.transaction(at_ms, pool, inject=index in chosen, metadata_updates=metadata_updates)
    events = tuple(event for _, event in sorted(builder.events, key=lambda pair: pair[0]))
    return Scenario(seed=seed, events=events, truth=compute_truth(events))


def _check_count(name: str, value: int, maximum: int) -> None:
    if not 0 <= value <= maximum:
        raise ValueError(f"{name} must be between 0 and {maximum}, got {value}")


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def _weighted(rng: random.Random, choices: Sequence[tuple[str | None, float]]) -> str | None:
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights)[0]


class _Builder:
    """Accumulates events with a sort key ``(updated_at_ms, sequence)``."""

    def __init__(self, rng: random.Random, merchant: Merchant, id_base: int = 0) -> None:
        self.rng = rng
        self.merchant = merchant
        self.events: list[tuple[tuple[int, int], Event]] = []
        # At most 1e6 transactions (customers) of at most 5 (3) ids each: with id_base at
        # RESERVED_IDS_START every id stays below RESERVED_IDS_END.
        self._next_transaction_id = id_base + rng.randrange(100_000, 900_000)
        self._next_customer_id = id_base + rng.randrange(10_000, 90_000)
        self._next_refund_id = id_base + rng.randrange(1_000, 9_000)

    # ----------------------------------------------------------------- customers

    def customers(self, count: int, start_ms: int) -> list[Customer]:
        """Customer histories before ``start_ms``; returns the ones still active."""
        pool = []
        for _ in range(count):
            created = start_ms - self.rng.randrange(1_000, 600_000)
            customer = payloads.random_customer(
                self.rng, self._customer_id(), self.merchant.account_id, created
            )
            latest = self._customer_history(customer)
            if latest.deleted_ms is None:
                pool.append(latest)
        return pool

    def _customer_history(self, customer: Customer) -> Customer:
        self._emit("customer.created", customer, illegal=False)
        state = customer
        for revision in range(self.rng.choice((0, 0, 1, 1, 2))):
            state = replace(
                state,
                updated_ms=self._step(state.updated_ms),
                email=f"customer{state.id}.{revision + 1}@example.com",
            )
            self._emit("customer.updated", state, illegal=False)
        if self.rng.random() < 0.05:
            at = self._step(state.updated_ms)
            state = replace(state, updated_ms=at, deleted_ms=at)
            self._emit("customer.deleted", state, illegal=False)
        return state

    def _customer_id(self) -> int:
        self._next_customer_id += self.rng.randrange(1, 4)
        return self._next_customer_id

    # -------------------------------------------------------------- transactions

    def transaction(
        self, at_ms: int, pool: Sequence[Customer], *, inject: bool, metadata_updates: float
    ) -> None:
        self._next_transaction_id += self.rng.randrange(1, 6)
        if pool:
            customer = self.rng.choice(pool)
        else:
            customer = payloads.anonymous_customer(
                self._customer_id(), self.merchant.account_id, at_ms - 5
            )
        tx = payloads.random_transaction(
            self.rng, self._next_transaction_id, self.merchant, customer, at_ms
        )
        self._emit(CREATED, tx, illegal=False)
        for status in self._path(must_leave_pending=inject):
            if self.rng.random() < metadata_updates:
                tx = self._touch(tx)
            tx = self._change(tx, status)
        if inject:
            target = self.rng.choice(ILLEGAL_TARGETS[tx.status])
            at = self._step(tx.updated_ms)
            tx = replace(tx, status=target, updated_ms=at)
            self._emit(UPDATED, tx, illegal=True)

    def _path(self, *, must_leave_pending: bool) -> Iterator[str]:
        status = "pending"
        while status in _NEXT:
            choices = _NEXT[status]
            if status == "pending" and must_leave_pending:
                choices = tuple(pair for pair in choices if pair[0] is not None)
            following = _weighted(self.rng, choices)
            if following is None:
                return
            yield following
            status = following

    def _touch(self, tx: Transaction) -> Transaction:
        revision = 1 if tx.custom_metadata is None else int(tx.custom_metadata["revision"]) + 1
        metadata = {"order_id": tx.reference[-6:], "revision": revision}
        tx = replace(tx, updated_ms=self._step(tx.updated_ms), custom_metadata=metadata)
        self._emit(UPDATED, tx, illegal=False)
        return tx

    def _change(self, tx: Transaction, status: str) -> Transaction:
        at = self._step(tx.updated_ms)
        stamps = dict(tx.stamps)
        stamp_field = payloads.STATUS_TIMESTAMP_FIELD.get(status)
        if stamp_field is not None:
            stamps[stamp_field] = at - self.rng.randrange(1, 80)
        tx = replace(
            tx,
            status=status,
            updated_ms=at,
            stamps=stamps,
            last_error_code=self._error_code(tx, status),
            refunds=self._refunds(tx, status, at),
        )
        self._emit(STATUS_EVENTS[status], tx, illegal=False)
        self._emit(UPDATED, tx, illegal=False)
        return tx

    def _error_code(self, tx: Transaction, status: str) -> str | None:
        if status == "declined":
            return self.rng.choice(payloads.DECLINE_ERROR_CODES)
        return tx.last_error_code

    def _refunds(self, tx: Transaction, status: str, at: int) -> tuple[Refund, ...]:
        if status not in _REFUND_STATUSES:
            return tx.refunds
        self._next_refund_id += 1
        amount = tx.amount if status == "refunded" else tx.amount // 2
        return (*tx.refunds, Refund(self._next_refund_id, amount, at))

    # -------------------------------------------------------------------- events

    def _step(self, after_ms: int) -> int:
        return after_ms + self.rng.randrange(*_STEP_MS)

    def _emit(self, name: str, state: Transaction | Customer, illegal: bool) -> None:
        obj = "transaction" if isinstance(state, Transaction) else "customer"
        entity = payloads.entity_json(state)
        body = payloads.assemble(name, obj, entity, self.merchant.account_json)
        event = Event(
            name=name,
            object=obj,
            entity_id=str(state.id),
            status=state.status if isinstance(state, Transaction) else None,
            updated_at=payloads.iso_ms(state.updated_ms),
            updated_at_ms=state.updated_ms,
            dedup_key=parse(body).dedup_key,
            illegal=illegal,
            entity_json=entity,
            account_json=self.merchant.account_json,
        )
        self.events.append(((state.updated_ms, len(self.events)), event))


# ------------------------------------------------------------------------- truth


def compute_truth(events: Iterable[Event]) -> Truth:
    """The expected outcome of a stream, from the events' own fields."""
    per_name: Counter[str] = Counter()
    dedup_keys: set[str] = set()
    illegal: Counter[str] = Counter()
    states: defaultdict[str, dict[int, str]] = defaultdict(dict)
    for event in events:
        if event.dedup_key in dedup_keys:
            continue
        dedup_keys.add(event.dedup_key)
        per_name[event.name] += 1
        if event.object != "transaction" or event.status is None:
            continue
        states[event.entity_id][event.updated_at_ms] = event.status
        if event.illegal:
            illegal[event.entity_id] += 1
    history = {tx_id: _changes(by_time) for tx_id, by_time in states.items()}
    entered: Counter[str] = Counter(status for path in history.values() for status in path)
    return Truth(
        final_status={tx_id: path[-1] for tx_id, path in history.items()},
        events_per_name=dict(per_name),
        illegal_per_transaction=dict(illegal),
        dedup_keys=frozenset(dedup_keys),
        entered_status=dict(entered),
        history=history,
    )


def _changes(status_by_time: Mapping[int, str]) -> tuple[str, ...]:
    path: list[str] = []
    for _, status in sorted(status_by_time.items()):
        if not path or path[-1] != status:
            path.append(status)
    return tuple(path)
