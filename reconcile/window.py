"""Which stretch of FedaPay's event history one pass reads, and its checkpoint. Pure.

A pass reads events created in ``[since, until]``. Without ``--since`` it starts
:data:`overlap` before the ``until`` of the last pass that finished (its
checkpoint), so an event FedaPay records late, or one at the edge, is read by
two passes rather than none (the workers drop the second copy); without any
checkpoint it starts ``lookback`` before now. The checkpoint is written only
after every page of the window was fetched and published.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from streams.clock import iso_ms, parse_ms


class WindowError(ValueError):
    """An explicit window that cannot be read (bad timestamp, since after until)."""


@dataclass(frozen=True, slots=True)
class Window:
    since_ms: int
    until_ms: int

    def holds(self, created_at: str) -> bool:
        """Whether an event created at ``created_at`` is in the window (an unreadable time
        is kept: better a duplicate the workers drop than a lost event)."""
        at = parse_ms(created_at)
        return at is None or self.since_ms <= at <= self.until_ms

    def describe(self) -> str:
        return f"{iso_ms(self.since_ms)} .. {iso_ms(self.until_ms)}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The end of the last complete pass of one endpoint."""

    endpoint: str
    until_ms: int

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"endpoint": self.endpoint, "until_ms": self.until_ms, "until": iso_ms(self.until_ms)}
        )

    @classmethod
    def from_json(cls, value: bytes) -> Checkpoint | None:
        try:
            document: Any = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(document, dict):
            return None
        endpoint, until = document.get("endpoint"), document.get("until_ms")
        if not isinstance(endpoint, str) or not isinstance(until, int) or isinstance(until, bool):
            return None
        return cls(endpoint, until)


def parse_time(text: str) -> int:
    """Epoch ms of an ISO 8601 option value (a value without a zone is UTC)."""
    at = parse_ms(text)
    if at is None:
        raise WindowError(f"{text!r} is not an ISO 8601 time")
    return at


def window(
    *,
    now_ms: int,
    checkpoint: Checkpoint | None,
    since_ms: int | None,
    until_ms: int | None,
    overlap_ms: int,
    lookback_ms: int,
) -> Window:
    """The window of one pass (see the module docstring)."""
    until = now_ms if until_ms is None else until_ms
    if since_ms is not None:
        since = since_ms
    elif checkpoint is not None:
        since = checkpoint.until_ms - overlap_ms
    else:
        since = now_ms - lookback_ms
    if since > until:
        raise WindowError(f"since ({iso_ms(since)}) is after until ({iso_ms(until)})")
    return Window(since, until)


def advanced(current: Checkpoint | None, endpoint: str, done: Window) -> Checkpoint:
    """The checkpoint after ``done`` was read completely. It never moves backwards (a pass by
    hand over an older window leaves it where it is) and never jumps a gap (a pass by hand that
    starts after it leaves it too, else the stretch in between would never be read)."""
    if current is not None and current.until_ms >= done.until_ms:
        return current
    if current is not None and done.since_ms > current.until_ms:
        return current
    return Checkpoint(endpoint, done.until_ms)
