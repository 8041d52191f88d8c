"""Tumbling event-time windows: resolutions, window arithmetic, retention. Pure.

A window of a resolution of size ``S`` milliseconds starts at a multiple of
``S`` since the epoch (UTC) and holds the instants ``[start, start + S)``: an
event at 12:00:59.999 lies in the 12:00 minute, one at 12:01:00.000 in the
12:01 minute. Times are the ingress's receive times (``fedapay-received-at-ms``,
event time of the bridge, see ``streams/QUERY_API.md``), never the worker's
clock, so replaying the raw topic fills the same windows.

Resolutions are configured as ``<size>:<retention>`` pairs, e.g. ``1m:24h,1h:30d``
(units ``s``, ``m``, ``h``, ``d``). A window is expired, and deleted by the
sweep, once its end is more than the retention before the partition's stream
time (the newest receive time seen on it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from common.errors import ConfigError

DEFAULT_SPEC: Final = "1m:24h,1h:30d"

_UNITS: Final = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION: Final = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")


@dataclass(frozen=True, slots=True)
class Resolution:
    """A window size and how long its windows are kept."""

    name: str
    size_ms: int
    retention_ms: int

    def start(self, at_ms: int) -> int:
        """Start of the window holding ``at_ms``."""
        return at_ms - at_ms % self.size_ms

    def end(self, start_ms: int) -> int:
        return start_ms + self.size_ms

    def expired(self, start_ms: int, now_ms: int) -> bool:
        """Whether the window starting at ``start_ms`` is past its retention at ``now_ms``."""
        return self.end(start_ms) + self.retention_ms <= now_ms

    def starts(self, from_ms: int, to_ms: int) -> Iterator[int]:
        """Starts of the windows overlapping ``[from_ms, to_ms)``, oldest first."""
        start = self.start(from_ms)
        while start < to_ms:
            yield start
            start += self.size_ms

    def count(self, from_ms: int, to_ms: int) -> int:
        """How many windows overlap ``[from_ms, to_ms)``."""
        if to_ms <= from_ms:
            return 0
        return (to_ms - 1 - self.start(from_ms)) // self.size_ms + 1


def duration_ms(text: str) -> int | None:
    """``90s`` -> 90000; ``None`` when ``text`` is not ``<positive integer><s|m|h|d>``."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_resolutions(
    spec: str, variable: str = "FEDAPAY_BRIDGE_METRICS_WINDOWS"
) -> tuple[Resolution, ...]:
    """The resolutions of ``spec`` (``1m:24h,1h:30d``), smallest first."""
    found: dict[str, Resolution] = {}
    for item in spec.split(","):
        size_text, _, keep_text = item.strip().partition(":")
        size, keep = duration_ms(size_text), duration_ms(keep_text)
        if size is None or keep is None:
            raise ConfigError(variable, f"{item.strip()!r} is not <size>:<retention>, e.g. 1m:24h")
        if keep < size:
            raise ConfigError(variable, f"{item.strip()!r}: retention shorter than the window")
        name = size_text.strip()
        if name in found:
            raise ConfigError(variable, f"resolution {name} given twice")
        found[name] = Resolution(name, size, keep)
    if not found:
        raise ConfigError(variable, "at least one resolution is needed")
    return tuple(sorted(found.values(), key=lambda r: r.size_ms))
