"""Soak: a steady stream through the ingress and a worker for a bounded time.

    python -m tests.reliability.soak [--duration 600] [--rate 20] [--window 60] [--sweep 10]

Starts its own ingress and worker (subprocesses, own topic prefix, on the local
broker), posts fresh simulated FedaPay streams at a steady rate, and every
``--sample`` seconds records the resident memory of both processes and the
number of live keys in the dedup table (read from its changelog: a key is live
until a tombstone deletes it). At the end it prints the samples and a summary,
writes it to .cache/reliability/soak.json, and fails (exit 1) when:

* memory grew beyond the bound: the median RSS of the last tenth of the run
  exceeds the median of the 20-30 % tenth by more than ``--max-growth-mib``
  (per process);
* the dedup table was not bounded by its window: after the warm-up, live keys
  exceeded ``distinct events per second x (window + sweep) x 1.5``, or nothing
  was ever deleted;
* any delivery failed (no 2xx after retries).

The window is short on purpose (default 60 s) so a 10-minute run crosses it
many times; production uses 72 h.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaConsumer

from simulator.delivery import DeliveryReport
from streams.tables import DEDUP, changelog_topic
from tests.reliability import results
from tests.reliability.dedup_table import DedupChangelog
from tests.reliability.deployment import Deployment
from tests.reliability.procs import BridgeProcess
from tests.reliability.stream import Stream

MIB = 1024


@dataclass
class Sample:
    elapsed_s: float
    ingress_rss_mib: float
    worker_rss_mib: float
    dedup_live_keys: int
    dedup_tombstones: int
    deliveries_done: int


@dataclass
class Load:
    deliveries: int = 0
    acknowledged: int = 0
    distinct_events: int = 0
    failures: int = 0
    streams: int = 0
    reports: list[dict[str, Any]] = field(default_factory=list)

    def add(self, stream: Stream, report: DeliveryReport) -> None:
        self.streams += 1
        self.deliveries += report.deliveries
        self.acknowledged += report.sent
        self.failures += report.failures
        self.distinct_events += stream.scenario.truth.distinct_events


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (600)")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second (20)")
    parser.add_argument("--window", type=int, default=60, help="dedup window in s (60)")
    parser.add_argument("--sweep", type=int, default=10, help="dedup sweep interval in s (10)")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples (10)")
    parser.add_argument("--max-growth-mib", type=float, default=40.0, help="RSS growth bound (40)")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="Kafka (127.0.0.1:9092)")
    parser.add_argument(
        "--mode", default="at_least_once", choices=("at_least_once", "exactly_once")
    )
    return parser.parse_args(argv)


async def feed(
    deployment: Deployment, args: argparse.Namespace, load: Load, stop_at: float
) -> None:
    """Fresh streams, one after the other, at the steady rate, until ``stop_at``."""
    seed = 1000
    while time.monotonic() < stop_at:
        seed += 1
        stream = Stream.make(40, 4, seed=seed, duplicates=0.2, reorder_window=5)
        report = await stream.post(
            deployment.url,
            deployment.secret,
            rate=args.rate,
            deadline=stop_at - time.monotonic() + 120,
        )
        load.add(stream, report)


async def tail_changelog(
    bootstrap: str, topic: str, folded: DedupChangelog, stop: asyncio.Event
) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
        enable_auto_commit=False, isolation_level="read_committed",
    )  # fmt: skip
    await consumer.start()
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                folded.apply(batch)
    finally:
        await consumer.stop()


async def sample(
    ingress: BridgeProcess, worker: BridgeProcess, folded: DedupChangelog, load: Load,
    started: float, every: float, stop: asyncio.Event, samples: list[Sample],
) -> None:  # fmt: skip
    while not stop.is_set():
        if not (ingress.alive() and worker.alive()):
            raise RuntimeError("a bridge process died during the soak")
        samples.append(
            Sample(
                elapsed_s=round(time.monotonic() - started, 1),
                ingress_rss_mib=round(ingress.rss_kib() / MIB, 1),
                worker_rss_mib=round(worker.rss_kib() / MIB, 1),
                dedup_live_keys=len(folded.alive),
                dedup_tombstones=folded.tombstones,
                deliveries_done=load.deliveries,
            )
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


def growth(samples: list[Sample], attribute: str) -> tuple[float, float, float]:
    """(baseline, final, growth) in MiB: medians of the 20-30 % and the last 10 % samples."""
    values = [getattr(s, attribute) for s in samples]
    n = len(values)
    baseline = statistics.median(values[int(n * 0.2) : max(int(n * 0.3), int(n * 0.2) + 1)])
    final = statistics.median(values[int(n * 0.9) :])
    return baseline, final, round(final - baseline, 1)


def slope_mib_per_hour(samples: list[Sample], attribute: str) -> float:
    """Least-squares slope of one memory series over the second half of the run."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return 0.0
    xs = [s.elapsed_s for s in half]
    ys = [float(getattr(s, attribute)) for s in half]
    return round(statistics.linear_regression(xs, ys).slope * 3600, 1)


def verdict(args: argparse.Namespace, samples: list[Sample], load: Load) -> dict[str, Any]:
    problems: list[str] = []
    memory = {}
    for name in ("ingress_rss_mib", "worker_rss_mib"):
        baseline, final, grown = growth(samples, name)
        memory[name] = {
            "baseline": baseline,
            "final": final,
            "growth": grown,
            "max": max(getattr(s, name) for s in samples),
        }
        if grown > args.max_growth_mib:
            problems.append(f"{name} grew {grown} MiB (bound {args.max_growth_mib})")
    distinct_rate = load.distinct_events / max(args.duration, 1.0)
    bound = int(distinct_rate * (args.window + args.sweep) * 1.5) + 50
    warm = [s for s in samples if s.elapsed_s > 2 * (args.window + args.sweep)]
    peak = max((s.dedup_live_keys for s in warm), default=0)
    if warm and peak > bound:
        problems.append(f"dedup table peaked at {peak} live keys (bound {bound})")
    if samples and samples[-1].dedup_tombstones == 0:
        problems.append("no dedup key was ever deleted")
    if load.failures:
        problems.append(f"{load.failures} deliveries failed")
    return {
        "duration_s": args.duration,
        "rate_per_s": args.rate,
        "mode": args.mode,
        "dedup_window_s": args.window,
        "dedup_sweep_s": args.sweep,
        "deliveries": load.deliveries,
        "acknowledged": load.acknowledged,
        "failed": load.failures,
        "distinct_events": load.distinct_events,
        "memory_mib": memory,
        "max_growth_bound_mib": args.max_growth_mib,
        "dedup_live_keys_peak_after_warmup": peak,
        "dedup_live_keys_bound": bound,
        "dedup_live_keys_final": samples[-1].dedup_live_keys if samples else 0,
        "dedup_tombstones": samples[-1].dedup_tombstones if samples else 0,
        "problems": problems,
        "passed": not problems,
    }


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="soak-", dir=_cache()))
    window = {
        "DEDUP_WINDOW_SECONDS": str(args.window),
        "DEDUP_SWEEP_INTERVAL_SECONDS": str(args.sweep),
    }
    prefix = f"soak{uuid4().hex[:8]}"
    deployment = Deployment(args.bootstrap, prefix, root, mode=args.mode, extra=window)
    await asyncio.to_thread(deployment.create_topics)
    folded, load = DedupChangelog(), Load()
    samples: list[Sample] = []
    stop = asyncio.Event()
    worker = deployment.worker("soak")
    with deployment.ingress() as ingress:
        await deployment.wait_ingress_ready(ingress)
        worker.start()
        try:
            started = time.monotonic()
            changelog = changelog_topic(deployment.app_id, DEDUP)
            watchers = [
                asyncio.create_task(tail_changelog(args.bootstrap, changelog, folded, stop)),
                asyncio.create_task(
                    sample(ingress, worker, folded, load, started, args.sample, stop, samples)
                ),
            ]
            await feed(deployment, args, load, started + args.duration)
            await asyncio.sleep(args.sample)  # one last sample after the load
            stop.set()
            await asyncio.gather(*watchers)
        finally:
            worker.stop()
    summary = verdict(args, samples, load)
    summary["samples"] = [asdict(s) for s in samples]
    summary["logs"] = str((root / "logs").relative_to(_cache().parents[1]))
    return summary


def _cache() -> Path:
    folder = Path(__file__).resolve().parents[2] / ".cache" / "soak"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report(summary: dict[str, Any]) -> None:
    columns = ("t (s)", "ingress MiB", "worker MiB", "dedup live", "tombstones", "sent")
    _say(" ".join(f"{name:>12}" for name in columns))
    for s in summary["samples"]:
        values = (
            s["elapsed_s"], s["ingress_rss_mib"], s["worker_rss_mib"],
            s["dedup_live_keys"], s["dedup_tombstones"], s["deliveries_done"],
        )  # fmt: skip
        _say(" ".join(f"{value:>12}" for value in values))
    shown = {k: v for k, v in summary.items() if k not in ("samples", "logs")}
    for key, value in shown.items():
        _say(f"{key}: {value}")


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    summary = asyncio.run(soak(args))
    report(summary)
    results.record("soak", summary)
    return 0 if summary["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
