"""The physical limit of reading the raw topic: a plain aiokafka consumer that does nothing.

    python -m bench.plain_consumer --topic T --count N [--bootstrap 127.0.0.1:9092]

Assigns every partition (no group, no rebalance), reads from the beginning until
N records, then prints one JSON line: process start, first and last record times.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer

STARTED_MS = time.time() * 1000


async def consume(bootstrap: str, topic: str, count: int, within: float) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.subscribe([topic])  # without a group: every partition, no rebalance
        seen = 0
        first_ms = 0.0
        value_bytes = 0
        async with asyncio.timeout(within):
            while seen < count:
                batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                for records in batches.values():
                    if records and not first_ms:
                        first_ms = time.time() * 1000
                    seen += len(records)
                    value_bytes += sum(len(r.value or b"") for r in records)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "peak_rss_mib": usage.ru_maxrss / 1024,
            "started_ms": STARTED_MS,
            "first_ms": first_ms,
            "last_ms": time.time() * 1000,
            "records": seen,
            "value_bytes": value_bytes,
        }
    finally:
        await consumer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    result = asyncio.run(consume(args.bootstrap, args.topic, args.count, args.timeout))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
