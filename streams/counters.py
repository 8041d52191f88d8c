"""The metric counters and the summary read from them, declared once. Pure.

A window's aggregate is a flat counter map (``dict[str, int]``); each name is a
:class:`CounterSpec`'s name followed by its dimension values, separated by ``|``
(``tx|XOF|mtn|approved``). A spec says what one processed record adds to it
(:attr:`CounterSpec.count`; :func:`increments_of` sums them), and :data:`READINGS`
say how a summary reads the counters (one JSON field each, with its description
and schema). From these
declarations come the increments (:mod:`streams.aggregates`), the summaries, the
query filters, the OpenAPI schema of a summary (:mod:`streams.openapi`), the
totals of ``fedapay-bridge query`` (:mod:`streams.query_cli`) and the metrics
table of ``streams/QUERY_API.md`` (generated, and checked by a test).

Adding a metric: a :class:`CounterSpec` in :data:`COUNTERS` and a :class:`Reading`
in :data:`READINGS`, here. ``-`` stands for a missing (or unusable) dimension value.

Latency is the time from the ingress receiving a delivery to the worker having
its outputs acknowledged, in a fixed histogram (:data:`LATENCY_BOUNDS_MS`). A
percentile reads as the upper bound of the bucket holding it: it is never
below the true value and at most the bucket's width above it (the bounds grow
by a factor of 2 to 2.5, so the error is below 150 % of the true value, and 0
for the bucket's own bound); above the last bound it reads as ``null``
(reported as ``">300000"``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from streams.pipeline import ParsedEvent, Plan
from streams.state_machine import Outcome

SEPARATOR: Final = "|"
MISSING: Final = "-"
#: Upper bounds (inclusive) of the latency buckets, in milliseconds; one more bucket above.
LATENCY_BOUNDS_MS: Final = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
)  # fmt: skip
#: Statuses that end an attempt to pay (for the approval rate).
DECIDED: Final = frozenset({"approved", "declined", "canceled", "expired"})
PERCENTILES: Final = (50, 90, 99)

Counters = dict[str, int]
Values = tuple[str, ...]
#: What one record adds to one counter: (its dimension values, the amount added).
Counts = Iterable[tuple[Values, int]]


@dataclass(frozen=True, slots=True)
class CountedEvent:
    """A raw record that parsed as an event, and what the pipeline planned for it."""

    parsed: ParsedEvent
    plan: Plan
    latency_ms: int


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """A raw record that went to the DLQ."""


Counted = CountedEvent | DeadLettered


@dataclass(frozen=True, slots=True)
class CounterSpec:
    name: str
    #: Its dimensions, in the order of the name.
    dimensions: tuple[str, ...]
    doc: str
    #: What one record adds.
    count: Callable[[Counted], Counts]
    #: Dimensions a query may filter on (``event=...``); the others are not filters.
    filters: tuple[str, ...] = ()

    def key(self, values: Values) -> str:
        return SEPARATOR.join((self.name, *values))


def dimension(value: object) -> str:
    """A dimension value: the text, or :data:`MISSING` when not a usable one."""
    if isinstance(value, str) and value and SEPARATOR not in value:
        return value
    return MISSING


def latency_bucket(latency_ms: int) -> int:
    """Index of the bucket holding ``latency_ms`` (negative latencies count as 0)."""
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


# ------------------------------------------------------------------ what a record adds


def _delivered(seen: Counted) -> Counts:
    return [((), 1)] if isinstance(seen, CountedEvent) else []


def _named(duplicate: bool) -> Callable[[Counted], Counts]:
    def count(seen: Counted) -> Counts:
        if not isinstance(seen, CountedEvent) or seen.plan.duplicate != duplicate:
            return []
        return [((dimension(seen.parsed.envelope.name),), 1)]

    return count


def _latency(seen: Counted) -> Counts:
    if not isinstance(seen, CountedEvent) or seen.plan.duplicate:
        return []
    return [((str(latency_bucket(seen.latency_ms)),), 1)]


def _stale(seen: Counted) -> Counts:
    stale = isinstance(seen, CountedEvent) and seen.plan.outcome is Outcome.STALE
    return [((), 1)] if stale else []


def _transaction(seen: Counted) -> Values | None:
    """Currency, mode and status of the status record a record made, if any."""
    if not isinstance(seen, CountedEvent) or seen.plan.status is None:
        return None
    entity = seen.parsed.envelope.body.get("entity")
    mode = entity.get("mode") if isinstance(entity, dict) else None
    record = seen.plan.status
    return dimension(record.currency), dimension(mode), dimension(record.status)


def _entered(seen: Counted) -> Counts:
    values = _transaction(seen)
    return [] if values is None else [(values, 1)]


def _amount(seen: Counted) -> Counts:
    values = _transaction(seen)
    amount = (
        seen.plan.status.amount if isinstance(seen, CountedEvent) and seen.plan.status else None
    )
    if values is None or not isinstance(amount, int) or isinstance(amount, bool):
        return []
    return [(values, amount)]


def _anomalies(seen: Counted) -> Counts:
    if not isinstance(seen, CountedEvent):
        return []
    return [((dimension(anomaly.kind),), 1) for anomaly in seen.plan.anomalies]


def _dead_lettered(seen: Counted) -> Counts:
    return [((), 1)] if isinstance(seen, DeadLettered) else []


_TX = ("currency", "mode", "status")

DELIVERIES: Final = CounterSpec(
    "deliveries", (), "raw records that parsed as FedaPay events", _delivered
)
DUPLICATE: Final = CounterSpec(
    "duplicate", ("event",), "deliveries dropped as duplicates", _named(True), ("event",)
)
EVENT: Final = CounterSpec(
    "event", ("event",), "distinct events (duplicates not counted)", _named(False), ("event",)
)
LATENCY: Final = CounterSpec(
    "latency", ("bucket",), "ingress-to-emit latency histogram (bucket index)", _latency
)
STALE: Final = CounterSpec("stale", (), "transaction deliveries older than the state", _stale)
TX: Final = CounterSpec(
    "tx", _TX, "transactions entering `status` (a status record was emitted)", _entered, _TX
)
AMOUNT: Final = CounterSpec("amount", _TX, "sum of `entity.amount` of those", _amount, _TX)
ANOMALY: Final = CounterSpec("anomaly", ("kind",), "anomaly records emitted", _anomalies)
DEAD_LETTER: Final = CounterSpec("dead_letter", (), "raw records sent to the DLQ", _dead_lettered)

#: Every counter, in the order one record's increments are listed (and stored).
COUNTERS: Final = (
    DELIVERIES,
    DUPLICATE,
    EVENT,
    LATENCY,
    STALE,
    TX,
    AMOUNT,
    ANOMALY,
    DEAD_LETTER,
)
_BY_NAME: Final = {spec.name: spec for spec in COUNTERS}
#: The dimensions a metric query filters on, in a stable order.
FILTERS: Final = tuple(dict.fromkeys(name for spec in COUNTERS for name in spec.filters))


def increments_of(seen: Counted) -> Counters:
    """What one record adds to its windows."""
    added: Counter[str] = Counter()
    for spec in COUNTERS:
        for values, amount in spec.count(seen):
            added[spec.key(values)] += amount
    return dict(added)


def parse(name: str) -> tuple[CounterSpec, Values] | None:
    """The spec and dimension values of a counter name; ``None`` for a name of none."""
    head, _, rest = name.partition(SEPARATOR)
    spec = _BY_NAME.get(head)
    values = tuple(rest.split(SEPARATOR)) if rest else ()
    if spec is None or len(values) != len(spec.dimensions):
        return None
    return spec, values


def filters_of(name: str) -> dict[str, str]:
    """The dimensions a counter can be filtered on, with its values."""
    parsed = parse(name)
    if parsed is None:
        return {}
    spec, values = parsed
    return {
        dim: value
        for dim, value in zip(spec.dimensions, values, strict=True)
        if dim in spec.filters
    }


# ------------------------------------------------------------------ reading a summary

#: Counters by spec: each name's dimension values and count.
Parsed = Mapping[CounterSpec, Sequence[tuple[Values, int]]]
_COUNTS: Final = {"type": "object", "additionalProperties": {"type": "integer"}}


@dataclass(frozen=True, slots=True)
class Reading:
    """One field of a summary: how it reads the counters, and how it is documented."""

    name: str
    doc: str
    read: Callable[[Parsed], Any]
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "integer"})
    #: Its row in the totals of ``fedapay-bridge query`` ("": none).
    label: str = ""

    def documented(self) -> dict[str, Any]:
        """Its JSON Schema with its description (after the type)."""
        return {"type": self.schema["type"], "description": self.doc, **self.schema}


def total(spec: CounterSpec) -> Callable[[Parsed], int]:
    return lambda parsed: sum(value for _, value in parsed.get(spec, ()))


def by(spec: CounterSpec, *dimensions: str) -> Callable[[Parsed], dict[str, Any]]:
    """The counts per value of ``dimensions`` (nested, in that order), sorted by value."""
    at = tuple(spec.dimensions.index(dim) for dim in dimensions)

    def read(parsed: Parsed) -> dict[str, Any]:
        tree: dict[str, Any] = {}
        for values, value in parsed.get(spec, ()):
            node = tree
            for index in at[:-1]:
                node = node.setdefault(values[index], {})
            node[values[at[-1]]] = node.get(values[at[-1]], 0) + value
        return _sorted(tree)

    return read


def _sorted(tree: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted(v) if isinstance(v, dict) else v for k, v in sorted(tree.items())}


def approval(parsed: Parsed) -> dict[str, Any]:
    modes: dict[str, Counter[str]] = {}
    for (_, mode, status), value in parsed.get(TX, ()):
        per_mode = modes.setdefault(mode, Counter())
        if status in DECIDED:
            per_mode["decided"] += value
        if status == "approved":
            per_mode["approved"] += value
    return {mode: _rate(by_status) for mode, by_status in sorted(modes.items())}


def _rate(by_status: Mapping[str, int]) -> dict[str, Any]:
    approved, decided = by_status.get("approved", 0), by_status.get("decided", 0)
    return {
        "approved": approved,
        "decided": decided,
        "rate": round(approved / decided, 4) if decided else None,
    }


def percentile(histogram: Mapping[int, int], pct: float) -> int | None:
    """Upper bound of the bucket holding the ``pct`` percentile; ``None`` above the last bound.

    Raises ``ValueError`` on an empty histogram.
    """
    total_count = sum(histogram.values())
    if total_count <= 0:
        raise ValueError("empty histogram")
    rank = max(1, -(-total_count * pct // 100))  # ceil, at least the first value
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
    return None  # pragma: no cover - seen reaches total


def latency(parsed: Parsed) -> dict[str, Any]:
    histogram: dict[int, int] = {}
    for (bucket,), count in parsed.get(LATENCY, ()):
        histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    total_count = sum(histogram.values())
    reading: dict[str, Any] = {"count": total_count}
    for pct in PERCENTILES:
        reading[f"p{pct}"] = None
        if total_count:
            value = percentile(histogram, pct)
            reading[f"p{pct}"] = value if value is not None else f">{LATENCY_BOUNDS_MS[-1]}"
    return reading


_APPROVAL_SCHEMA: Final = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "approved": {"type": "integer"},
            "decided": {"type": "integer"},
            "rate": {"type": ["number", "null"]},
        },
    },
}
_BUCKET_BOUND: Final = {"type": ["integer", "string", "null"]}
_LATENCY_SCHEMA: Final = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, **{f"p{p}": _BUCKET_BOUND for p in PERCENTILES}},
}

#: The fields of a summary, in order.
READINGS: Final = (
    Reading(
        "deliveries",
        "Raw records that parsed as FedaPay events (duplicates included).",
        total(DELIVERIES),
        label="deliveries",
    ),
    Reading(
        "events_total", "Distinct events (duplicates not counted).", total(EVENT), label="events"
    ),
    Reading("events", "Distinct events per event name.", by(EVENT, "event"), _COUNTS),
    Reading(
        "duplicates_total",
        "Deliveries dropped as duplicates (what FedaPay sent twice).",
        total(DUPLICATE),
        label="duplicates dropped",
    ),
    Reading(
        "duplicates",
        "Deliveries dropped as duplicates, per event name.",
        by(DUPLICATE, "event"),
        _COUNTS,
    ),
    Reading(
        "entered_status",
        "Transactions entering each status (a status record was emitted).",
        by(TX, "status"),
        _COUNTS,
    ),
    Reading(
        "amount",
        "Currency -> status -> sum of entity.amount of the transactions entering the status.",
        by(AMOUNT, "currency", "status"),
        {"type": "object", "additionalProperties": _COUNTS},
    ),
    Reading(
        "approval",
        "Per operator (entity.mode): approved, decided (entered approved, declined, canceled "
        "or expired) and rate = approved / decided (null when nothing was decided).",
        approval,
        _APPROVAL_SCHEMA,
    ),
    Reading(
        "stale",
        "Transaction deliveries older than the state already known.",
        total(STALE),
        label="stale",
    ),
    Reading("anomalies_total", "Anomaly records.", total(ANOMALY), label="anomalies"),
    Reading("anomalies", "Anomaly records per kind.", by(ANOMALY, "kind"), _COUNTS),
    Reading(
        "dead_letters", "Raw records sent to the DLQ.", total(DEAD_LETTER), label="dead letters"
    ),
    Reading(
        "latency_ms",
        "Ingress-to-emit latency: count, and p50, p90, p99 as the upper bound of the "
        'histogram bucket holding each percentile (">300000" above the last bound).',
        latency,
        _LATENCY_SCHEMA,
        label="latency ms (bucket bound)",
    ),
)


def summarize(counters: Mapping[str, int]) -> dict[str, Any]:
    """The JSON-ready reading of merged counters: one field per :data:`READINGS` entry."""
    parsed: dict[CounterSpec, list[tuple[Values, int]]] = {}
    for name, value in counters.items():
        found = parse(name)
        if found is not None:
            parsed.setdefault(found[0], []).append((found[1], value))
    return {reading.name: reading.read(parsed) for reading in READINGS}


def summary_schema() -> dict[str, Any]:
    """The JSON Schema of :func:`summarize`'s document."""
    return {
        "type": "object",
        "required": [reading.name for reading in READINGS],
        "properties": {reading.name: reading.documented() for reading in READINGS},
    }
