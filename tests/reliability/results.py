"""Each reliability test leaves its measured figures in ``.cache/reliability/<name>.json``.

RELIABILITY.md quotes them; ``python -m tests.reliability.results`` prints them all
(``--faults``: the fault scenarios as the Markdown table RELIABILITY.md shows).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import orjson

RESULTS_DIR = Path(__file__).resolve().parents[2] / ".cache" / "reliability"


def record(name: str, figures: dict[str, Any]) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {"test": name, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **figures}
    path = RESULTS_DIR / f"{name}.json"
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))


def faults_table() -> str:
    """The last run of each fault scenario (``test_worker_faults.py``) as a Markdown table."""
    lines = [
        "| scenario | mode | deliveries | distinct events | lost | wrong statuses"
        " | repeats | bound (uncommitted at each kill) | outputs of the redelivery probe |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for path in sorted(RESULTS_DIR.glob("faults_*.json")):
        run = orjson.loads(path.read_bytes())
        outputs, probe = run["outputs"], run["probe"]
        kills = " + ".join(str(kill["uncommitted"]) for kill in run["kills"])
        bound = f"{run['repeat_bound']} ({kills})" if kills else str(run["repeat_bound"])
        lines.append(
            f"| {run['scenario']} | {run['mode']} | {run['deliveries']}"
            f" | {run['distinct_events']} | {outputs['lost']} | {outputs['status_mismatches']}"
            f" | {outputs['duplicates']} | {bound} | {probe['outputs_after_redelivery']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if (argv if argv is not None else sys.argv[1:]) == ["--faults"]:
        sys.stdout.write(faults_table() + "\n")
        return 0
    for path in sorted(RESULTS_DIR.glob("*.json")):
        sys.stdout.write(f"{path.stem}: {orjson.loads(path.read_bytes())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
