"""The dedup decision and its window arithmetic. Pure.

Every delivery's dedup key (see :attr:`schemas.envelope.Envelope.dedup_key`)
is remembered with the time it was last seen. A delivery is a duplicate when
its key was seen less than the window ago; a duplicate refreshes the time, so
the window slides with every redelivery and there is no fixed window boundary
for a duplicate to fall across. Times are the ingress's receive times
(``fedapay-received-at-ms``), so replaying the raw topic decides the same way.

Expiry is decided from the stored time alone, never from when or where the
entry was loaded: an entry restored from RocksDB or from the changelog after a
restart or a rebalance is expired by the same rule as one written a second ago
(faust's own windowed tables lose their expiry index on recovery,
faust-streaming issue #385, which is why the bridge keeps its own).
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class SeenEntry:
    """What the dedup table stores per dedup key."""

    #: Receive time of the latest delivery of this key (ms since the epoch).
    last_seen_ms: int
    #: Receive time of the first delivery inside the current window.
    first_seen_ms: int
    #: Source partition, so a sweep only deletes keys of the partition it serves.
    partition: int
    #: Deliveries seen inside the current window (1 + duplicates).
    deliveries: int = 1


@dataclass(frozen=True, slots=True)
class DedupDecision:
    duplicate: bool
    #: The entry to store: new, or refreshed by a duplicate.
    entry: SeenEntry


def is_expired(entry: SeenEntry, now_ms: int, window_ms: int) -> bool:
    """Whether ``entry`` no longer marks duplicates at ``now_ms``."""
    return now_ms - entry.last_seen_ms >= window_ms


def decide(entry: SeenEntry | None, now_ms: int, window_ms: int, partition: int) -> DedupDecision:
    """Is a delivery received at ``now_ms`` a duplicate of what ``entry`` remembers?

    A delivery stamped earlier than the stored time (clocks of two ingress
    replicas) is inside the window too; the stored time never moves back.
    """
    if entry is not None and not is_expired(entry, now_ms, window_ms):
        refreshed = replace(
            entry,
            last_seen_ms=max(entry.last_seen_ms, now_ms),
            deliveries=entry.deliveries + 1,
        )
        return DedupDecision(duplicate=True, entry=refreshed)
    return DedupDecision(duplicate=False, entry=SeenEntry(now_ms, now_ms, partition))


def sweep_due(last_sweep_ms: int | None, now_ms: int, interval_ms: int) -> bool:
    """Whether a partition whose stream time is ``now_ms`` should be swept again."""
    return last_sweep_ms is None or now_ms - last_sweep_ms >= interval_ms


def expired_keys(
    entries: list[tuple[bytes, SeenEntry]], partition: int, now_ms: int, window_ms: int
) -> list[bytes]:
    """The keys of ``partition`` among ``entries`` that have expired at ``now_ms``."""
    return [
        key
        for key, entry in entries
        if entry.partition == partition and is_expired(entry, now_ms, window_ms)
    ]
