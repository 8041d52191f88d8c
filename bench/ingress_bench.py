"""Ingress benchmark: ours vs a minimal aiohttp+aiokafka baseline, default loop vs uvloop.

Every variant runs as its own server process pinned to one core; wrk, pinned to
the other, drives it with N connections for a bounded time per cell. Cells are
interleaved per concurrency level (forward order in even rounds, reversed in odd
ones) so slow drift of the shared machine hits every variant alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import corpus, kafka_admin
from bench.loadgen import run_wrk
from bench.otlp_sink import OtlpSink
from bench.util import (
    ENDPOINT,
    ROOT,
    SECRET,
    Sampler,
    Server,
    bridge_environ,
    check_loopback,
    conditions,
    free_port,
    median,
    pinned,
    python_command,
    ratio,
    run_id,
    servers,
    start_process,
    wait_http_ok,
    write_result,
)

log = logging.getLogger(__name__)

PATH = f"/webhooks/{ENDPOINT}"
LEVELS = (1, 16, 64, 256)


@dataclass(frozen=True)
class Variant:
    name: str
    ours: bool
    uvloop: bool
    idempotent: bool = False
    keyed: bool = False
    #: Tracing on: every request traced (the SDK's default sampler), spans exported over
    #: OTLP/HTTP to a loopback sink (:mod:`bench.otlp_sink`).
    traced: bool = False
    #: ``OTEL_TRACES_SAMPLER`` of a traced variant (``None``: the SDK's default, every trace).
    sampler: str | None = None
    #: Run the ingress from this source tree instead of this one.
    tree: Path | None = None
    #: Server processes sharing the port (``SO_REUSEPORT``, :mod:`bench.experiments.reuseport`),
    #: on both cores (shared with wrk and the broker) when there are several.
    processes: int = 1


VARIANTS = (
    Variant("baseline", ours=False, uvloop=False),
    Variant("ours", ours=True, uvloop=False),
    Variant("baseline-uvloop", ours=False, uvloop=True),
    Variant("ours-uvloop", ours=True, uvloop=True),
    Variant("ours-2proc", ours=True, uvloop=False, processes=2),
)
#: Variants for experiments only (``--variants``), not in the default run.
EXPERIMENTS = (
    Variant("baseline-idempotent", ours=False, uvloop=False, idempotent=True),
    Variant("baseline-keyed", ours=False, uvloop=False, keyed=True),
    Variant("ours-traced", ours=True, uvloop=False, traced=True),
    Variant("ours-traced-unsampled", ours=True, uvloop=False, traced=True, sampler="always_off"),
    Variant("baseline-2proc", ours=False, uvloop=False, processes=2),
)


@dataclass(frozen=True)
class Options:
    bootstrap: str
    levels: tuple[int, ...]
    seconds: float
    rounds: int
    server_cpus: str | None
    client_cpus: str | None
    linger_ms: int | None
    compression: str | None
    baseline_linger_ms: int
    variants: tuple[Variant, ...]
    warmup_seconds: float = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrency levels")
    parser.add_argument("--seconds", type=float, default=10.0, help="per cell (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=None,
        help="the ingress's PRODUCER_LINGER_MS (default: its own)",
    )
    parser.add_argument(
        "--compression", default=None, help="the ingress's PRODUCER_COMPRESSION (default: its own)"
    )
    parser.add_argument(
        "--ours-tree",
        type=Path,
        action="append",
        default=None,
        help="experiment: also run the ingress of another source tree as 'ours-tree' "
        "(e.g. a `git archive` of an older commit), to measure a change; repeat it for more "
        "trees, run as 'tree-<folder name>'",
    )
    parser.add_argument(
        "--baseline-linger-ms", type=int, default=0, help="baseline producer linger (default 0)"
    )
    parser.add_argument(
        "--variants",
        default=",".join(v.name for v in VARIANTS),
        help="which of: " + ", ".join(v.name for v in VARIANTS),
    )


def options_from(args: argparse.Namespace) -> Options:
    chosen = {name.strip() for name in args.variants.split(",")}
    return Options(
        bootstrap=args.bootstrap,
        levels=tuple(int(x) for x in args.levels.split(",")),
        seconds=args.seconds,
        rounds=args.rounds,
        server_cpus=None if args.no_pin else "0",
        client_cpus=None if args.no_pin else "1",
        linger_ms=args.linger_ms,
        compression=args.compression,
        baseline_linger_ms=args.baseline_linger_ms,
        variants=_variants(chosen, args.ours_tree),
    )


def _variants(chosen: set[str], trees: Sequence[Path] | None) -> tuple[Variant, ...]:
    variants = [v for v in VARIANTS + EXPERIMENTS if v.name in chosen]
    for index, tree in enumerate(trees or ()):
        name = "ours-tree" if index == 0 else f"tree-{tree.name}"
        variants.append(Variant(name, ours=True, uvloop=False, tree=tree.resolve()))
    return tuple(variants)


def run(options: Options, name: str = "ingress") -> dict[str, Any]:
    check_loopback(options.bootstrap)
    prefix = run_id("in")
    pool = corpus.bodies()
    document: dict[str, Any] = {
        "conditions": conditions(options.bootstrap),
        "config": _config(options, prefix, pool),
        "cells": [],
    }
    with (
        tempfile.TemporaryDirectory(prefix="bench-ingress-") as tmp,
        OtlpSink() as sink,
        servers() as started,
    ):
        work = Path(tmp)
        running = {
            v.name: _start(v, options, prefix, work, started, sink.endpoint)
            for v in options.variants
        }
        for variant in options.variants:
            server, port = running[variant.name]
            _cell(variant, server, port, 16, options.warmup_seconds, pool, work, options)
        for level in options.levels:
            for round_ in range(options.rounds):
                order = options.variants if round_ % 2 == 0 else options.variants[::-1]
                for variant in order:
                    server, port = running[variant.name]
                    cell = _cell(variant, server, port, level, options.seconds, pool, work, options)
                    cell["round"] = round_
                    document["cells"].append(cell)
                    log.info("%s", _describe(cell))
        document["peak_rss_mib_whole_run"] = {
            v.name: _high_water_mib(running[v.name][0]) for v in options.variants
        }
    if any(v.traced for v in options.variants):
        document["spans_exported"] = {"spans": sink.spans, "export_requests": sink.requests}
    kafka_admin.delete_prefix(options.bootstrap, prefix)
    document["conditions"]["load_average_at_end"] = [round(x, 2) for x in _load()]
    document["summary"] = summarize(document["cells"])
    document["ratios"] = ratios(document["summary"])
    write_result(name, document)
    return document


def _config(options: Options, prefix: str, pool: Sequence[corpus.Body]) -> dict[str, Any]:
    return {
        "topic_prefix": prefix,
        "acks": "all",
        "levels": list(options.levels),
        "seconds_per_cell": options.seconds,
        "rounds": options.rounds,
        "order": "interleaved per level; forward in even rounds, reversed in odd rounds",
        "server_cpus": options.server_cpus,
        "load_generator": "wrk -t1 (closed loop, keep-alive), pre-signed requests",
        "load_generator_cpus": options.client_cpus,
        "broker_cpus": "unpinned (shares both cores)",
        "ingress_producer": _ingress_producer(options),
        "baseline_producer": {
            "acks": "all",
            "linger_ms": options.baseline_linger_ms,
            "compression": "none",
            "max_batch_size": 512 * 1024,
            "idempotent": False,
        },
        "distinct_bodies": len(pool),
        "body_bytes_mean": round(corpus.mean_size(pool)),
        "variants": [v.name for v in options.variants],
    }


def _start(
    variant: Variant,
    options: Options,
    prefix: str,
    work: Path,
    started: list[Server],
    otlp_endpoint: str,
) -> tuple[Server, int]:
    port = free_port()
    topic_prefix = f"{prefix}-{variant.name}"
    if variant.ours:
        env = bridge_environ(
            {
                "WEBHOOKS": ENDPOINT,
                f"WEBHOOK_{ENDPOINT.upper()}_SECRETS": SECRET,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "KAFKA_BOOTSTRAP_SERVERS": options.bootstrap,
                "TOPIC_PREFIX": topic_prefix,
                "UVLOOP": "true" if variant.uvloop else "false",
                "LOG_LEVEL": "WARNING",
                **_producer_overrides(options),
            }
        )
        env = {k: v for k, v in env.items() if not k.startswith("OTEL_")}
        if variant.traced:
            env["OTEL_TRACES_EXPORTER"] = "otlp"
            env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = otlp_endpoint
            if variant.sampler is not None:
                env["OTEL_TRACES_SAMPLER"] = variant.sampler
        module, args = "common", ["ingress"]
        if variant.tree is not None:
            env["PYTHONPATH"] = str(variant.tree)
    else:
        env = bridge_environ({})
        module, args = "bench.baseline_ingress", [
            "--port", str(port),
            "--topic", f"{topic_prefix}.raw",
            "--bootstrap", options.bootstrap,
            "--linger-ms", str(options.baseline_linger_ms),
            *(["--uvloop"] if variant.uvloop else []),
            *(["--idempotent"] if variant.idempotent else []),
            *(["--keyed"] if variant.keyed else []),
        ]  # fmt: skip
    cpus = options.server_cpus
    command = python_command(module, *args)
    if variant.processes > 1:
        command = python_command(
            "bench.experiments.reuseport", str(variant.processes), module, *args
        )
        cpus = None if cpus is None else f"{cpus},{options.client_cpus}"
    cwd = variant.tree or ROOT
    server = start_process(variant.name, pinned(command, cpus), env, work / "logs", cwd)
    started.append(server)
    wait_http_ok(port, "/readyz", 60, server)
    return server, port


def _producer_overrides(options: Options) -> dict[str, str]:
    overrides = {}
    if options.linger_ms is not None:
        overrides["PRODUCER_LINGER_MS"] = str(options.linger_ms)
    if options.compression is not None:
        overrides["PRODUCER_COMPRESSION"] = options.compression
    return overrides


def _ingress_producer(options: Options) -> dict[str, Any]:
    """The ingress's effective producer settings (its defaults unless overridden)."""
    from common.config import Env
    from ingress.settings import IngressSettings

    environ = {
        "FEDAPAY_BRIDGE_WEBHOOKS": ENDPOINT,
        f"FEDAPAY_BRIDGE_WEBHOOK_{ENDPOINT.upper()}_SECRETS": SECRET,
        **{f"FEDAPAY_BRIDGE_{k}": v for k, v in _producer_overrides(options).items()},
    }
    settings = IngressSettings.from_env(Env(environ))
    return {
        "acks": "all",
        "idempotent": True,
        "linger_ms": settings.linger_ms,
        "compression": settings.compression,
    }


def _cell(
    variant: Variant,
    server: Server,
    port: int,
    level: int,
    seconds: float,
    pool: Sequence[corpus.Body],
    work: Path,
    options: Options,
) -> dict[str, Any]:
    requests_file = corpus.write_wrk_requests(pool, PATH, port, SECRET, work / "requests.bin")
    broker = kafka_admin.broker_pid(options.bootstrap)
    time.sleep(0.5)
    with Sampler(server.pid) as ingress, Sampler(broker or server.pid) as broker_usage:
        try:
            result = run_wrk(port, PATH, level, seconds, requests_file, options.client_cpus)
        except RuntimeError as exc:
            raise RuntimeError(f"{variant.name}: {exc}\n{_log_tail(server)}") from None
    return {
        "variant": variant.name,
        "concurrency": level,
        "seconds": round(result.seconds, 3),
        "requests": int(result.summary["requests"]),
        "accepted": result.accepted,
        "accepted_per_second": round(result.accepted / result.seconds, 1),
        "non_2xx": result.non_2xx,
        "socket_errors": result.socket_errors,
        "errors": result.summary["errors"],
        "latency_ms": {k: result.latency_ms(k) for k in ("p50", "p95", "p99", "max", "mean")},
        "server": ingress.usage.to_dict(),
        "server_cpu_us_per_request": round(
            1e6 * ingress.usage.cpu_seconds / max(1, result.accepted), 1
        ),
        "broker": broker_usage.usage.to_dict() if broker else None,
        "load_generator": result.usage.to_dict(),
    }


def _log_tail(server: Server, lines: int = 30) -> str:
    """The end of a server's log, and whether it is still running (for a failed cell)."""
    state = "running" if server.process.poll() is None else f"exited {server.process.returncode}"
    try:
        tail = server.log_path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        tail = []
    return f"{server.name} ({state}), log:\n" + "\n".join(tail)


def _describe(cell: dict[str, Any]) -> str:
    lat = cell["latency_ms"]
    return (
        f"{cell['variant']:>16} c={cell['concurrency']:<3} {cell['accepted_per_second']:>8.1f}/s "
        f"p50 {lat['p50']:.1f} p99 {lat['p99']:.1f} max {lat['max']:.1f} ms "
        f"errors {cell['non_2xx'] + cell['socket_errors']} cpu {cell['server']['cpu_percent']}% "
        f"({cell['server_cpu_us_per_request']} us/req) "
        f"rss {cell['server']['peak_rss_mib']} MiB"
    )


def _high_water_mib(server: Server) -> float | None:
    try:
        for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _load() -> tuple[float, float, float]:
    return os.getloadavg()


def summarize(cells: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per variant and level: the median over rounds of each figure."""
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for cell in cells:
        slot = summary.setdefault(cell["variant"], {}).setdefault(str(cell["concurrency"]), {})
        slot.setdefault("_cells", []).append(cell)
    for levels in summary.values():
        for level, slot in levels.items():
            group = slot.pop("_cells")
            levels[level] = {
                "accepted_per_second": round(median([c["accepted_per_second"] for c in group]), 1),
                "latency_ms": {
                    k: round(median([c["latency_ms"][k] for c in group]), 3)
                    for k in ("p50", "p95", "p99", "max")
                },
                "errors": sum(c["non_2xx"] + c["socket_errors"] for c in group),
                "server_cpu_percent": round(median([c["server"]["cpu_percent"] for c in group]), 1),
                "server_cpu_us_per_request": round(
                    median([c["server_cpu_us_per_request"] for c in group]), 1
                ),
                "server_peak_rss_mib": max(c["server"]["peak_rss_mib"] for c in group),
                "broker_cpu_percent": _median_or_none(
                    [c["broker"]["cpu_percent"] for c in group if c["broker"]]
                ),
                "load_generator_cpu_percent": round(
                    median([c["load_generator"]["cpu_percent"] for c in group]), 1
                ),
                "rounds": len(group),
            }
    return summary


def _median_or_none(values: Sequence[float]) -> float | None:
    return round(median(values), 1) if values else None


def ratios(summary: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """ours/baseline (same loop) and uvloop/default for every level."""
    pairs = {
        "ours_vs_baseline": ("ours", "baseline"),
        "ours_vs_baseline_uvloop": ("ours-uvloop", "baseline-uvloop"),
        "ours_uvloop_vs_ours": ("ours-uvloop", "ours"),
        "baseline_uvloop_vs_baseline": ("baseline-uvloop", "baseline"),
        "ours_2proc_vs_ours": ("ours-2proc", "ours"),
        "ours_2proc_vs_baseline": ("ours-2proc", "baseline"),
        "baseline_2proc_vs_baseline": ("baseline-2proc", "baseline"),
    }
    out: dict[str, dict[str, Any]] = {}
    for label, (a, b) in pairs.items():
        if a not in summary or b not in summary:
            continue
        out[label] = {}
        for level, mine in summary[a].items():
            theirs = summary[b].get(level)
            if theirs is None:
                continue
            out[label][level] = {
                "cpu_per_request": ratio(
                    mine["server_cpu_us_per_request"], theirs["server_cpu_us_per_request"]
                ),
                "throughput": ratio(mine["accepted_per_second"], theirs["accepted_per_second"]),
                "p50": ratio(mine["latency_ms"]["p50"], theirs["latency_ms"]["p50"]),
                "p99": ratio(mine["latency_ms"]["p99"], theirs["latency_ms"]["p99"]),
            }
    return out
