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
    assert len(limiter) <= 10


def _tokens_left(limiter: RateLimiter, key: str, now: float) -> int:
    taken = 0
    while limiter.acquire(key, now) == 0.0:
        taken += 1
    return taken


def test_full_table_drops_the_least_recently_used_key() -> None:
    limiter = RateLimiter(rate=0.001, burst=3, max_keys=3)  # no refill within the test
    for key in ("a", "b", "c"):
        limiter.acquire(key, 0.0)  # two tokens left each
    limiter.acquire("a", 0.1)  # a is now the most recently used: b is the least
    limiter.acquire("d", 0.2)
    assert len(limiter) == 3
    assert _tokens_left(limiter, "c", 0.2) == 2  # c kept its bucket
    assert _tokens_left(limiter, "a", 0.2) == 1  # a kept its bucket
    assert _tokens_left(limiter, "b", 0.2) == 3  # b was forgotten: a full burst again


def test_idle_keys_are_forgotten_as_new_keys_arrive() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=100)
    for i in range(10):
        limiter.acquire(f"old{i}", 0.0)
    for i in range(5):  # all old keys refilled by t=10: two forgotten per new key
        limiter.acquire(f"new{i}", 10.0)
    assert len(limiter) == 5


def test_eviction_does_not_scan_the_table() -> None:
    """At a full table of active keys, a new key looks at no bucket but the oldest."""
    limiter = RateLimiter(rate=1.0, burst=5, max_keys=1000)
    for i in range(1000):
        limiter.acquire(str(i), 0.0)
    looked: list[str] = []
    buckets = limiter._buckets

    class Watched(type(buckets)):  # type: ignore[misc]
        def items(self):  # type: ignore[no-untyped-def]
            looked.append("items")
            return super().items()

        def __iter__(self):  # type: ignore[no-untyped-def]
            looked.append("iter")
            return super().__iter__()

    limiter._buckets = Watched(buckets)
    limiter.acquire("new", 0.5)
    assert looked == []
    assert len(limiter) == 1000


def test_retry_after_is_whole_seconds() -> None:
    limiter = RateLimiter(rate=10.0, burst=1)
    assert limiter.retry_after(0.05) == 1
    assert limiter.retry_after(2.1) == 3
