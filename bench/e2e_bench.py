"""End-to-end latency: ingress receipt to the record on the per-type topic, at steady rates.

For each processing guarantee and rate: a fresh topic prefix, the contract's
topics (``fedapay-bridge topics create``) with broker append time on the output
topics, one ingress and one worker (default settings, unpinned: they share the
two cores with the broker and the load), a warm-up, then the pacer offers
RATE webhooks/s for a bounded time. Each per-type record carries the ingress's
receive time (``fedapay-received-at-ms``); its latency is the broker's append
time on the per-type topic minus that.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import kafka_admin
from bench.ingress_bench import PATH
from bench.stream_bench import _create_contract_topics as create_contract_topics
from bench.util import (
    ENDPOINT,
    SECRET,
    Sampler,
    bridge_environ,
    check_loopback,
    conditions,
    free_port,
    percentile,
    python_command,
    run_id,
    servers,
    start_process,
    wait_http_ok,
    write_result,
)
from schemas import headers
from schemas.topics import Topics

log = logging.getLogger(__name__)

RATES = (200, 1000)
GUARANTEES = ("at_least_once", "exactly_once")
EVENTS_PER_TRANSACTION = 3.8


@dataclass(frozen=True)
class Options:
    bootstrap: str
    rates: tuple[int, ...]
    seconds: float
    guarantees: tuple[str, ...]
    commit_interval: float
    partitions: int
    #: Further commit intervals tried under exactly-once (where they decide visibility).
    exactly_once_commit_intervals: tuple[float, ...] = ()
    warmup_seconds: float = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--seconds", type=float, default=15.0, help="per rate (default 15)")
    parser.add_argument("--guarantees", default="at_least_once", help=", ".join(GUARANTEES))
    parser.add_argument("--commit-interval", type=float, default=2.8)
    parser.add_argument(
        "--exactly-once-commit-intervals",
        default="",
        help="further commit intervals (s) to try under exactly-once, e.g. 0.5",
    )
    parser.add_argument("--partitions", type=int, default=6)


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        bootstrap=args.bootstrap,
        rates=tuple(int(x) for x in args.rates.split(",")),
        seconds=args.seconds,
        guarantees=tuple(g.strip() for g in args.guarantees.split(",")),
        commit_interval=args.commit_interval,
        partitions=args.partitions,
        exactly_once_commit_intervals=tuple(
            float(x) for x in args.exactly_once_commit_intervals.split(",") if x.strip()
        ),
    )


def run(options: Options, name: str = "e2e") -> dict[str, Any]:
    check_loopback(options.bootstrap)
    document: dict[str, Any] = {
        "conditions": conditions(options.bootstrap),
        "config": {
            "rates": list(options.rates),
            "seconds_per_rate": options.seconds,
            "commit_interval_seconds": options.commit_interval,
            "exactly_once_commit_intervals": list(options.exactly_once_commit_intervals),
            "partitions": options.partitions,
            "guarantees": list(options.guarantees),
            "ingress": "fedapay-bridge ingress, default settings (acks=all, linger 0)",
            "worker": "fedapay-bridge worker, RocksDB tables, default settings",
            "load": "bench/pacer.py: open loop aiohttp client, distinct signed bodies",
            "pinning": "none: ingress, worker, broker, load and watcher share the 2 cores",
            "latency": "time a consumer of the per-type topic gets the record (read_committed "
            "under exactly-once) minus fedapay-received-at-ms; also its broker append time "
            "minus fedapay-received-at-ms",
        },
        "runs": [],
    }
    for guarantee, interval in _settings(options):
        for rate in options.rates:
            result = asyncio.run(_one(replace(options, commit_interval=interval), guarantee, rate))
            document["runs"].append(result)
            log.info("%s", _describe(result))
    document["conditions"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    write_result(name, document)
    return document


def _settings(options: Options) -> list[tuple[str, float]]:
    """(guarantee, commit interval) pairs; extra intervals only matter under exactly-once."""
    pairs = [(g, options.commit_interval) for g in options.guarantees]
    if "exactly_once" in options.guarantees:
        pairs += [("exactly_once", i) for i in options.exactly_once_commit_intervals]
    return pairs


@dataclass
class Watch:
    """Per-type records seen: (received-at ms, appended-at ms, seen-by-the-watcher ms)."""

    stamps: list[tuple[int, int, int]] = field(default_factory=list)


async def _one(options: Options, guarantee: str, rate: int) -> dict[str, Any]:
    prefix = run_id("ee")
    topics = Topics(prefix)
    app_id = f"{prefix}-app"
    outputs = [*topics.per_type(), topics.unknown]
    await asyncio.to_thread(create_contract_topics, _stream_options(options), prefix, app_id)
    await kafka_admin.use_log_append_time(options.bootstrap, outputs)
    port = free_port()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp, servers() as started:
            work = Path(tmp)
            ingress_env = _ingress_env(options, prefix, port)
            ingress = start_process(
                "ingress", python_command("common", "ingress"), ingress_env, work
            )
            started.append(ingress)
            worker_env = _worker_env(options, prefix, app_id, guarantee, work)
            worker = start_process("worker", python_command("common", "worker"), worker_env, work)
            started.append(worker)
            await asyncio.to_thread(wait_http_ok, port, "/readyz", 60, ingress)
            watch = Watch()
            watcher = asyncio.create_task(
                _watch(options.bootstrap, outputs, guarantee == "exactly_once", watch)
            )
            warm = await _pace(port, 50, options.warmup_seconds, seed=rate + 1)
            await _wait_for(watch, _accepted(warm), within=90)
            measured_from = int(time.time() * 1000)
            with Sampler(ingress.pid) as ingress_use, Sampler(worker.pid) as worker_use:
                load = await _pace(port, rate, options.seconds, seed=rate + 2)
                expected = _accepted(warm) + _accepted(load)
                drained = await _wait_for(watch, expected, within=60)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        await asyncio.to_thread(kafka_admin.delete_prefix, options.bootstrap, prefix)
    measured = [(r, a, s) for r, a, s in watch.stamps if r >= measured_from]
    lat = sorted(float(s - r) for r, _, s in measured)
    appended = sorted(float(a - r) for r, a, _ in measured)
    span_s = (
        (max(a for _, a, _ in measured) - min(a for _, a, _ in measured)) / 1000 if measured else 0
    )
    return {
        "guarantee": guarantee,
        "rate": rate,
        "commit_interval_seconds": options.commit_interval,
        "load": load,
        "outputs_measured": len(lat),
        "outputs_per_second": round(len(lat) / span_s, 1) if span_s else None,
        "all_outputs_seen": drained,
        "latency_ms": _quantiles(lat),
        "append_latency_ms": _quantiles(appended),
        "ingress": ingress_use.usage.to_dict(),
        "worker": worker_use.usage.to_dict(),
    }


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": values[-1] if values else None,
    }


def _stream_options(options: Options) -> Any:
    from bench.stream_bench import Options as StreamOptions

    return StreamOptions(
        bootstrap=options.bootstrap, events=0, duplicates=0.0, partitions=options.partitions,
        rounds=0, commit_interval=options.commit_interval, worker_cpus=None, watcher_cpus=None,
        contenders=(),
    )  # fmt: skip


def _ingress_env(options: Options, prefix: str, port: int) -> dict[str, str]:
    return bridge_environ(
        {
            "WEBHOOKS": ENDPOINT,
            f"WEBHOOK_{ENDPOINT.upper()}_SECRETS": SECRET,
            "HTTP_PORT": str(port),
            "KAFKA_BOOTSTRAP_SERVERS": options.bootstrap,
            "TOPIC_PREFIX": prefix,
            "LOG_LEVEL": "WARNING",
        }
    )


def _worker_env(
    options: Options, prefix: str, app_id: str, guarantee: str, work: Path
) -> dict[str, str]:
    return bridge_environ(
        {
            "KAFKA_BOOTSTRAP_SERVERS": options.bootstrap,
            "TOPIC_PREFIX": prefix,
            "APP_ID": app_id,
            "DATA_DIR": str(work / "data"),
            "WEB_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "PROCESSING_GUARANTEE": guarantee,
            "COMMIT_INTERVAL_SECONDS": str(options.commit_interval),
            "TOPIC_PARTITIONS": str(options.partitions),
        }
    )


async def _pace(port: int, rate: float, seconds: float, *, seed: int) -> dict[str, Any]:
    transactions = max(1, round(rate * seconds / EVENTS_PER_TRANSACTION) + 10)
    process = await asyncio.create_subprocess_exec(
        *python_command(
            "bench.pacer",
            "--url", f"http://127.0.0.1:{port}{PATH}",
            "--rate", str(rate),
            "--seconds", str(seconds),
            "--transactions", str(transactions),
            "--seed", str(seed),
            "--secret", SECRET,
        ),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pacer failed: {stderr.decode(errors='replace')[-2000:]}")
    result: dict[str, Any] = orjson.loads(stdout.splitlines()[-1])
    return result


def _accepted(load: dict[str, Any]) -> int:
    return int(load["statuses"].get("200", 0))


async def _wait_for(watch: Watch, count: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while len(watch.stamps) < count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


async def _watch(bootstrap: str, names: Sequence[str], committed: bool, watch: Watch) -> None:
    counts = await kafka_admin.partitions(bootstrap, names)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(n, p) for n, c in counts.items() for p in range(c)])
        await consumer.seek_to_beginning()
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            now_ms = int(time.time() * 1000)
            for records in batches.values():
                for record in records:
                    received = dict(record.headers).get(headers.RECEIVED_AT_MS)
                    if received is not None:
                        watch.stamps.append((int(received), int(record.timestamp), now_ms))
    finally:
        await consumer.stop()


def _describe(result: dict[str, Any]) -> str:
    lat = result["latency_ms"]
    return (
        f"{result['guarantee']} (commit {result['commit_interval_seconds']} s) {result['rate']}/s: "
        f"visible p50 {lat['p50']} ms p99 {lat['p99']} ms "
        f"(appended p99 {result['append_latency_ms']['p99']} ms) "
        f"max {lat['max']} ms over {result['outputs_measured']} outputs "
        f"({result['outputs_per_second']}/s) "
        f"(offered {result['load']['offered_rate']}/s, statuses {result['load']['statuses']}); "
        f"ingress cpu {result['ingress']['cpu_percent']}%, worker cpu "
        f"{result['worker']['cpu_percent']}%"
    )
