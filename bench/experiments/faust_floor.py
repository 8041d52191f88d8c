"""The floor of Faust's per-event agent model: an agent that reads the raw topic and does nothing.

    python -m bench.experiments.faust_floor --topic P.raw --count N --group G --data-dir D \
        --report FILE [--take 500]

Same app settings as the worker (RocksDB store, manual acks, at-least-once);
the agent acks every event and does no work, so its rate is the most any
worker built on Faust events can reach here. With ``--take N`` it reads
batches (``stream.take``) instead, as a batched worker would. Writes a JSON
report (start, first and last event times) to FILE when N events were seen,
then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import faust
import orjson

STARTED_MS = time.time() * 1000


def build(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="rocksdb://",
        datadir=args.data_dir,
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        web_enabled=False,
        autodiscover=False,
        producer_acks=-1,
    )
    raw = app.topic(args.topic, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0, "first": 0.0}

    def done() -> None:
        report = {
            "started_ms": STARTED_MS,
            "first_ms": seen["first"],
            "last_ms": time.time() * 1000,
            "records": seen["n"],
        }
        Path(args.report).write_bytes(orjson.dumps(report))
        os._exit(0)

    async def one_by_one(stream: Any) -> None:
        manual = stream.noack()
        async for event in manual.events():
            if not seen["first"]:
                seen["first"] = time.time() * 1000
            seen["n"] += 1
            await manual.ack(event)
            if seen["n"] >= args.count:
                done()

    async def batched(stream: Any) -> None:
        async for values in stream.take(args.take, within=0.05):
            if not seen["first"]:
                seen["first"] = time.time() * 1000
            seen["n"] += len(values)
            if seen["n"] >= args.count:
                done()
            await asyncio.sleep(0)

    app.agent(raw, name="floor")(batched if args.take else one_by_one)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--take", type=int, default=0)
    args = parser.parse_args()
    worker = faust.Worker(build(args), quiet=True, loglevel="WARNING")
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
