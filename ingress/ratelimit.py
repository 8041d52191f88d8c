"""A token bucket per client address. Pure: the caller passes the clock."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second per key, bursts up to ``burst``.

    Keys idle long enough to have refilled are forgotten, so memory is bounded
    by the number of clients active within ``burst / rate`` seconds.
    """

    def __init__(self, rate: float, burst: int, *, max_keys: int = 100_000) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._rate = rate
        self._burst = float(burst)
        self._max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str, now: float) -> float:
        """Take one token. Returns 0 when allowed, else the seconds until one is free."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._evict_idle(now)
            bucket = self._buckets[key] = _Bucket(self._burst, now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self._rate

    def retry_after(self, wait: float) -> int:
        return max(1, math.ceil(wait))

    def _evict_idle(self, now: float) -> None:
        if len(self._buckets) < self._max_keys:
            return
        refill = self._burst / self._rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= refill]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:  # all active: drop the stalest
            del self._buckets[min(self._buckets, key=lambda k: self._buckets[k].updated)]
