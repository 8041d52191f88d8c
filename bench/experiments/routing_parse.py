"""The routing-field parse (issue 18): CPU per body of the ingress's parse and of the reference.

    python -m bench.experiments.routing_parse [--repeat 9]

The ingress reads ``name``, ``object``, ``entity.id``, ``entity.updated_at`` and the top-level
``id`` with :func:`schemas.routing.route` (msgspec, the rest of the body skipped). The workers
parse the whole body with :func:`schemas.envelope.parse` (orjson), the reference ``route`` must
agree with. On the benchmark's bodies (``bench.corpus``), in this process, each the best of
``--repeat`` passes over all bodies:

* ``schemas.envelope.parse``, ``orjson.loads`` alone, and ``schemas.routing.route``; whether the
  two parses give the same routing fields for every body;
* the two scans ``route`` does not make, for numbers that overflow a double (see its module
  docstring): what each costs, and on how many bodies it would send ``route`` to the reference
  (both match inside strings, such as hex ids, so each match costs the reference parse too).
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence

import orjson

from bench import corpus
from schemas.envelope import parse
from schemas.routing import route

#: A 3-digit exponent, or 200 digits in a row: the numbers that may overflow a double.
_HUGE_NUMBER = re.compile(rb"[0-9]{200}|[eE][+-]?[0-9]{3}")
_CLASSES = bytes(
    ord("d") if chr(byte).isdigit() else ord("e") if chr(byte) in "eE" else ord("x")
    for byte in range(256)
)


def _regex_scan(body: bytes) -> bool:
    return _HUGE_NUMBER.search(body) is not None


def _translate_scan(body: bytes) -> bool:
    classes = body.translate(_CLASSES)
    return b"eddd" in classes or b"d" * 200 in classes


def _reference(body: bytes) -> object:
    return parse(body).routing


def best_us_per_body(
    work: Callable[[bytes], object], bodies: Sequence[bytes], repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        for body in bodies:
            work(body)
        best = min(best, time.process_time() - started)
    return 1e6 * best / len(bodies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    bodies = [b.data for b in corpus.bodies()]
    disagree = sum(1 for body in bodies if route(body) != _reference(body))
    size = sum(map(len, bodies)) / len(bodies)
    ascii_only = sum(1 for body in bodies if body.isascii())
    print(f"{len(bodies)} bodies, {size:.0f} bytes on average, {ascii_only} of them ASCII")
    print(f"schemas.routing.route: {disagree} of {len(bodies)} bodies give other routing fields")
    print(f"CPU µs per body, best of {args.repeat} passes:")
    timed: dict[str, Callable[[bytes], object]] = {
        "schemas.envelope.parse (orjson, whole body)": _reference,
        "orjson.loads alone": orjson.loads,
        "schemas.routing.route (msgspec)": route,
        "rejected: regex scan for huge numbers": _regex_scan,
        "rejected: translate + find scan": _translate_scan,
    }
    for label, work in timed.items():
        print(f"  {label + ':':<45}{best_us_per_body(work, bodies, args.repeat):6.2f}")
    # parse raised on none (above), so orjson read every number: none overflows a double.
    for label, scan in (("regex", _regex_scan), ("translate", _translate_scan)):
        hits = sum(1 for body in bodies if scan(body))
        print(f"  {label} scan matches {hits} of {len(bodies)} bodies, none of which overflows")


if __name__ == "__main__":
    main()
