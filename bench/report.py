"""Writes the latest figures into bench/README.md (between its figure markers) and the PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import plot
from bench.util import read_result

README = Path(__file__).resolve().parent / "README.md"
START = "<!-- figures:start (written by `python -m bench report`) -->"
END = "<!-- figures:end -->"


def render() -> str:
    parts: list[str] = []
    ingress = read_result("ingress")
    stream = read_result("stream")
    e2e = read_result("e2e")
    first = ingress or stream or e2e
    if first is not None:
        runs = {"ingress": ingress, "stream": stream, "end to end": e2e}
        parts.append(_conditions(first, ingress, {k: v for k, v in runs.items() if v}))
    if ingress is not None:
        plot.ingress_png(ingress)
        parts.append(_ingress(ingress))
    if stream is not None:
        parts.append(_stream(stream))
    if e2e is not None:
        parts.append(_e2e(e2e))
    parts.append(_targets(ingress, stream, e2e))
    return "\n\n".join(parts)


def write() -> Path:
    text = README.read_text() if README.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    README.write_text(f"{head}{START}\n\n{render()}\n\n{END}{tail}")
    return README


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _conditions(
    document: dict[str, Any], ingress: dict[str, Any] | None, runs: dict[str, dict[str, Any]]
) -> str:
    c = document["conditions"]
    packages = ", ".join(f"{k} {v}" for k, v in sorted(c.get("packages", {}).items()))
    rows = [
        ("machine", f"{c['cpu_model']} ({c['machine']}), {c['cores']} cores, "
                    f"{c['memory_gib']} GiB, Linux {c['kernel']}"),
        ("Python", c["python"]),
        ("Kafka broker", f"Apache Kafka {c['kafka_version']}, one KRaft node on 127.0.0.1, "
                         "replication 1, min.insync.replicas 1, JVM heap 512 MiB"),
        ("packages", packages),
    ]  # fmt: skip
    if ingress is not None:
        cfg = ingress["config"]
        rows += [
            ("acks", "all (ingress: idempotent producer; baseline: plain)"),
            ("body", f"{cfg['body_bytes_mean']} bytes on average "
                     f"({cfg['distinct_bodies']} distinct simulated FedaPay events)"),
            ("ingress producer", ", ".join(f"{k}={v}" for k, v in cfg["ingress_producer"].items())),
        ]  # fmt: skip
    for name, doc in runs.items():
        c = doc["conditions"]
        rows.append(
            (
                f"{name} run",
                f"started {c['started_at']}; load average {c['load_average_at_start']} at start, "
                f"{c.get('load_average_at_end')} at end (the run's own processes included)",
            )
        )
    lines = ["### Conditions", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def _ingress(document: dict[str, Any]) -> str:
    summary = document["summary"]
    ratios = document["ratios"]
    cfg = document["config"]
    lines = [
        "### Ingress",
        "",
        f"wrk, {cfg['seconds_per_cell']:g} s per cell, {cfg['rounds']} interleaved rounds per "
        f"level (median shown); server pinned to CPU {cfg['server_cpus']} (the 2-process "
        f"variant, two processes sharing the port with SO_REUSEPORT, on both CPUs), wrk to CPU "
        f"{cfg['load_generator_cpus']}, broker unpinned. Run started "
        f"{document['conditions']['started_at']}.",
        "",
        "![ingress throughput and p99](results/ingress.png)",
        "",
        "| variant | conc. | accepted/s | p50 ms | p95 ms | p99 ms | max ms | errors "
        "| server CPU % | CPU µs/req | peak RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for variant, levels in summary.items():
        for level in sorted(levels, key=int):
            s = levels[level]
            lat = s["latency_ms"]
            lines.append(
                f"| {variant} | {level} | {_fmt(s['accepted_per_second'], 0)} | {lat['p50']:.2f} "
                f"| {lat['p95']:.2f} | {lat['p99']:.2f} | {lat['max']:.1f} | {s['errors']} "
                f"| {_fmt(s['server_cpu_percent'])} | {_fmt(s.get('server_cpu_us_per_request'))} "
                f"| {_fmt(s['server_peak_rss_mib'])} |"
            )
    lines += ["", "| ratio | conc. | throughput | p50 | p99 | CPU per request |",
              "|---|--:|--:|--:|--:|--:|"]  # fmt: skip
    order = ["ours_vs_baseline", "ours_vs_baseline_uvloop", "ours_uvloop_vs_ours",
             "baseline_uvloop_vs_baseline", "ours_2proc_vs_ours", "ours_2proc_vs_baseline",
             "baseline_2proc_vs_baseline"]  # fmt: skip
    for label in sorted(ratios, key=lambda x: order.index(x) if x in order else len(order)):
        levels = ratios[label]
        for level in sorted(levels, key=int):
            r = levels[level]
            lines.append(
                f"| {label.replace('_', ' ')} | {level} | {_fmt(r['throughput'], 2)} "
                f"| {_fmt(r['p50'], 2)} | {_fmt(r['p99'], 2)} "
                f"| {_fmt(r.get('cpu_per_request'), 2)} |"
            )
    return "\n".join(lines)


def _stream(document: dict[str, Any]) -> str:
    cfg = document["config"]
    lines = [
        "### Stream worker",
        "",
        f"{cfg['raw_records']:,} raw records ({cfg['duplicates']:,} duplicates, "
        f"{cfg['raw_value_bytes_mean']} B mean) in {cfg['partitions']} partitions; "
        f"{cfg['expected_outputs']:,} outputs expected ({cfg['expected_by_kind']}); commit "
        f"interval {cfg['commit_interval_seconds']} s; {cfg['processing_guarantee']}; each "
        f"contender pinned to CPU {cfg['worker_cpus']}. Run started "
        f"{document['conditions']['started_at']}.",
        "",
        "| contender | events/s (start to last output) | events/s (first to last output) "
        "| seconds | CPU % | CPU µs/event (steady) | peak RSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    order = ["ours", "quix", "plain", "ours-batch1", "faust-floor", "faust-floor-take"]
    summary = document["summary"]
    for contender in sorted(summary, key=lambda c: order.index(c) if c in order else len(order)):
        s = summary[contender]
        if not s.get("complete"):
            lines.append(f"| {contender} | incomplete | | | | | |")
            continue
        lines.append(
            f"| {contender} | {_fmt(s['events_per_second'], 0)} "
            f"| {_fmt(s['events_per_second_steady'], 0)} | {s['seconds_start_to_last_output']:.2f} "
            f"| {_fmt(s['cpu_percent'])} | {_fmt(s.get('cpu_us_per_event_steady'), 0)} "
            f"| {_fmt(s['peak_rss_mib'])} |"
        )
    lines += ["", "| ratio | from start | steady |", "|---|--:|--:|"]
    for label, r in sorted(document["ratios"].items()):
        lines.append(
            f"| {label.replace('_', ' ')} | {_fmt(r['events_per_second'], 3)} "
            f"| {_fmt(r['events_per_second_steady'], 3)} |"
        )
    lines.append("")
    lines.append(
        f"Contenders: ours = {cfg['ours']}; quix = {cfg['quix']}; plain = {cfg['plain']}. "
        "Experiments (not targets): ours-batch1 = the same worker with "
        "`BATCH_MAX_RECORDS=1`, i.e. every record made durable on its own (three broker "
        "round trips per record, the behaviour before batching); "
        "faust-floor = a Faust agent that reads the raw topic and does nothing "
        "(`experiments/faust_floor.py`)."
    )
    return "\n".join(lines)


def _e2e(document: dict[str, Any]) -> str:
    cfg = document["config"]
    lines = [
        "### End to end",
        "",
        f"Latency: {cfg['latency']}. {cfg['seconds_per_rate']:g} s per rate after a warm-up; "
        f"{cfg['pinning']}. Run started "
        f"{document['conditions']['started_at']}.",
        "",
        "| guarantee | commit interval s | offered/s | outputs | outputs/s | p50 ms | p90 ms "
        "| p99 ms | max ms | p99 appended ms | all seen | ingress CPU % | worker CPU % |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|",
    ]
    for run in document["runs"]:
        lat = run["latency_ms"]
        lines.append(
            f"| {run['guarantee']} | {run['commit_interval_seconds']:g} "
            f"| {_fmt(run['load']['offered_rate'], 0)} "
            f"| {run['outputs_measured']:,} | {_fmt(run.get('outputs_per_second'), 0)} "
            f"| {_fmt(lat['p50'], 0)} | {_fmt(lat['p90'], 0)} "
            f"| {_fmt(lat['p99'], 0)} | {_fmt(lat['max'], 0)} "
            f"| {_fmt(run.get('append_latency_ms', {}).get('p99'), 0)} | {run['all_outputs_seen']} "
            f"| {_fmt(run['ingress']['cpu_percent'])} | {_fmt(run['worker']['cpu_percent'])} |"
        )
    return "\n".join(lines)


#: Issue 18: per core, the ingress at concurrency 64 against the bare handler, same run.
INGRESS_THROUGHPUT_TARGET = 0.8
INGRESS_P99_TARGET = 1.3


def _targets(
    ingress: dict[str, Any] | None, stream: dict[str, Any] | None, e2e: dict[str, Any] | None
) -> str:
    rows: list[tuple[str, str, str]] = []
    if ingress is not None:
        r = ingress["ratios"].get("ours_vs_baseline", {}).get("64", {})
        rows.append(
            _row(
                f"ingress throughput at 64 ≥ {INGRESS_THROUGHPUT_TARGET} x baseline",
                r.get("throughput"),
                INGRESS_THROUGHPUT_TARGET,
                True,
            )
        )
        rows.append(
            _row(
                f"ingress p99 at 64 ≤ {INGRESS_P99_TARGET} x baseline",
                r.get("p99"),
                INGRESS_P99_TARGET,
                False,
            )
        )
    if stream is not None:
        r = stream["ratios"]
        rows.append(_row("worker ≥ 1.0 x Quix Streams (steady)",
                         r["ours_vs_quix"]["events_per_second_steady"], 1.0, True))  # fmt: skip
        rows.append(_row("worker ≥ 0.3 x plain consumer (steady)",
                         r["ours_vs_plain"]["events_per_second_steady"], 0.3, True))  # fmt: skip
    if e2e is not None:
        for run in e2e["runs"]:
            if run["rate"] == 200:
                p99 = run["latency_ms"]["p99"]
                met = "met" if p99 is not None and p99 < 1000 else "missed"
                label = f"{run['guarantee']}, commit {run['commit_interval_seconds']:g} s"
                rows.append((f"end-to-end p99 < 1 s at 200/s ({label})",
                             f"{_fmt(p99, 0)} ms", met))  # fmt: skip
    lines = ["### Targets (same run)", "", "| target | measured | |", "|---|--:|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def _row(label: str, value: float | None, bound: float, at_least: bool) -> tuple[str, str, str]:
    if value is None:
        return label, "-", "not measured"
    met = value >= bound if at_least else value <= bound
    return label, f"{value:.2f} x", "met" if met else "missed"
