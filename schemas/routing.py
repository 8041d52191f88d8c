"""The routing fields of a webhook body, read without building the rest of it.

The ingress needs five fields of a 6.6 KB body (:class:`schemas.envelope.Routing`). msgspec
decodes them into small structs and skips the rest of the body, which it still checks is
well-formed JSON; that costs about a third of building the whole document with orjson
(``bench/experiments/routing_parse.py``).

:func:`schemas.envelope.parse` stays the reference: the workers use it, and :func:`route` gives
exactly its routing fields, or raises exactly its :class:`~schemas.envelope.MalformedEvent`, for
every body but one kind (below). Where msgspec's checks of the skipped part are looser than
orjson's, or its values could differ, :func:`route` hands the body to the reference:

* a body that is not UTF-8: msgspec does not check the strings it skips (a body that is not
  ASCII is checked first: about half a microsecond);
* an integer id outside orjson's integer range (orjson makes those floats, which are no ids);
* anything msgspec refuses, and every body that is no event: the reference gives the error's
  code and detail (orjson may refuse as invalid JSON a body msgspec read), and parses the few
  bodies msgspec refuses and orjson takes (nesting deeper than msgspec allows);
* nesting deeper than orjson allows, which msgspec takes when the recursion limit is raised.

The one kind left: a number that overflows a double (``1e400``, or an integer of 310 digits) in
a field the bridge does not route by. JSON allows it (RFC 8259 sets no range) and msgspec skips
it, but orjson refuses the whole body. :func:`route` accepts such a body, so the ingress writes
it to the raw topic, and the worker, whose reference parse refuses it, dead-letters it with the
code and detail the ingress would have given. Finding such numbers costs more than the whole parse
saves: a scan that does not skip strings matches hex ids too (a third of the benchmark's bodies),
and each match costs the reference parse on top (the experiment prints both).

``tests/unit/schemas/test_routing.py`` proves this on the hostile-input bodies and on
generated events.
"""

from __future__ import annotations

import sys
from typing import Any, Final

import msgspec

from schemas.envelope import MalformedEvent, Routing, checked, parse


class _Entity(msgspec.Struct):
    id: Any = None
    updated_at: Any = None


class _Event(msgspec.Struct):
    name: Any = None
    object: Any = None
    entity: _Entity | None = None
    id: Any = None


_DECODER: Final = msgspec.json.Decoder(_Event)
#: orjson refuses nesting deeper than this.
ORJSON_MAX_DEPTH: Final = 1024
#: Until 3.12, C code's recursion (msgspec's) counts against ``sys.getrecursionlimit()``.
_RECURSION_LIMIT_BOUNDS_MSGSPEC: Final = sys.version_info < (3, 12)
#: orjson's integers; outside, it decodes a number as a float.
_INT_MIN: Final = -(2**63)
_INT_END: Final = 2**64


def route(body: bytes) -> Routing:
    """The routing fields of a webhook body, or :class:`~schemas.envelope.MalformedEvent`."""
    fast = _read(body)
    return parse(body).routing if fast is None else fast


def _read(body: bytes) -> Routing | None:
    """The routing fields as msgspec reads them; None where the reference must answer."""
    if not _is_utf8(body):
        return None
    try:
        event = _DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError):  # msgspec's nesting limit is Python's stack
        return None
    if _may_nest_deeper_than_orjson(body):
        return None
    entity = event.entity
    entity_id = None if entity is None else entity.id
    if not (_is_orjson_id(entity_id) and _is_orjson_id(event.id)):
        return None
    try:
        fields = checked(
            event.name,
            event.object,
            entity is not None,
            entity_id,
            None if entity is None else entity.updated_at,
            event.id,
        )
    except MalformedEvent:  # rare: the reference says why (the body may not even be JSON to it)
        return None
    return Routing(*fields)


def _is_utf8(body: bytes) -> bool:
    if body.isascii():
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _may_nest_deeper_than_orjson(body: bytes) -> bool:
    """Whether msgspec may have read nesting that orjson refuses.

    msgspec's nesting is bounded by the recursion limit, which Python 3.11 shares with Python
    frames: with the default limit (1,000) it refuses before orjson does, at no cost here.
    """
    if _RECURSION_LIMIT_BOUNDS_MSGSPEC and sys.getrecursionlimit() <= ORJSON_MAX_DEPTH:
        return False
    return body.count(b"[") + body.count(b"{") > ORJSON_MAX_DEPTH


def _is_orjson_id(value: object) -> bool:
    """False for an integer orjson would decode as a float."""
    return not isinstance(value, int) or _INT_MIN <= value < _INT_END
