"""What one raw record adds to the metric windows, and how windows merge and read. Pure.

A window's aggregate is a flat counter (``dict[str, int]``) whose names carry
their dimensions, separated by ``|``:

=================================  ============================================
counter                            counts
=================================  ============================================
``deliveries``                     raw records that parsed as FedaPay events
``event|<name>``                   distinct events (duplicates not counted)
``duplicate|<name>``               deliveries dropped as duplicates
``tx|<currency>|<mode>|<status>``  transactions entering ``status`` (a status
                                   record was emitted)
``amount|<currency>|<mode>|<st>``  sum of ``entity.amount`` of those
``stale``                          transaction deliveries older than the state
``anomaly|<kind>``                 anomaly records emitted
``dead_letter``                    raw records sent to the DLQ
``latency|<bucket>``               ingress-to-emit latency histogram
=================================  ============================================

Counters only ever add, so any set of windows and partitions merges by
summation (:func:`merge`), in any order. ``-`` stands for a missing currency
or mode.

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
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from streams.codec import CorruptValue
from streams.pipeline import Delivery, OutputKind, Plan
from streams.state_machine import Outcome

#: Upper bounds (inclusive) of the latency buckets, in milliseconds; one more bucket above.
LATENCY_BOUNDS_MS: Final = (
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 300_000,
)  # fmt: skip
#: Statuses that end an attempt to pay (for the approval rate).
DECIDED: Final = frozenset({"approved", "declined", "canceled", "expired"})
MISSING: Final = "-"
PERCENTILES: Final = (50, 90, 99)

Counters = dict[str, int]


def latency_bucket(latency_ms: int) -> int:
    """Index of the bucket holding ``latency_ms`` (negative latencies count as 0)."""
    for index, bound in enumerate(LATENCY_BOUNDS_MS):
        if latency_ms <= bound:
            return index
    return len(LATENCY_BOUNDS_MS)


def _dimension(value: object) -> str:
    if isinstance(value, str) and value and "|" not in value:
        return value
    return MISSING


def increments(delivery: Delivery, plan: Plan, emitted_at_ms: int) -> Counters:
    """What one parsed delivery adds to its windows."""
    name = _dimension(delivery.envelope.name)
    added: Counter[str] = Counter({"deliveries": 1})
    if plan.duplicate:
        added[f"duplicate|{name}"] += 1
        return dict(added)
    added[f"event|{name}"] += 1
    added[f"latency|{latency_bucket(emitted_at_ms - delivery.received_at_ms)}"] += 1
    if plan.outcome is Outcome.STALE:
        added["stale"] += 1
    for output in plan.outputs:
        if output.kind is OutputKind.ANOMALY:
            kind = orjson.loads(output.value).get("kind")
            added[f"anomaly|{_dimension(kind)}"] += 1
        elif output.kind is OutputKind.STATUS:
            record = orjson.loads(output.value)
            entity = delivery.envelope.body.get("entity")
            mode = entity.get("mode") if isinstance(entity, dict) else None
            dims = f"{_dimension(record.get('currency'))}|{_dimension(mode)}"
            dims += f"|{_dimension(record.get('status'))}"
            added[f"tx|{dims}"] += 1
            amount = record.get("amount")
            if isinstance(amount, int) and not isinstance(amount, bool):
                added[f"amount|{dims}"] += amount
    return dict(added)


def dead_letter_increments() -> Counters:
    return {"dead_letter": 1}


def merge(into: Counters, more: Mapping[str, int]) -> Counters:
    """Add ``more`` to ``into`` (in place) and return it."""
    for name, value in more.items():
        into[name] = into.get(name, 0) + value
    return into


def merge_all(windows: Iterable[Mapping[str, int]]) -> Counters:
    total: Counters = {}
    for window in windows:
        merge(total, window)
    return total


def encode(counters: Mapping[str, int]) -> bytes:
    return orjson.dumps({"v": 1, "c": dict(counters)})


def decode(value: bytes) -> Counters:
    """A stored window; :class:`~streams.codec.CorruptValue` when it is not one."""
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise CorruptValue(f"metric window: not JSON: {exc.msg}") from None
    if not isinstance(document, dict) or document.get("v") != 1:
        raise CorruptValue("metric window: unknown version")
    counters = document.get("c")
    if not isinstance(counters, dict):
        raise CorruptValue("metric window: unknown version")
    return {str(k): int(v) for k, v in counters.items() if isinstance(v, int)}


# ------------------------------------------------------------------ filters


def dimensions(name: str) -> dict[str, str]:
    """The dimensions a counter carries, by filter name."""
    parts = name.split("|")
    if parts[0] in ("event", "duplicate") and len(parts) == 2:
        return {"event": parts[1]}
    if parts[0] in ("tx", "amount") and len(parts) == 4:
        return {"currency": parts[1], "mode": parts[2], "status": parts[3]}
    return {}


def select(counters: Mapping[str, int], filters: Mapping[str, str]) -> Counters:
    """The counters that carry every filtered dimension with the filtered value.

    No filter keeps everything; ``{"currency": "XOF"}`` keeps the transaction
    counters in XOF and drops the counters without a currency.
    """
    if not filters:
        return dict(counters)
    kept: Counters = {}
    for name, value in counters.items():
        dims = dimensions(name)
        if all(dims.get(key) == wanted for key, wanted in filters.items()):
            kept[name] = value
    return kept


# ------------------------------------------------------------------ reading


def percentile(histogram: Mapping[int, int], pct: float) -> int | None:
    """Upper bound of the bucket holding the ``pct`` percentile; ``None`` above the last bound.

    Raises ``ValueError`` on an empty histogram.
    """
    total = sum(histogram.values())
    if total <= 0:
        raise ValueError("empty histogram")
    rank = max(1, -(-total * pct // 100))  # ceil, at least the first value
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return LATENCY_BOUNDS_MS[index] if index < len(LATENCY_BOUNDS_MS) else None
    return None  # pragma: no cover - seen reaches total


def summarize(counters: Mapping[str, int]) -> dict[str, Any]:
    """The JSON-ready reading of merged counters."""
    events: Counter[str] = Counter()
    duplicates: Counter[str] = Counter()
    entered: Counter[str] = Counter()
    amounts: dict[str, Counter[str]] = {}
    modes: dict[str, Counter[str]] = {}
    anomalies: Counter[str] = Counter()
    histogram: dict[int, int] = {}
    for name, value in counters.items():
        parts = name.split("|")
        kind = parts[0]
        if kind == "event":
            events[parts[1]] += value
        elif kind == "duplicate":
            duplicates[parts[1]] += value
        elif kind == "tx":
            currency, mode, status = parts[1:4]
            entered[status] += value
            per_mode = modes.setdefault(mode, Counter())
            if status in DECIDED:
                per_mode["decided"] += value
            if status == "approved":
                per_mode["approved"] += value
        elif kind == "amount":
            currency, _, status = parts[1:4]
            amounts.setdefault(currency, Counter())[status] += value
        elif kind == "anomaly":
            anomalies[parts[1]] += value
        elif kind == "latency":
            histogram[int(parts[1])] = histogram.get(int(parts[1]), 0) + value
    return {
        "deliveries": counters.get("deliveries", 0),
        "events_total": sum(events.values()),
        "events": dict(sorted(events.items())),
        "duplicates_total": sum(duplicates.values()),
        "duplicates": dict(sorted(duplicates.items())),
        "entered_status": dict(sorted(entered.items())),
        "amount": {cur: dict(sorted(by.items())) for cur, by in sorted(amounts.items())},
        "approval": {mode: _approval(by) for mode, by in sorted(modes.items())},
        "stale": counters.get("stale", 0),
        "anomalies_total": sum(anomalies.values()),
        "anomalies": dict(sorted(anomalies.items())),
        "dead_letters": counters.get("dead_letter", 0),
        "latency_ms": _latency(histogram),
    }


def _approval(by: Mapping[str, int]) -> dict[str, Any]:
    approved, decided = by.get("approved", 0), by.get("decided", 0)
    return {
        "approved": approved,
        "decided": decided,
        "rate": round(approved / decided, 4) if decided else None,
    }


def _latency(histogram: Mapping[int, int]) -> dict[str, Any]:
    count = sum(histogram.values())
    reading: dict[str, Any] = {"count": count}
    for pct in PERCENTILES:
        reading[f"p{pct}"] = None
        if count:
            value = percentile(histogram, pct)
            reading[f"p{pct}"] = value if value is not None else f">{LATENCY_BOUNDS_MS[-1]}"
    return reading
