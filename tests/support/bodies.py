"""Hypothesis strategies of webhook bodies: the hostile-input ones and event-shaped ones.

:data:`hostile` is what ``tests/reliability/test_hostile_requests.py`` sends a real ingress;
:data:`events` builds FedaPay-shaped documents whose routing fields take every kind of value
(missing, wrong type, huge, empty, duplicated), serializes them several ways, and then
sometimes breaks the bytes. ``tests/unit/schemas/test_routing.py`` runs both through the
routing parse and the full parse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from tests.fixtures import fixture_bytes

FIXTURE: Final = fixture_bytes("transaction.approved.json")
#: The ingress's default body limit (MAX_BODY_BYTES).
MAX_BODY: Final = 65_536

hostile = st.one_of(
    st.binary(max_size=4096),
    st.just(FIXTURE),
    st.just(b""),
    st.integers(min_value=MAX_BODY - 10, max_value=MAX_BODY + 10).map(lambda n: b"a" * n),
    st.text(max_size=500).map(lambda text: text.encode("utf-8", "surrogatepass")),
)

#: Integers at and beyond every range a JSON decoder treats specially.
_EDGE_INTEGERS: Final = (0, -1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1)
_numbers = st.one_of(
    st.integers(),
    st.sampled_from(_EDGE_INTEGERS),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(allow_nan=False, allow_infinity=False),
)
_leaves = st.one_of(st.none(), st.booleans(), _numbers, st.text(max_size=20))
_json = st.recursive(
    _leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
#: A routing field's value: usually a plausible one, else anything JSON holds.
_names = st.one_of(st.sampled_from(["transaction.approved", "transaction.updated", ""]), _json)
_ids = st.one_of(
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(["", "trx_1", "0"]),
    st.sampled_from(_EDGE_INTEGERS),
    _json,
)
_MISSING: Final = object()


@dataclass(frozen=True)
class _Object:
    """A JSON object as ordered pairs, so that a key can repeat."""

    pairs: tuple[tuple[str, Any], ...]


def _maybe(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(_MISSING), values)


@st.composite
def _object(draw: st.DrawFn, fields: list[tuple[str, Any]], extra: list[str]) -> _Object:
    pairs = [pair for pair in fields if pair[1] is not _MISSING]
    pairs += draw(st.lists(st.tuples(st.sampled_from(extra), _json), max_size=3))
    return _Object(tuple(draw(st.permutations(pairs))))


@st.composite
def _documents(draw: st.DrawFn) -> _Object:
    entity_fields = [
        ("id", draw(_maybe(_ids))),
        ("updated_at", draw(_maybe(st.one_of(st.just("2026-11-30T10:00:00.000Z"), _json)))),
    ]
    entity = draw(st.one_of(_object(entity_fields, ["id", "amount", "x"]), _json))
    fields = [
        ("name", draw(_maybe(_names))),
        ("object", draw(_maybe(st.one_of(st.just("transaction"), _json)))),
        ("entity", draw(_maybe(st.just(entity)))),
        ("id", draw(_maybe(_ids))),
    ]
    return draw(_object(fields, ["account", "name", "id", "entity", "z"]))


def _dump(value: Any, ascii_only: bool) -> str:
    if isinstance(value, _Object):
        inner = ", ".join(f"{json.dumps(k)}: {_dump(v, ascii_only)}" for k, v in value.pairs)
        return "{" + inner + "}"
    return json.dumps(value, ensure_ascii=ascii_only)


@st.composite
def _serialized(draw: st.DrawFn) -> bytes:
    text = _dump(draw(_documents()), ascii_only=draw(st.booleans()))
    return text.encode("utf-8", "surrogatepass")


@st.composite
def _broken(draw: st.DrawFn, body: bytes) -> bytes:
    """``body`` with a few bytes inserted, deleted or replaced."""
    data = bytearray(body)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(
            st.one_of(
                st.binary(min_size=1, max_size=3),
                st.sampled_from([b"\xff", b"\xed\xa0\x80", b"\\ud800", b'"', b"1e400", b"\x00"]),
            )
        )
        if edit == "insert":
            data[at:at] = piece
        elif edit == "delete":
            del data[at : at + len(piece)]
        else:
            data[at : at + len(piece)] = piece
    return bytes(data)


events = _serialized().flatmap(lambda body: st.one_of(st.just(body), _broken(body)))
#: The fixture itself, broken here and there.
broken_fixtures = _broken(FIXTURE)
#: Nesting around the depth limits of the JSON decoders.
deep = st.integers(min_value=100, max_value=1100).map(
    lambda depth: (
        b'{"name":"a","object":"o","entity":{"id":1},"x":' + b"[" * depth + b"]" * depth + b"}"
    )
)
