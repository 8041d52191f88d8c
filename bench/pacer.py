"""Open-loop load at a fixed rate: request i leaves at t0 + i/rate, whatever came back.

    python -m bench.pacer --url http://127.0.0.1:P/webhooks/bench --rate 200 --seconds 15 \
        --transactions 800 --seed 3 --secret S

A separate process with an aiohttp client. Bodies are simulated lifecycles,
all distinct (every one must give an output), signed before the clock starts.
Prints one JSON line: requests sent, status counts, client-side latencies.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

import aiohttp
import orjson

from bench.corpus import bodies
from bench.util import percentile
from ingress.signature import sign


async def pace(args: argparse.Namespace) -> dict[str, object]:
    pool = bodies(args.transactions, seed=args.seed)
    total = min(len(pool), round(args.rate * args.seconds))
    now = int(time.time())
    signed = [(b.data, sign(b.data, args.secret, timestamp=now)) for b in pool[:total]]
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=args.connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(body: bytes, signature: str) -> None:
            started = time.perf_counter()
            try:
                async with session.post(
                    args.url,
                    data=body,
                    headers={"Content-Type": "application/json", "X-FEDAPAY-SIGNATURE": signature},
                ) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
                return
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter() + 0.05
        behind = 0
        for index, (body, signature) in enumerate(signed):
            due = start + index / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.01:
                behind += 1
            tasks.append(asyncio.create_task(one(body, signature)))
        sent_seconds = time.perf_counter() - start
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "requests": len(signed),
        "sent_seconds": round(sent_seconds, 3),
        "offered_rate": round(len(signed) / sent_seconds, 1) if sent_seconds else None,
        "late_sends": behind,
        "statuses": dict(statuses),
        "http_latency_ms": {
            q: round(1000 * (percentile(latencies, p) or 0.0), 2)
            for q, p in (("p50", 50), ("p99", 99), ("max", 100))
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--transactions", type=int, required=True)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--connections", type=int, default=128)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.0.0.1:", "http://localhost:")):
        parser.error("loopback URLs only")
    result = asyncio.run(pace(args))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
