from __future__ import annotations

import pytest

from ingress.ratelimit import RateLimiter


def test_burst_then_refill() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.acquire("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a", 0.0) == pytest.approx(0.5)
    assert limiter.acquire("a", 0.5) == 0.0


def test_keys_are_independent() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)
    assert limiter.acquire("a", 0.0) == 0.0
    assert limiter.acquire("b", 0.0) == 0.0
    assert limiter.acquire("a", 0.0) > 0


def test_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=10)
    for i in range(1000):
        limiter.acquire(str(i), float(i) / 1000)
    assert len(limiter._buckets) <= 10


def test_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter(rate=10.0, burst=1)
    assert limiter.retry_after(0.05) == 1
    assert limiter.retry_after(2.1) == 3
