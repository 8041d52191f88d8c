"""Torture run (outside CI): each fault scenario, many times, with the timing disturbed.

    python -m tests.reliability.torture --runs 20
    python -m tests.reliability.torture --runs 5 --scenario kill_during_recovery --mode exactly_once

Runs every scenario of :mod:`tests.reliability.faults` ``--runs`` times in each mode
(each run on a deployment of its own), while a CPU hog pinned to the last core
alternates busy and idle spells of random length, so that the workers' timing
differs from run to run. Each run is checked against the same bounds as in CI and
prints one line of figures; the summary gives, per scenario and mode, the runs
that held every bound, the largest repeat count and the bound beside it.

The broker is the one of ``FEDAPAY_TEST_KAFKA_BOOTSTRAP``, else the project's local
broker (started if nothing answers, and stopped again at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.kafka_broker import configured_or_local_broker
from tests.reliability.deployment import EXACTLY_ONCE, MODES
from tests.reliability.faults import REBALANCING, SCENARIOS, FaultRun, run_scenario


@dataclass
class Tally:
    runs: int = 0
    held: int = 0
    max_repeats: int = 0
    max_bound: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, run: FaultRun | None, error: str | None) -> None:
        self.runs += 1
        if run is not None:
            self.max_repeats = max(self.max_repeats, run.outcome.tally.duplicates)
            self.max_bound = max(self.max_bound, run.repeat_bound)
        if error is None:
            self.held += 1
        else:
            self.failures.append(error)


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
    with tempfile.TemporaryDirectory(prefix="torture-") as root:
        run: FaultRun | None = None
        try:
            run = await run_scenario(scenario, mode, bootstrap, Path(root), seed=seed)
            run.check()
        except Exception as exc:  # one failed run is a result, not the end of the torture
            detail = "".join(traceback.format_exception_only(exc)).strip().splitlines()
            return run, detail[0][:300] if detail else type(exc).__name__
        return run, None


async def torture(
    runs: int, scenarios: Sequence[str], modes: Sequence[str], bootstrap: str, hog: bool
) -> dict[tuple[str, str], Tally]:
    tallies: dict[tuple[str, str], Tally] = {}
    for index in range(1, runs + 1):
        for scenario in scenarios:
            for mode in modes:
                seed = 1000 * index + len(tallies)
                with cpu_hog(hog, seed):
                    run, error = await _one(scenario, mode, bootstrap, seed)
                tallies.setdefault((scenario, mode), Tally()).add(run, error)
                _say(_line(index, scenario, mode, run, error))
    return tallies


def summary(tallies: dict[tuple[str, str], Tally]) -> str:
    lines = [
        "| scenario | mode | runs | all bounds held | most repeats | bound |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for (scenario, mode), tally in tallies.items():
        lines.append(
            f"| {scenario} | {mode} | {tally.runs} | {tally.held} | {tally.max_repeats}"
            f" | {tally.max_bound} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.torture")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--mode", action="append", choices=MODES)
    parser.add_argument("--no-hog", action="store_true", help="no CPU hog beside the runs")
    args = parser.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    modes = args.mode or list(MODES)
    with configured_or_local_broker() as bootstrap:
        tallies = asyncio.run(torture(args.runs, scenarios, modes, bootstrap, not args.no_hog))
    _say(summary(tallies))
    if any(mode == EXACTLY_ONCE and s in REBALANCING for s, mode in tallies):
        _say("(exactly_once across a rebalance is an open problem: see RELIABILITY.md)")
    return 0 if all(t.held == t.runs for t in tallies.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
