"""QUERY_API.md's metric tables, generated from the counter declarations (:mod:`streams.counters`).

    python -m tests.docs.metrics_doc          # rewrite the tables
    python -m tests.docs.metrics_doc --check  # exit 1 when a table is stale

``tests/docs/test_metrics_doc.py`` fails when one is.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.counters import COUNTERS, READINGS, SEPARATOR, CounterSpec, Reading

ROOT = Path(__file__).resolve().parents[2]
QUERY_API = ROOT / "streams" / "QUERY_API.md"
COMMAND = "python -m tests.docs.metrics_doc"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def reading_row(reading: Reading) -> str:
    return f"| `{reading.name}` | {_cell(reading.doc)} |\n"


def counter_row(spec: CounterSpec) -> str:
    name = SEPARATOR.join((spec.name, *(f"<{dim}>" for dim in spec.dimensions)))
    filters = ", ".join(f"`{dim}`" for dim in spec.filters) or "–"  # noqa: RUF001 - a dash
    return f"| `{_cell(name)}` | {_cell(spec.doc)} | {filters} |\n"


#: The generated tables: name -> its text.
TABLES: dict[str, Callable[[], str]] = {
    "summary": lambda: "| field | meaning |\n|---|---|\n" + "".join(map(reading_row, READINGS)),
    "counters": lambda: (
        "| counter | counts | filters |\n|---|---|---|\n" + "".join(map(counter_row, COUNTERS))
    ),
}


def markers(name: str) -> tuple[str, str]:
    return f"<!-- metrics:{name}:start (written by `{COMMAND}`) -->", f"<!-- metrics:{name}:end -->"


def generated(text: str) -> str:
    """``text`` (QUERY_API.md) with every metric table as the declarations make it."""
    for name, make in TABLES.items():
        start, end = markers(name)
        head, found, rest = text.partition(start + "\n")
        if not found or end not in rest:
            raise ValueError(f"QUERY_API.md has no {start!r} ... {end!r} block")
        text = head + start + "\n" + make() + end + rest.partition(end)[2]
    return text


def is_stale() -> bool:
    text = QUERY_API.read_text(encoding="utf-8")
    return generated(text) != text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        if is_stale():
            sys.stderr.write(f"out of date: streams/QUERY_API.md (run: {COMMAND})\n")
            return 1
        return 0
    if is_stale():
        QUERY_API.write_text(generated(QUERY_API.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
