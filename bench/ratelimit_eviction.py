"""``python -m bench.ratelimit_eviction``: time per new client address at a full limiter table.

Fills :class:`ingress.ratelimit.RateLimiter` with ``--keys`` active clients (none idle long
enough to have refilled, the worst case for eviction), then times ``--new`` addresses the
table has not seen, each of which must evict one. Run it in another work tree (imports
follow the current directory) to compare with an older commit.
"""

from __future__ import annotations

import argparse
import statistics
import time

from ingress.ratelimit import RateLimiter


def per_new_address(keys: int, new: int, rounds: int) -> list[float]:
    """Seconds per new address, one figure per round."""
    figures = []
    for _ in range(rounds):
        limiter = RateLimiter(rate=1.0, burst=100, max_keys=keys)
        for index in range(keys):
            limiter.acquire(f"198.18.{index >> 8 & 255}.{index & 255}/{index}", 0.0)
        started = time.perf_counter()
        for index in range(new):
            limiter.acquire(f"203.0.113.{index & 255}/{index}", 1.0)
        figures.append((time.perf_counter() - started) / new)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    figures = per_new_address(args.keys, args.new, args.rounds)
    print(
        f"{args.keys} keys, {args.new} new addresses x {args.rounds} rounds:"
        f" median {statistics.median(figures) * 1e6:.1f} us per new address"
        f" (rounds: {', '.join(f'{f * 1e6:.1f}' for f in figures)} us)"
    )


if __name__ == "__main__":
    main()
