"""Profile the ingress under load with py-spy: where does its CPU go?

    python -m bench profile [--concurrency 64] [--seconds 10] [--uvloop]

Starts the ingress pinned to core 0 under ``py-spy record`` (collapsed stacks),
drives it with wrk from core 1, then prints the functions with the most samples,
inclusive and self. The raw stacks stay in bench/results/profiles/.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench import corpus, kafka_admin
from bench.ingress_bench import PATH
from bench.loadgen import run_wrk
from bench.otlp_sink import OtlpSink
from bench.util import (
    ENDPOINT,
    RESULTS,
    ROOT,
    SECRET,
    bridge_environ,
    check_loopback,
    free_port,
    pinned,
    python_command,
    run_id,
    start_process,
    wait_http_ok,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--linger-ms", type=int, default=0)
    parser.add_argument("--compression", default="none")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--name", default="ingress")
    parser.add_argument("--native", action="store_true", help="py-spy --native (C frames)")
    parser.add_argument("--baseline", action="store_true", help="profile the baseline instead")
    parser.add_argument(
        "--traced",
        action="store_true",
        help="tracing on: every request traced, spans exported to a loopback OTLP sink",
    )
    parser.add_argument(
        "--summarize", type=Path, default=None, help="only summarize a stacks file (.txt[.gz])"
    )


def run(args: argparse.Namespace) -> Path:
    if args.summarize is not None:
        print(summarize(args.summarize, args.top))
        return Path(args.summarize)
    check_loopback(args.bootstrap)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    prefix = run_id("prof")
    port = free_port()
    out_dir = RESULTS / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    stacks = out_dir / f"{args.name}.txt"
    env = bridge_environ(
        {
            "WEBHOOKS": ENDPOINT,
            f"WEBHOOK_{ENDPOINT.upper()}_SECRETS": SECRET,
            "HTTP_PORT": str(port),
            "KAFKA_BOOTSTRAP_SERVERS": args.bootstrap,
            "TOPIC_PREFIX": prefix,
            "UVLOOP": "true" if args.uvloop else "false",
            "PRODUCER_LINGER_MS": str(args.linger_ms),
            "PRODUCER_COMPRESSION": args.compression,
            "LOG_LEVEL": "WARNING",
        }
    )
    pool = corpus.bodies()
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp, OtlpSink() as sink:
        if args.traced:
            env["OTEL_TRACES_EXPORTER"] = "otlp"
            env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = sink.endpoint
        command = python_command("common", "ingress")
        if args.baseline:
            command = python_command(
                "bench.baseline_ingress", "--port", str(port), "--topic", f"{prefix}.raw",
                "--bootstrap", args.bootstrap, "--linger-ms", str(args.linger_ms),
                "--compression", args.compression, *(["--uvloop"] if args.uvloop else []),
            )  # fmt: skip
        server = start_process("ingress", pinned(command, "0"), env, Path(tmp))
        try:
            wait_http_ok(port, "/readyz", 60, server)
            requests = corpus.write_wrk_requests(
                pool, PATH, port, SECRET, Path(tmp) / "requests.bin"
            )
            run_wrk(port, PATH, args.concurrency, 2, requests, "1")  # warm-up
            spy = subprocess.Popen(
                [
                    py_spy, "record", "--pid", str(server.pid), "--format", "raw",
                    "--rate", "250", "--duration", str(round(args.seconds)),
                    "--output", str(stacks), "--nonblocking",
                    *(["--native"] if args.native else []),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            time.sleep(0.5)
            result = run_wrk(port, PATH, args.concurrency, args.seconds, requests, "1")
            spy.wait(args.seconds + 30)
        finally:
            server.stop()
    kafka_admin.delete_prefix(args.bootstrap, prefix)
    print(
        f"{result.accepted / result.seconds:.0f} accepted/s, p99 {result.latency_ms('p99')} ms, "
        f"{result.accepted} requests"
    )
    print(summarize(stacks, args.top))
    packed = stacks.with_suffix(".txt.gz")
    packed.write_bytes(gzip.compress(stacks.read_bytes()))
    stacks.unlink()
    return packed


#: Where a sample's time is booked: the frame nearest the leaf whose file matches, in this order.
CATEGORIES = (
    ("tracing (OpenTelemetry)", ("opentelemetry/", "common/tracing.py")),
    ("signature check", ("ingress/signature.py",)),
    ("JSON parse + record (key, headers)", ("schemas/", "ingress/records.py", "orjson", "msgspec")),
    ("metrics", ("prometheus_client/", "ingress/prom.py")),
    (
        "worker logic (streams: read, plan, codec)",
        (
            "streams/pipeline",
            "streams/normalize",
            "streams/state_machine",
            "streams/codec",
            "streams/dedup",
            "streams/clock",
        ),
    ),
    ("Faust tables + RocksDB", ("faust/tables", "faust/stores", "rocksdict")),
    ("worker glue (streams: processor, app)", ("streams/",)),
    ("Faust + mode runtime", ("faust/", "mode/")),
    ("Quix Streams runtime", ("quixstreams/",)),
    ("confluent-kafka", ("confluent_kafka",)),
    ("asyncio.timeout", ("asyncio/timeouts.py",)),
    ("Kafka producer (aiokafka)", ("aiokafka/",)),
    ("ingress handler + middleware (own code)", ("ingress/", "bench/baseline_ingress.py")),
    ("HTTP server (aiohttp)", ("aiohttp/", "multidict/", "yarl/")),
    ("event loop, sockets", ("asyncio/", "selectors.py", "uvloop/")),
)


def _lines(stacks: Path) -> list[str]:
    data = stacks.read_bytes()
    if stacks.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode().splitlines()


def breakdown(stacks: Path) -> dict[str, float]:
    """Share of the samples per category (see CATEGORIES)."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in _lines(stacks):
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        counts[_category(stack.split(";"))] += count
    return {name: round(100 * n / total, 1) for name, n in counts.most_common()} if total else {}


def _category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def summarize(stacks: Path, top: int) -> str:
    """Inclusive and self sample shares per function from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in _lines(stacks):
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = [_short(f) for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    lines = [f"{total} samples", "by category:"]
    lines += [f"  {share:5.1f}%  {name}" for name, share in breakdown(stacks).items()]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/", f"{ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"
