"""What a routing-field parse would buy the ingress (issue 18): CPU per body, before building it.

    PYTHONPATH=<folder holding msgspec> python -m bench.experiments.routing_parse [--repeat 9]

The ingress parses the whole 6.6 KB body with orjson (``schemas.envelope.parse``) only to read
``name``, ``object``, ``entity.id``, ``entity.updated_at`` and the top-level ``id``. msgspec can
decode into a struct of just those fields, validating and skipping the rest of the body.
msgspec is not a dependency of the project: install it anywhere outside the project's
environment (``pip install --target DIR msgspec``) and put that folder on ``PYTHONPATH``.

On the benchmark's bodies (``bench.corpus``), in this process: the time per body of
``schemas.envelope.parse``, of ``orjson.loads`` alone, and of the msgspec decode plus the same
checks, each the best of ``--repeat`` passes over all bodies; and whether the two parses give
the same routing fields for every body. Agreement on malformed bodies is not tested here; a
product version would need that property test.
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from bench import corpus
from schemas.envelope import MalformedEvent, parse

Routing = tuple[str, str, str, str, str | None]


def _msgspec() -> Any:
    try:
        return importlib.import_module("msgspec")
    except ImportError:
        raise SystemExit("msgspec is not importable: see this module's docstring") from None


def _msgspec_router() -> Callable[[bytes], Routing]:
    """``entity`` decoded as a dict (all of it becomes Python objects), the rest skipped."""
    msgspec = _msgspec()
    event = msgspec.defstruct(
        "Event",
        [("name", Any, None), ("object", Any, None), ("entity", Any, None), ("id", Any, None)],
    )
    decoder = msgspec.json.Decoder(event)

    def route(body: bytes) -> Routing:
        decoded = decoder.decode(body)
        found = decoded.entity
        if not isinstance(found, dict):
            raise MalformedEvent("not_a_fedapay_event", "entity is missing or not an object")
        return _checked(
            decoded.name, decoded.object, found.get("id"), found.get("updated_at"), decoded.id
        )

    return route


def _msgspec_struct_router() -> Callable[[bytes], Routing]:
    """``entity`` decoded as a struct too: nothing of the body becomes Python objects but the
    five fields (a non-object ``entity`` is a validation error)."""
    msgspec = _msgspec()
    entity = msgspec.defstruct("Entity", [("id", Any, None), ("updated_at", Any, None)])
    event = msgspec.defstruct(
        "Event",
        [
            ("name", Any, None),
            ("object", Any, None),
            ("entity", entity | None, None),
            ("id", Any, None),
        ],
    )
    decoder = msgspec.json.Decoder(event)

    def route(body: bytes) -> Routing:
        decoded = decoder.decode(body)
        found = decoded.entity
        if found is None:
            raise MalformedEvent("not_a_fedapay_event", "entity is missing or not an object")
        return _checked(decoded.name, decoded.object, found.id, found.updated_at, decoded.id)

    return route


def _checked(
    name: object, obj: object, entity_id: object, updated: object, event: object
) -> Routing:
    """The checks of ``schemas.envelope.from_document``, on the decoded fields."""
    if not isinstance(name, str) or not name or not isinstance(obj, str) or not obj:
        raise MalformedEvent("not_a_fedapay_event", "name or object is missing")
    return (
        name,
        obj,
        _id(entity_id),
        updated if isinstance(updated, str) else "",
        None if event is None else _id(event),
    )


def _id(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MalformedEvent("not_a_fedapay_event", "an id is missing or not an id")
    return str(value)


def _full(body: bytes) -> Routing:
    envelope = parse(body)
    return (
        envelope.name,
        envelope.object,
        envelope.entity_id,
        envelope.updated_at,
        envelope.event_id,
    )


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
    routers = {
        "msgspec (entity as a dict)": _msgspec_router(),
        "msgspec (entity as a struct)": _msgspec_struct_router(),
    }
    for label, route in routers.items():
        disagree = sum(1 for body in bodies if route(body) != _full(body))
        print(f"{label}: {disagree} of {len(bodies)} bodies give other routing fields")
    size = sum(map(len, bodies)) / len(bodies)
    print(f"{len(bodies)} bodies, {size:.0f} bytes on average")
    print(f"CPU µs per body, best of {args.repeat} passes:")
    timed: dict[str, Callable[[bytes], object]] = {
        "schemas.envelope.parse (orjson, whole body)": _full,
        "orjson.loads alone": orjson.loads,
        **routers,
    }
    for label, work in timed.items():
        print(f"  {label + ':':<45}{best_us_per_body(work, bodies, args.repeat):6.2f}")


if __name__ == "__main__":
    main()
