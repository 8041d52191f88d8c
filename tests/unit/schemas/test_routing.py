"""schemas.routing.route against the reference, schemas.envelope.parse: the same routing fields,
or the same MalformedEvent, for every body, but the one documented kind (a number that overflows
a double where route does not look)."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from schemas import routing
from schemas.envelope import INVALID_JSON, NOT_AN_EVENT, MalformedEvent, Routing, parse
from schemas.routing import ORJSON_MAX_DEPTH, route
from tests.support import bodies

Outcome = Routing | tuple[str, str]


def outcome_of(read: Callable[[bytes], Routing], body: bytes) -> Outcome:
    try:
        found = read(body)
    except MalformedEvent as exc:
        return (exc.code, exc.detail)
    assert isinstance(found, Routing)
    return found


def reference(body: bytes) -> Routing:
    return parse(body).routing


def overflows_a_double(body: bytes) -> bool:
    """Whether the JSON text holds a number whose double is infinite (Python's json is the
    oracle: it keeps big integers exact and makes big floats ``inf``)."""
    found = False

    def number(text: str) -> float:
        nonlocal found
        value = float(text)
        found = found or math.isinf(value)
        return value

    json.loads(body, parse_int=number, parse_float=number)
    return found


def assert_agrees(body: bytes) -> None:
    fast, full = outcome_of(route, body), outcome_of(reference, body)
    if fast == full:
        return
    # The documented kind: route accepts, orjson refuses a number route skipped.
    assert isinstance(fast, Routing), (body[:200], fast, full)
    assert isinstance(full, tuple), (body[:200], fast, full)
    assert full[0] == INVALID_JSON, (body[:200], fast, full)
    assert "infinity" in full[1], (body[:200], fast, full)
    assert overflows_a_double(body), body[:200]


EVENT = b'{"name":"transaction.approved","object":"transaction","entity":{"id":%s%s}%s}'


def ok(entity_id: str, updated_at: str = "", event_id: str | None = None) -> Routing:
    return Routing("transaction.approved", "transaction", entity_id, updated_at, event_id)


def bad(detail: str) -> tuple[str, str]:
    return (NOT_AN_EVENT, detail)


NOT_AN_ID = bad("entity.id is missing or not an id")
NO_ENTITY = bad("entity is missing or not an object")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (EVENT % (b"7", b"", b""), ok("7")),
        (
            EVENT % (b'"7"', b',"updated_at":"2026-11-30"', b',"id":"e1"'),
            ok("7", "2026-11-30", "e1"),
        ),
        (EVENT % (b"7", b',"updated_at":5', b',"id":9'), ok("7", "", "9")),
        (EVENT % (b"1", b',"id":2', b""), ok("2")),
        (EVENT % (b"1", b"", b',"entity":{"id":3}'), ok("3")),
        (EVENT % (b"1", b"", b',"id":null'), ok("1")),
        (EVENT % (b"18446744073709551615", b"", b""), ok("18446744073709551615")),
        (EVENT % (b"-9223372036854775808", b"", b""), ok("-9223372036854775808")),
        (EVENT % (b"18446744073709551616", b"", b""), NOT_AN_ID),
        (EVENT % (b"-9223372036854775809", b"", b""), NOT_AN_ID),
        (EVENT % (b"1", b"", b',"id":18446744073709551616'), bad("id is missing or not an id")),
        (EVENT % (b"1.0", b"", b""), NOT_AN_ID),
        (EVENT % (b"true", b"", b""), NOT_AN_ID),
        (EVENT % (b'""', b"", b""), NOT_AN_ID),
        (b'{"name":"a","object":"o","entity":null}', NO_ENTITY),
        (b'{"name":"a","object":"o","entity":[1]}', NO_ENTITY),
        (b'{"name":"a","object":"o"}', NO_ENTITY),
        (b'{"name":"","object":"o","entity":{"id":1}}', bad("name is missing or not a string")),
        (b'{"name":"a","object":1,"entity":{"id":1}}', bad("object is missing or not a string")),
        (b"[1]", bad("body is not a JSON object")),
    ],
)
def test_valid_json_routes_as_the_reference_does(body: bytes, expected: Outcome) -> None:
    assert outcome_of(route, body) == expected
    assert outcome_of(reference, body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b'{"name":"a"} x',
        b"\xef\xbb\xbf{}",
        b'{"name":"a","object":"o","entity":{"id":1},"x":"\xff"}',
        b'{"name":"a","object":"o","entity":{"id":1},"x":"\xed\xa0\x80"}',
        b'{"name":"a","object":"o","entity":{"id":1},"x":"\\ud800"}',
        b'{"name":"a","object":"o","entity":{"id":1},"x":NaN}',
        b'{"name":"a","object":"o","entity":{"id":1},"x":[1,]}',
        b'{"name":"a\x01","object":"o","entity":{"id":1}}',
        b'{"name":"a","object":"o","entity":{"id":1},"x":' + b"[" * 2000 + b"]" * 2000 + b"}",
    ],
    ids=[
        "empty",
        "truncated",
        "trailing",
        "bom",
        "bad-utf8-skipped",
        "encoded-surrogate-skipped",
        "escaped-lone-surrogate",
        "nan",
        "trailing-comma",
        "control-character",
        "too-deep",
    ],
)
def test_invalid_json_is_the_references_error(body: bytes) -> None:
    expected = outcome_of(reference, body)

    assert isinstance(expected, tuple)
    assert expected[0] == INVALID_JSON
    assert outcome_of(route, body) == expected


def test_nesting_msgspec_refuses_and_orjson_takes_is_parsed_by_the_reference() -> None:
    body = b'{"name":"a","object":"o","entity":{"id":1},"x":' + b"[" * 1000 + b"]" * 1000 + b"}"

    assert outcome_of(route, body) == Routing("a", "o", "1", "", None)


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"1" + b"0" * 400, b"12.5E+999"], ids=str)
def test_an_overflowing_number_where_route_does_not_look_is_the_documented_difference(
    number: bytes,
) -> None:
    body = b'{"name":"a","object":"o","entity":{"id":1},"amount":' + number + b"}"

    assert outcome_of(route, body) == Routing("a", "o", "1", "", None)
    full = outcome_of(reference, body)
    assert isinstance(full, tuple)
    assert full[0] == INVALID_JSON
    assert overflows_a_double(body)


def test_an_overflowing_number_in_a_routing_field_is_the_references_error() -> None:
    body = b'{"name":"a","object":"o","entity":{"id":1e400}}'

    assert outcome_of(route, body) == outcome_of(reference, body)


def test_the_fixture_routes_as_the_reference_does() -> None:
    assert route(bodies.FIXTURE) == reference(bodies.FIXTURE)


#: Examples per run; raise it for a long run outside CI.
EXAMPLES = int(os.environ.get("FEDAPAY_ROUTING_EXAMPLES", "1500"))


@settings(max_examples=EXAMPLES)
@given(body=st.one_of(bodies.hostile, bodies.events, bodies.broken_fixtures, bodies.deep))
@example(body=b'{"name":"a","object":"o","entity":{"id":1},"x":"\\ud83d\\ude00"}')
@example(body='{"name":"é","object":"o","entity":{"id":"ü"}}'.encode())
def test_route_agrees_with_the_reference(body: bytes) -> None:
    assert_agrees(body)


def nested(depth: int) -> bytes:
    return b'{"name":"a","object":"o","entity":{"id":1},"x":' + b"[" * depth + b"]" * depth + b"}"


@contextmanager
def recursion_limit(limit: int) -> Iterator[None]:
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


@pytest.mark.parametrize("limit", [1000, 5000])
@pytest.mark.parametrize("depth", [ORJSON_MAX_DEPTH - 2, ORJSON_MAX_DEPTH + 1])
def test_nesting_agrees_under_any_recursion_limit(limit: int, depth: int) -> None:
    with recursion_limit(limit):
        assert outcome_of(route, nested(depth)) == outcome_of(reference, nested(depth))


def test_msgspec_refuses_nesting_before_orjson_under_the_default_recursion_limit() -> None:
    """What lets route skip counting brackets: fails if msgspec's nesting bound changes."""
    with recursion_limit(1000):
        with pytest.raises(RecursionError):
            msgspec.json.decode(nested(999))
        with pytest.raises(RecursionError):
            routing._DECODER.decode(nested(999))
