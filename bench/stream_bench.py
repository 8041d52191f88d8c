"""Stream benchmark: one worker from start to its last output, beside a plain consumer and Quix.

The raw topic is preloaded with N records exactly as the ingress writes them
(simulated lifecycles, 20 % of the events delivered again). The expected
outputs are computed first with the reference model (``streams.pipeline.replay``),
so a run ends when the watcher has seen that many records on the output topics;
the run's time is from the process start to the broker timestamp of the last
output. Each contender is one process pinned to core 0; this process (the
watcher) runs on core 1; the broker floats.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import corpus, kafka_admin
from bench.util import (
    RESULTS,
    ROOT,
    Sampler,
    bridge_environ,
    check_loopback,
    conditions,
    median,
    pinned,
    python_command,
    ratio,
    run_id,
    servers,
    start_process,
    write_result,
)
from ingress.records import Delivery, record_for
from schemas.topics import Topics
from streams.pipeline import PipelineConfig, RawRecord, replay

log = logging.getLogger(__name__)

RESULTS_PROFILES = RESULTS / "profiles"
CONTENDERS = ("plain", "ours", "quix")
#: Not targets: ``ours-batch1`` is the worker with ``BATCH_MAX_RECORDS=1`` (one record
#: made durable at a time, as before batching); ``faust-floor*`` read and do nothing.
EXPERIMENTS = ("ours-tree", "ours-batch1", "faust-floor", "faust-floor-take")
WINDOW_MS = 72 * 3600 * 1000
EVENTS_PER_TRANSACTION = 4.6  # deliveries per simulated transaction with 20 % duplicates


@dataclass(frozen=True)
class Options:
    bootstrap: str
    events: int
    duplicates: float
    partitions: int
    rounds: int
    commit_interval: float
    worker_cpus: str | None
    watcher_cpus: set[int] | None
    contenders: tuple[str, ...]
    timeout: float = 600.0
    #: Record each contender with py-spy into bench/results/profiles/stream-<contender>.txt.gz.
    profile: bool = False
    #: Experiment: the source tree the contender ``ours-tree`` runs the worker from.
    ours_tree: Path | None = None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=20_000, help="raw records (default 20000)")
    parser.add_argument("--duplicates", type=float, default=0.2)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--commit-interval", type=float, default=2.8, help="seconds, all sides")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help="of: " + ", ".join(CONTENDERS + EXPERIMENTS),
    )
    parser.add_argument("--profile", action="store_true", help="py-spy each contender")
    parser.add_argument(
        "--ours-tree",
        type=Path,
        default=None,
        help="experiment: also run the worker of another source tree as 'ours-tree' "
        "(e.g. a `git archive` of an older commit), to measure a change",
    )


def options_from(args: argparse.Namespace) -> Options:
    return Options(
        bootstrap=args.bootstrap,
        events=args.events,
        duplicates=args.duplicates,
        partitions=args.partitions,
        rounds=args.rounds,
        commit_interval=args.commit_interval,
        worker_cpus=None if args.no_pin else "0",
        watcher_cpus=None if args.no_pin else {1},
        contenders=tuple(c.strip() for c in args.contenders.split(",")),
        profile=bool(getattr(args, "profile", False)),
        ours_tree=_resolved(getattr(args, "ours_tree", None)),
    )


def _resolved(path: Path | None) -> Path | None:
    return None if path is None else path.resolve()


@dataclass(frozen=True)
class Preloaded:
    topics: Topics
    records: int
    value_bytes: int
    expected_outputs: int
    expected_by_kind: dict[str, int]
    duplicates: int


def run(options: Options, name: str = "stream") -> dict[str, Any]:
    check_loopback(options.bootstrap)
    affinity = os.sched_getaffinity(0)
    if options.watcher_cpus is not None:
        os.sched_setaffinity(0, options.watcher_cpus)
    prefix = run_id("st")
    topics = Topics(prefix)
    quix_topics = Topics(f"{prefix}q")
    document: dict[str, Any] = {"conditions": conditions(options.bootstrap), "runs": []}
    try:
        _create_contract_topics(options, prefix)
        asyncio.run(
            kafka_admin.create_topics(options.bootstrap, _outputs(quix_topics), options.partitions)
        )
        asyncio.run(
            kafka_admin.use_log_append_time(
                options.bootstrap, [*_outputs(topics), *_outputs(quix_topics)]
            )
        )
        data = asyncio.run(preload(options, topics))
        log.info(
            "preloaded %d records (%d duplicates); %d outputs expected",
            data.records,
            data.duplicates,
            data.expected_outputs,
        )
        document["config"] = _config(options, prefix, data)
        with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
            for round_ in range(options.rounds):
                order = options.contenders if round_ % 2 == 0 else options.contenders[::-1]
                for contender in order:
                    try:
                        result = _run_contender(contender, round_, options, data, quix_topics, tmp)
                    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                        log.warning("%s failed: %s", contender, exc)
                        result = {"contender": contender, "complete": False, "error": str(exc)}
                        document["runs"].append(result)
                        continue
                    result["round"] = round_
                    document["runs"].append(result)
                    log.info("%s", _describe(result))
    finally:
        os.sched_setaffinity(0, affinity)
        kafka_admin.delete_prefix(options.bootstrap, prefix)
    document["conditions"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    document["summary"] = summarize(document["runs"])
    document["ratios"] = ratios(document["summary"])
    write_result(name, document)
    return document


def _config(options: Options, prefix: str, data: Preloaded) -> dict[str, Any]:
    return {
        "topic_prefix": prefix,
        "raw_records": data.records,
        "duplicates": data.duplicates,
        "raw_value_bytes_mean": round(data.value_bytes / max(1, data.records)),
        "partitions": options.partitions,
        "expected_outputs": data.expected_outputs,
        "expected_by_kind": data.expected_by_kind,
        "commit_interval_seconds": options.commit_interval,
        "processing_guarantee": "at-least-once (all contenders)",
        "ours": "fedapay-bridge worker: Faust, RocksDB tables, idempotent producer acks=all",
        "quix": "bench/peers/quix_worker.py: Quix Streams, RocksDB state, acks=all",
        "plain": "bench/plain_consumer.py: aiokafka, assign (no group), does nothing",
        "worker_cpus": options.worker_cpus,
        "watcher_cpus": sorted(options.watcher_cpus) if options.watcher_cpus else None,
        "rounds": options.rounds,
    }


def _outputs(topics: Topics) -> list[str]:
    return [*topics.per_type(), topics.unknown, topics.status, topics.anomalies, topics.dlq]


def _create_contract_topics(options: Options, prefix: str, app_id: str | None = None) -> None:
    """``fedapay-bridge topics create``: the contract's topics (and an app's changelogs)."""
    env = bridge_environ(
        {
            "KAFKA_BOOTSTRAP_SERVERS": options.bootstrap,
            "TOPIC_PREFIX": prefix,
            "TOPIC_PARTITIONS": str(options.partitions),
            "LOG_LEVEL": "WARNING",
            **({"APP_ID": app_id} if app_id else {}),
        }
    )
    extra = () if app_id else ("--no-changelogs",)
    subprocess.run(
        python_command("common", "topics", "create", *extra),
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def preload(options: Options, topics: Topics) -> Preloaded:
    """Write N raw records as the ingress would, and compute the outputs they must give."""
    transactions = max(1, round(options.events / EVENTS_PER_TRANSACTION))
    bodies = corpus.deliveries(transactions, duplicates=options.duplicates, seed=11)
    while len(bodies) < options.events:  # top up with a further scenario if short
        more = corpus.deliveries(transactions // 4 + 1, duplicates=options.duplicates, seed=12)
        bodies.extend(more)
    bodies = bodies[: options.events]
    producer = AIOKafkaProducer(
        bootstrap_servers=options.bootstrap, acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    raw: list[RawRecord] = []
    value_bytes = 0
    try:
        now_s = int(time.time())
        futures = []
        records = []
        for index, body in enumerate(bodies):
            received = int(time.time() * 1000) + index // 1000  # a slowly advancing clock
            record = record_for(Delivery("bench", body.data, now_s, received), topics)
            records.append(record)
            futures.append(
                await producer.send(record.topic, record.value, key=record.key,
                                    headers=record.headers)
            )  # fmt: skip
            value_bytes += len(record.value)
        metas = await asyncio.gather(*futures)
        for record, meta in zip(records, metas, strict=True):
            raw.append(
                RawRecord(record.key, record.value, tuple(record.headers), meta.partition,
                          meta.offset, meta.timestamp)
            )  # fmt: skip
    finally:
        await producer.stop()
    outputs, _, _ = replay(raw, PipelineConfig(topics=topics, dedup_window_ms=WINDOW_MS))
    by_kind: dict[str, int] = {}
    for output in outputs:
        by_kind[str(output.kind)] = by_kind.get(str(output.kind), 0) + 1
    distinct = len({body.data for body in bodies})
    return Preloaded(topics, len(raw), value_bytes, len(outputs), by_kind, len(raw) - distinct)


def _run_contender(
    contender: str,
    round_: int,
    options: Options,
    data: Preloaded,
    quix_topics: Topics,
    tmp: str,
) -> dict[str, Any]:
    if contender == "plain":
        return _run_plain(options, data, Path(tmp))
    if contender.startswith("faust-floor"):
        return _run_floor(contender, round_, options, data, Path(tmp))
    ours = contender.startswith("ours")
    output_topics = _outputs(data.topics if ours else quix_topics)
    start_offsets = asyncio.run(_end_offsets(options.bootstrap, output_topics))
    tag = f"{data.topics.prefix}-{contender}{round_}"
    if ours:  # its table changelogs, made as the docs say
        _create_contract_topics(options, data.topics.prefix, app_id=tag)
    command, env = _contender_command(contender, tag, options, data, quix_topics, Path(tmp))
    cwd = ROOT
    if contender == "ours-tree" and options.ours_tree is not None:
        env["PYTHONPATH"] = str(options.ours_tree)
        cwd = options.ours_tree
    with servers() as started:
        started_ms = time.time() * 1000
        server = start_process(
            tag, pinned(command, options.worker_cpus), env, Path(tmp) / "logs", cwd=cwd
        )
        started.append(server)
        spy = _py_spy(server.pid, contender) if options.profile else None
        with Sampler(server.pid, interval=0.1) as sampler:
            seen = asyncio.run(
                _watch(options.bootstrap, start_offsets, data.expected_outputs, options.timeout,
                       server)
            )  # fmt: skip
    if spy is not None:
        _finish_profile(spy, contender)
    first_ms, last_ms, count = seen.first_ms, seen.last_ms, seen.count
    complete = count >= data.expected_outputs
    elapsed = (last_ms - started_ms) / 1000 if last_ms else None
    steady = (last_ms - first_ms) / 1000 if last_ms and first_ms else None
    result: dict[str, Any] = {
        "contender": contender,
        "complete": complete,
        "outputs_seen": count,
        "seconds_start_to_last_output": _round(elapsed),
        "seconds_first_to_last_output": _round(steady),
        "events_per_second": _rate(data.records, elapsed),
        "events_per_second_steady": _rate(data.records, steady),
        "process": sampler.usage.to_dict(),
        "cpu_us_per_event_steady": _per_event(seen.steady_cpu_seconds, data.records),
    }
    if not complete:
        result["log_tail"] = server.log_path.read_text(errors="replace")[-2000:]
    return result


def _py_spy(pid: int, contender: str) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        log.warning("py-spy is not installed; no profile")
        return None
    RESULTS_PROFILES.mkdir(parents=True, exist_ok=True)
    target = RESULTS_PROFILES / f"stream-{contender}.txt"
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "200",
         "--output", str(target), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _finish_profile(spy: subprocess.Popen[bytes], contender: str) -> None:
    """py-spy stops when the profiled process has exited; pack its stacks."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        spy.wait(30)
    target = RESULTS_PROFILES / f"stream-{contender}.txt"
    if target.exists():
        target.with_suffix(".txt.gz").write_bytes(gzip.compress(target.read_bytes()))
        target.unlink()


def _contender_command(
    contender: str, tag: str, options: Options, data: Preloaded, quix_topics: Topics, tmp: Path
) -> tuple[list[str], dict[str, str]]:
    if contender.startswith("ours"):
        env = bridge_environ(
            {
                "KAFKA_BOOTSTRAP_SERVERS": options.bootstrap,
                "TOPIC_PREFIX": data.topics.prefix,
                "APP_ID": tag,
                "DATA_DIR": str(tmp / tag),
                "WEB_ENABLED": "false",
                "LOG_LEVEL": "WARNING",
                "TOPIC_PARTITIONS": str(options.partitions),
                "COMMIT_INTERVAL_SECONDS": str(options.commit_interval),
                "BATCH_MAX_RECORDS": "1" if contender == "ours-batch1" else "500",
            }
        )
        return python_command("common", "worker"), env
    command = python_command(
        "bench.peers.quix_worker",
        "--bootstrap", options.bootstrap,
        "--raw-topic", data.topics.raw,
        "--output-prefix", quix_topics.prefix,
        "--group", tag,
        "--state-dir", str(tmp / tag),
        "--partitions", str(options.partitions),
        "--commit-interval", str(options.commit_interval),
    )  # fmt: skip
    return command, bridge_environ({})


def _run_plain(options: Options, data: Preloaded, tmp: Path) -> dict[str, Any]:
    command = pinned(
        python_command(
            "bench.plain_consumer", "--bootstrap", options.bootstrap, "--topic",
            data.topics.raw, "--count", str(data.records),
        ),
        options.worker_cpus,
    )  # fmt: skip
    started_ms = time.time() * 1000
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = process.communicate(timeout=options.timeout)
    if process.returncode != 0:
        raise RuntimeError(f"plain consumer failed: {stderr.decode(errors='replace')[:3000]}")
    report = orjson.loads(stdout.splitlines()[-1])
    elapsed = (report["last_ms"] - started_ms) / 1000
    steady = (report["last_ms"] - report["first_ms"]) / 1000
    return {
        "contender": "plain",
        "complete": report["records"] >= data.records,
        "records_seen": report["records"],
        "seconds_start_to_last_output": _round(elapsed),
        "seconds_first_to_last_output": _round(steady),
        "events_per_second": _rate(data.records, elapsed),
        "events_per_second_steady": _rate(data.records, steady),
        "cpu_us_per_event_steady": _per_event(report["cpu_seconds"], data.records),
        "process": {
            "cpu_seconds": round(report["cpu_seconds"], 3),
            "cpu_percent": round(100 * report["cpu_seconds"] / elapsed, 1),
            "peak_rss_mib": round(report["peak_rss_mib"], 1),
        },
    }


def _run_floor(
    contender: str, round_: int, options: Options, data: Preloaded, tmp: Path
) -> dict[str, Any]:
    """bench/experiments/faust_floor.py: Faust reading the raw topic and doing nothing."""
    tag = f"{data.topics.prefix}-{contender}{round_}"
    report_path = tmp / f"{tag}.json"
    command = pinned(
        python_command(
            "bench.experiments.faust_floor", "--bootstrap", options.bootstrap,
            "--topic", data.topics.raw, "--count", str(data.records), "--group", tag,
            "--data-dir", str(tmp / tag), "--report", str(report_path),
            *(["--take", "500"] if contender.endswith("-take") else []),
        ),
        options.worker_cpus,
    )  # fmt: skip
    started_ms = time.time() * 1000
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=options.timeout)
    if not report_path.exists():
        raise RuntimeError(f"{contender} failed: {stderr.decode(errors='replace')[-2000:]}")
    report = orjson.loads(report_path.read_bytes())
    elapsed = (report["last_ms"] - started_ms) / 1000
    steady = (report["last_ms"] - report["first_ms"]) / 1000
    return {
        "contender": contender,
        "complete": report["records"] >= data.records,
        "seconds_start_to_last_output": _round(elapsed),
        "seconds_first_to_last_output": _round(steady),
        "events_per_second": _rate(data.records, elapsed),
        "events_per_second_steady": _rate(data.records, steady),
        "cpu_us_per_event_steady": None,
        "process": {"cpu_seconds": None, "cpu_percent": None, "peak_rss_mib": None},
    }


async def _end_offsets(bootstrap: str, names: Sequence[str]) -> dict[TopicPartition, int]:
    counts = await kafka_admin.partitions(bootstrap, names)
    partitions = [TopicPartition(name, p) for name, n in counts.items() for p in range(n)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def _watch(
    bootstrap: str,
    start: dict[TopicPartition, int],
    expected: int,
    within: float,
    server: Any,
) -> Seen:
    """Count output records past ``start`` until ``expected``; their first and last timestamps."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    first_ms = last_ms = 0.0
    count = 0
    cpu_at_first = cpu_at_last = None
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + within
        while count < expected and time.monotonic() < deadline:
            if server.process.poll() is not None:
                log.warning("%s exited early; see %s", server.name, server.log_path)
                break
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for record in records:
                    count += 1
                    stamp = float(record.timestamp)
                    first_ms = stamp if not first_ms else min(first_ms, stamp)
                    last_ms = max(last_ms, stamp)
            if count and cpu_at_first is None:
                cpu_at_first = _cpu_seconds(server.pid)
        cpu_at_last = _cpu_seconds(server.pid)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
    steady_cpu = None
    if cpu_at_first is not None and cpu_at_last is not None:
        steady_cpu = cpu_at_last - cpu_at_first
    return Seen(first_ms, last_ms, count, steady_cpu)


@dataclass(frozen=True)
class Seen:
    first_ms: float
    last_ms: float
    count: int
    #: CPU seconds the contender used between the first and the last output seen.
    steady_cpu_seconds: float | None


def _cpu_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return float(times.user + times.system)


def _per_event(cpu_seconds: float | None, records: int) -> float | None:
    return None if cpu_seconds is None else round(1e6 * cpu_seconds / records, 1)


def _median_or_none(values: Sequence[float]) -> float | None:
    return round(median(values), 1) if values else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _rate(records: int, seconds: float | None) -> float | None:
    return round(records / seconds, 1) if seconds else None


def _describe(result: dict[str, Any]) -> str:
    if "process" not in result:
        return f"{result['contender']}: failed"
    return (
        f"{result['contender']:>6}: {result['events_per_second']} events/s from start "
        f"({result['seconds_start_to_last_output']} s), {result['events_per_second_steady']} "
        f"steady; cpu {result['process']['cpu_percent']}% "
        f"({result['cpu_us_per_event_steady']} us/event steady), peak rss "
        f"{result['process']['peak_rss_mib']} MiB, complete={result['complete']}"
    )


def summarize(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    summary: dict[str, dict[str, Any]] = {}
    for contender in dict.fromkeys(r["contender"] for r in runs):
        group = [r for r in runs if r["contender"] == contender and r["complete"]]
        if not group:
            summary[contender] = {"complete": False}
            continue
        summary[contender] = {
            "complete": True,
            "events_per_second": round(median([r["events_per_second"] for r in group]), 1),
            "events_per_second_steady": round(
                median([r["events_per_second_steady"] for r in group]), 1
            ),
            "seconds_start_to_last_output": round(
                median([r["seconds_start_to_last_output"] for r in group]), 3
            ),
            "peak_rss_mib": max((r["process"]["peak_rss_mib"] or 0.0) for r in group) or None,
            "cpu_percent": _median_or_none(
                [r["process"]["cpu_percent"] for r in group if r["process"]["cpu_percent"]]
            ),
            "cpu_us_per_event_steady": _median_or_none(
                [r["cpu_us_per_event_steady"] for r in group if r["cpu_us_per_event_steady"]]
            ),
            "rounds": len(group),
        }
    return summary


def ratios(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label, (a, b) in {"ours_vs_quix": ("ours", "quix"), "ours_vs_plain": ("ours", "plain"),
                          "quix_vs_plain": ("quix", "plain")}.items():  # fmt: skip
        mine, theirs = summary.get(a, {}), summary.get(b, {})
        out[label] = {
            "events_per_second": ratio(mine.get("events_per_second"),
                                       theirs.get("events_per_second")),
            "events_per_second_steady": ratio(mine.get("events_per_second_steady"),
                                              theirs.get("events_per_second_steady")),
        }  # fmt: skip
    return out
