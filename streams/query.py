"""Metric and transaction queries: parameters in, JSON documents out. Pure.

The HTTP layer (:mod:`streams.web`) hands query parameters to the ``parse_*``
functions, which raise :class:`BadQuery` (HTTP 400) for anything invalid, and
turns merged window counters into responses with :func:`range_document` and
:func:`summary_document`. See ``streams/QUERY_API.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from schemas import keys
from streams import aggregates
from streams.clock import iso_ms, parse_ms
from streams.counters import FILTERS, Counters, summarize
from streams.errors import BadQuery
from streams.state_machine import TransactionState
from streams.windows import Resolution

#: The most windows one range query may span.
MAX_WINDOWS: Final = 10_000
MAX_MINUTES: Final = 7 * 24 * 60
DEFAULT_MINUTES: Final = 5
#: Latest instant accepted (year 9999), so every time prints as ISO 8601.
MAX_TIME_MS: Final = 253_402_300_799_999
MAX_PARTITIONS: Final = 100_000
#: A FedaPay transaction id: ``entity.id``, an integer (e.g. ``235879``), as its digits.
TRANSACTION_ID: Final = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True, slots=True)
class WindowQuery:
    resolution: Resolution
    from_ms: int
    to_ms: int
    filters: Mapping[str, str]
    #: Only this endpoint's windows; ``None``: every endpoint's, merged.
    endpoint: str | None = None


def check_text(parameter: str, value: str, limit: int) -> str:
    """``value`` if it is 1 to ``limit`` encodable characters without ``|``, else 400."""
    try:
        value.encode()
    except UnicodeError:
        raise BadQuery(parameter, "not valid UTF-8") from None
    if not value or "|" in value or len(value) > limit:
        raise BadQuery(parameter, f"1 to {limit} characters, without '|'")
    return value


def check_transaction_id(value: str) -> str:
    """``value`` if it is a FedaPay transaction id (1 to 20 ASCII digits), else 400.

    Nothing else reaches the tables or a routed request's path (``../`` in an id
    would reach another route of the owning worker)."""
    if not TRANSACTION_ID.fullmatch(value):
        raise BadQuery("id", "a FedaPay transaction id: 1 to 20 digits")
    return value


def parse_time(parameter: str, text: str | None) -> int:
    """Epoch milliseconds from an integer or an ISO 8601 instant with a zone."""
    if text is None or not text.strip():
        raise BadQuery(
            parameter, "required (epoch milliseconds or ISO 8601, e.g. 2026-11-28T12:00:00Z)"
        )
    text = check_text(parameter, text.strip(), 64)
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 16 else parse_ms(text)
    if value is None or not 0 <= value <= MAX_TIME_MS:
        raise BadQuery(
            parameter,
            f"{text[:40]!r} is not epoch milliseconds or an ISO 8601 instant (UTC if no zone)",
        )
    return value


def parse_resolution(text: str | None, resolutions: Sequence[Resolution]) -> Resolution:
    if text is None or text == "":
        return resolutions[0]
    for resolution in resolutions:
        if resolution.name == text:
            return resolution
    names = ", ".join(r.name for r in resolutions)
    raise BadQuery("resolution", f"one of {names}")


def parse_filters(params: Mapping[str, str]) -> dict[str, str]:
    filters = {}
    for name in FILTERS:
        value = params.get(name)
        if value is None:
            continue
        filters[name] = check_text(name, value, 200)
    return filters


def parse_endpoint(params: Mapping[str, str]) -> str | None:
    """The ``endpoint`` parameter: an endpoint name, ``-`` (records without the endpoint
    header), or absent (``None``: every endpoint)."""
    value = params.get("endpoint")
    if value is None:
        return None
    if not keys.is_endpoint(value):
        raise BadQuery("endpoint", f"an endpoint name ({keys.ENDPOINT_NAME.pattern}) or '-'")
    return value


def parse_range(params: Mapping[str, str], resolutions: Sequence[Resolution]) -> WindowQuery:
    resolution = parse_resolution(params.get("resolution"), resolutions)
    from_ms = parse_time("from", params.get("from"))
    to_ms = parse_time("to", params.get("to"))
    if to_ms <= from_ms:
        raise BadQuery("to", "must be after from")
    if resolution.count(from_ms, to_ms) > MAX_WINDOWS:
        raise BadQuery("to", f"the range spans more than {MAX_WINDOWS} {resolution.name} windows")
    return WindowQuery(resolution, from_ms, to_ms, parse_filters(params), parse_endpoint(params))


def parse_summary(
    params: Mapping[str, str], resolutions: Sequence[Resolution], now_ms: int
) -> tuple[WindowQuery, int]:
    """The window query of "the last N minutes" (``minutes``, default 5), and N.

    It covers the minute-resolution window holding ``now`` and the N - 1 before
    it (whole windows of the smallest resolution of at most one minute).
    """
    text = params.get("minutes", str(DEFAULT_MINUTES))
    if (
        not (text.isascii() and text.isdigit() and len(text) <= 6)
        or not 1 <= int(text) <= MAX_MINUTES
    ):
        raise BadQuery("minutes", f"an integer from 1 to {MAX_MINUTES}")
    minutes = int(text)
    resolution = resolutions[0]
    if resolution.size_ms > 60_000:
        raise BadQuery("minutes", "no resolution of one minute or less is configured")
    start = resolution.start(now_ms - minutes * 60_000 + resolution.size_ms)
    to_ms = resolution.end(resolution.start(now_ms))
    query = WindowQuery(resolution, start, to_ms, parse_filters(params), parse_endpoint(params))
    return query, minutes


def parse_partitions(text: str | None, limit: int = MAX_PARTITIONS) -> frozenset[int]:
    """``0,2,5`` -> ``{0, 2, 5}`` (the partitions an internal window query covers), each
    below ``limit`` (the raw topic's partition count), at most ``limit`` of them.

    The text is bounded before it is split, and the answer is a set: the table scan
    tests each key's partition against it in constant time."""
    if text is None or text == "":
        return frozenset()
    problem = f"at most {limit} distinct comma-separated partition numbers from 0 to {limit - 1}"
    if len(text) > limit * (len(str(limit)) + 1):
        raise BadQuery("partitions", problem)
    items = text.split(",")
    if (
        len(items) > limit
        or not text.isascii()
        or not all(item.isdigit() and len(item) <= 6 for item in items)
    ):
        raise BadQuery("partitions", problem)
    values = frozenset(int(item) for item in items)
    if len(values) != len(items) or any(value >= limit for value in values):
        raise BadQuery("partitions", problem)
    return values


# ------------------------------------------------------------------ documents


def _window_frame(query: WindowQuery) -> dict[str, Any]:
    return {
        "resolution": query.resolution.name,
        "from": iso_ms(query.from_ms),
        "to": iso_ms(query.to_ms),
        "filters": dict(query.filters),
        "endpoint": query.endpoint,
    }


def range_document(query: WindowQuery, windows: Mapping[int, Counters]) -> dict[str, Any]:
    """Every non-empty window in the range, oldest first, and their total."""
    rows = []
    selected = {start: aggregates.select(c, query.filters) for start, c in windows.items()}
    for start in sorted(selected):
        if not selected[start]:
            continue
        row = {"start": iso_ms(start), "end": iso_ms(query.resolution.end(start))}
        rows.append({**row, **summarize(selected[start])})
    total = summarize(aggregates.merge_all(selected.values()))
    return {**_window_frame(query), "windows": rows, "total": total}


def summary_document(
    query: WindowQuery, minutes: int, windows: Mapping[int, Counters]
) -> dict[str, Any]:
    merged = aggregates.merge_all(aggregates.select(c, query.filters) for c in windows.values())
    return {**_window_frame(query), "minutes": minutes, **summarize(merged)}


def transaction_document(state: TransactionState) -> dict[str, Any]:
    """A transaction's derived status and its timeline (oldest first)."""
    return {
        "transaction_id": state.transaction_id,
        "endpoint": state.endpoint,
        "status": state.status,
        "updated_at": state.updated_at,
        "event": state.event,
        "reference": state.reference,
        "amount": state.amount,
        "currency": state.currency,
        "stale_deliveries": state.stale_deliveries,
        "anomalies": state.anomalies,
        "history": [{"status": p.status, "updated_at": p.updated_at} for p in state.history],
    }


def windows_document(partitions: Sequence[int], windows: Mapping[int, Counters]) -> dict[str, Any]:
    """The internal answer of one worker: its partitions' windows, unmerged with others."""
    return {"partitions": list(partitions), "windows": {str(k): v for k, v in windows.items()}}


def read_windows_document(document: Any) -> tuple[list[int], dict[int, Counters]]:
    """Inverse of :func:`windows_document`; ``ValueError`` on anything else."""
    if not isinstance(document, dict):
        raise ValueError("not an object")
    partitions = [int(p) for p in document["partitions"]]
    windows = {
        int(start): {str(k): int(v) for k, v in counters.items()}
        for start, counters in document["windows"].items()
    }
    return partitions, windows
