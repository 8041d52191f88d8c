"""A token bucket per client key. Pure: the caller passes the clock."""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second per key, bursts up to ``burst``.

    At most ``max_keys`` buckets are kept, least recently used first. Each new key
    forgets up to two least recently used keys that have been idle long enough to
    have refilled (forgetting them changes nothing), and, when the table is still
    full, the least recently used key whatever its state. Every call is O(1):
    eviction never scans the table.
    """

    #: Idle keys forgotten per new key: more than one, so a table of idle keys shrinks.
    _IDLE_EVICTIONS = 2

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._burst = float(burst)
        self._refill = self._burst / rate
        self._max_keys = max_keys
        #: Least recently used first.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, key: str, now: float) -> float:
        """Take one token. Returns 0 when allowed, else the seconds until one is free."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._evict(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        else:
            self._buckets.move_to_end(key)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def retry_after(self, wait: float) -> int:
        return max(1, math.ceil(wait))

    def _evict(self, now: float) -> None:
        buckets = self._buckets
        for _ in range(self._IDLE_EVICTIONS):
            if not buckets:
                return
            oldest = next(iter(buckets.values()))
            if now - oldest.updated < self._refill:
                break
            buckets.popitem(last=False)
        if len(buckets) >= self._max_keys:  # all recent: drop the least recently used
            buckets.popitem(last=False)
