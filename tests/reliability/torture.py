"""Torture run (outside CI): each fault scenario, many times, with the timing disturbed.

    python -m tests.reliability.torture --runs 20
    python -m tests.reliability.torture --runs 5 --scenario kill_during_recovery --mode exactly_once
    python -m tests.reliability.torture --runs 10 --first-run 11   # beside one with --runs 10

Runs every scenario of :mod:`tests.reliability.faults` ``--runs`` times in each mode
(each run on a deployment of its own), while a CPU hog pinned to the last core
alternates busy and idle spells of random length, so that the workers' timing
differs from run to run. Each run is checked against the same bounds as in CI,
prints one line of figures and appends them to ``.cache/reliability/torture.jsonl``
with the commit it ran on; the summary gives, per scenario and mode, the runs
that held every bound, what was lost or wrong, and the largest repeat count with
its bound. ``--summary`` prints that table for every run logged for the current
commit, so several invocations add up.

The broker is the one of ``FEDAPAY_TEST_KAFKA_BOOTSTRAP``, else the project's local
broker (started if nothing answers, and stopped again at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from tests.kafka_broker import REPO_ROOT, configured_or_local_broker
from tests.reliability.deployment import MODES
from tests.reliability.faults import SCENARIOS, FaultRun, run_scenario
from tests.reliability.results import RESULTS_DIR

#: One line of figures per run, for every run ever made here (``--summary`` reads it).
LOG = RESULTS_DIR / "torture.jsonl"


#: What a run exercises: the worker, the records and the simulator it is fed from, the
#: harness and the broker it runs on, the pinned dependencies. The ingress only carries the
#: deliveries to the raw topic here (no fault touches it), so a change to it, to the chart or
#: to the benchmarks leaves the figures logged for the worker standing.
MEASURED = (
    "streams",
    "schemas",
    "simulator",
    "common",
    "tests/reliability",
    "tests/kafka_broker.py",
    "scripts/kafka.sh",
    "pyproject.toml",
    "requirements.lock",
    ":(exclude)*.md",
)


def code_version() -> str:
    """The last commit that changed the code a run exercises (``-dirty`` when such a file has
    uncommitted changes): the code the runs are made on."""
    last = _git("log", "-1", "--format=%h", "--", *MEASURED)
    changed = _git("status", "--porcelain", "--untracked-files=no", "--", *MEASURED)
    return f"{last}-dirty" if changed else last or "unknown"


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def entry(
    scenario: str, mode: str, run: FaultRun | None, error: str | None, version: str
) -> dict[str, Any]:
    figures: dict[str, Any] = {"scenario": scenario, "mode": mode, "version": version}
    figures["held"] = error is None
    figures["error"] = error
    if run is not None:
        figures["lost"] = run.outcome.tally.lost
        figures["wrong_statuses"] = len(run.outcome.status_mismatches)
        figures["repeats"] = run.outcome.tally.duplicates
        figures["bound"] = run.repeat_bound
        figures["uncommitted_at_kills"] = [kill.uncommitted for kill in run.faults.kills]
        figures["redelivery_outputs"] = run.probe.outputs_after_redelivery
    return figures


def record(figures: dict[str, Any]) -> None:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("ab") as log:
        log.write(orjson.dumps(figures) + b"\n")


def logged(version: str) -> list[dict[str, Any]]:
    if not LOG.exists():
        return []
    entries = [orjson.loads(line) for line in LOG.read_bytes().splitlines() if line.strip()]
    return [figures for figures in entries if figures.get("version") == version]


def _hog(seed: int) -> None:
    """Busy and idle spells of 50-500 ms on the last core, until terminated."""
    last = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {last})
    rng = random.Random(seed)
    while True:
        busy_until = time.monotonic() + rng.uniform(0.05, 0.5)
        while time.monotonic() < busy_until:
            pass
        time.sleep(rng.uniform(0.05, 0.5))


@contextmanager
def cpu_hog(enabled: bool, seed: int) -> Iterator[None]:
    if not enabled:
        yield
        return
    process = multiprocessing.Process(target=_hog, args=(seed,), daemon=True)
    process.start()
    try:
        yield
    finally:
        process.terminate()
        process.join()


def _line(index: int, scenario: str, mode: str, run: FaultRun | None, error: str | None) -> str:
    head = f"{scenario:<22} {mode:<14} run {index:>2}"
    if run is None:
        return f"{head}  FAILED before figures: {error}"
    outputs = run.outcome
    kills = ",".join(str(kill.uncommitted) for kill in run.faults.kills) or "-"
    verdict = "held" if error is None else f"FAILED: {error}"
    return (
        f"{head}  lost {outputs.tally.lost}  wrong statuses {len(outputs.status_mismatches)}"
        f"  repeats {outputs.tally.duplicates} (bound {run.repeat_bound}; uncommitted at kills"
        f" {kills})  redelivery outputs {run.probe.outputs_after_redelivery}  {verdict}"
    )


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def _one(
    scenario: str, mode: str, bootstrap: str, seed: int
) -> tuple[FaultRun | None, str | None]:
    """One run in a folder of its own; a failed run keeps its folder (logs, data) and its
    topics, and the line names the folder."""
    root = Path(tempfile.mkdtemp(prefix=f"torture-{scenario}-{mode}-"))
    run: FaultRun | None = None
    try:
        run = await run_scenario(scenario, mode, bootstrap, root, seed=seed)
        run.check()
    except Exception as exc:  # one failed run is a result, not the end of the torture
        detail = "".join(traceback.format_exception_only(exc)).strip().splitlines()
        first = detail[0][:300] if detail else type(exc).__name__
        return run, f"{first} (kept: {root})"
    await run.clean_up()
    shutil.rmtree(root, ignore_errors=True)
    return run, None


async def torture(
    runs: Sequence[int], scenarios: Sequence[str], modes: Sequence[str], bootstrap: str, hog: bool
) -> list[dict[str, Any]]:
    """Each run number of ``runs`` for every scenario and mode; the number seeds the run."""
    version = code_version()
    entries: list[dict[str, Any]] = []
    for index in runs:
        for scenario in scenarios:
            for mode in modes:
                seed = 1000 * index + len(entries)
                with cpu_hog(hog, seed):
                    run, error = await _one(scenario, mode, bootstrap, seed)
                figures = entry(scenario, mode, run, error, version)
                record(figures)
                entries.append(figures)
                _say(_line(index, scenario, mode, run, error))
    return entries


def summary(entries: Sequence[dict[str, Any]]) -> str:
    """Per scenario and mode: runs, runs that held every bound, the largest figures."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for figures in entries:
        groups.setdefault((figures["scenario"], figures["mode"]), []).append(figures)
    lines = [
        "| scenario | mode | runs | all bounds held | lost | wrong statuses"
        " | most repeats (its bound) | most redelivery outputs |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for (scenario, mode), runs in sorted(groups.items(), key=lambda item: _order(*item[0])):
        worst = max(runs, key=lambda figures: figures.get("repeats", -1))
        lines.append(
            f"| {scenario} | {mode} | {len(runs)} | {sum(f['held'] for f in runs)}"
            f" | {sum(f.get('lost', 0) for f in runs)}"
            f" | {sum(f.get('wrong_statuses', 0) for f in runs)}"
            f" | {worst.get('repeats', '-')} ({worst.get('bound', '-')})"
            f" | {max(f.get('redelivery_outputs', 0) for f in runs)} |"
        )
    return "\n".join(lines)


def _order(scenario: str, mode: str) -> tuple[int, int]:
    return list(SCENARIOS).index(scenario), list(MODES).index(mode)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.torture")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument(
        "--first-run",
        type=int,
        default=1,
        help="number of the first run (it seeds the run): invocations side by side take"
        " different numbers, e.g. --runs 10 and --runs 10 --first-run 11",
    )
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--no-hog", action="store_true", help="no CPU hog beside the runs")
    parser.add_argument(
        "--summary",
        action="store_true",
        help="run nothing: the table of every run logged for the current code",
    )
    args = parser.parse_args(argv)
    if args.summary:
        version = code_version()
        _say(f"runs logged for {version} in {LOG.relative_to(REPO_ROOT)}:")
        _say(summary(logged(version)))
        return 0
    scenarios = args.scenario or list(SCENARIOS)
    modes = args.mode or list(MODES)
    with configured_or_local_broker() as bootstrap:
        runs = range(args.first_run, args.first_run + args.runs)
        entries = asyncio.run(torture(runs, scenarios, modes, bootstrap, not args.no_hog))
    _say(summary(entries))
    return 0 if all(figures["held"] for figures in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
