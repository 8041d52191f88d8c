"""What one raw record adds to the metric windows, and how windows merge, store and filter.
Pure.

A window's aggregate is a flat counter map (``dict[str, int]``) whose names carry their
dimensions, separated by ``|``; the counters are declared in :mod:`streams.counters`, with
what one record adds to each and how a summary reads them.

Counters only ever add, so any set of windows and partitions merges by summation
(:func:`merge`), in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from streams.codec import CorruptValue
from streams.counters import CountedEvent, Counters, DeadLettered, filters_of, increments_of
from streams.pipeline import ParsedEvent, Plan


def increments(delivery: ParsedEvent, plan: Plan, emitted_at_ms: int) -> Counters:
    """What one parsed delivery adds to its windows."""
    return increments_of(CountedEvent(delivery, plan, emitted_at_ms - delivery.received_at_ms))


def dead_letter_increments() -> Counters:
    return increments_of(DeadLettered())


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


def select(counters: Mapping[str, int], filters: Mapping[str, str]) -> Counters:
    """The counters that carry every filtered dimension with the filtered value.

    No filter keeps everything; ``{"currency": "XOF"}`` keeps the transaction
    counters in XOF and drops the counters without a currency.
    """
    if not filters:
        return dict(counters)
    kept: Counters = {}
    for name, value in counters.items():
        dims = filters_of(name)
        if all(dims.get(key) == wanted for key, wanted in filters.items()):
            kept[name] = value
    return kept
