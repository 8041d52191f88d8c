"""Each reliability test leaves its measured figures in ``.cache/reliability/<name>.json``.

RELIABILITY.md quotes them; ``python -m tests.reliability.results`` prints them all.
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


def main() -> int:
    for path in sorted(RESULTS_DIR.glob("*.json")):
        sys.stdout.write(f"{path.stem}: {orjson.loads(path.read_bytes())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
