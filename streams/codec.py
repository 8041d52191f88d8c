"""Bytes of the values kept in the workers' tables. Pure.

Tables store raw bytes (the changelog holds exactly these), compact JSON with
a version field so a later release can read what an earlier one wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import orjson

from common.errors import BridgeError
from schemas.records import STATUSES, Status
from streams.dedup import SeenEntry
from streams.state_machine import Point, TransactionState

_VERSION = 1
#: Transaction states: 2 since states are keyed ``<endpoint>:<transaction id>`` and hold their
#: endpoint. A version-1 state (keyed by the bare id, endpoint unknown) is never read as any
#: endpoint's.
_STATE_VERSION = 2


class CorruptValue(BridgeError):
    """A table value this release cannot read."""


def encode_seen(entry: SeenEntry) -> bytes:
    return orjson.dumps(
        {
            "v": _VERSION,
            "last": entry.last_seen_ms,
            "first": entry.first_seen_ms,
            "p": entry.partition,
            "n": entry.deliveries,
        }
    )


def decode_seen(value: bytes) -> SeenEntry:
    document = _load(value)
    try:
        return SeenEntry(
            last_seen_ms=int(document["last"]),
            first_seen_ms=int(document["first"]),
            partition=int(document["p"]),
            deliveries=int(document["n"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptValue(f"dedup entry: {exc!r}") from None


def encode_state(state: TransactionState) -> bytes:
    return orjson.dumps(
        {
            "v": _STATE_VERSION,
            "id": state.transaction_id,
            "endpoint": state.endpoint,
            "history": [[p.at_ms, p.status, p.updated_at, p.reported] for p in state.history],
            "event": state.event,
            "dedup_key": state.dedup_key,
            "reference": state.reference,
            "amount": state.amount,
            "currency": state.currency,
            "stale": state.stale_deliveries,
            "anomalies": state.anomalies,
        }
    )


def decode_state(value: bytes) -> TransactionState:
    document = _load(value, _STATE_VERSION)
    try:
        endpoint = document["endpoint"]
        if endpoint is not None and not isinstance(endpoint, str):
            raise ValueError("endpoint is not a string")
        history = tuple(_point(item) for item in document["history"])
        if not history:
            raise ValueError("empty history")
        return TransactionState(
            transaction_id=str(document["id"]),
            endpoint=endpoint,
            history=history,
            event=str(document["event"]),
            dedup_key=str(document["dedup_key"]),
            reference=document.get("reference"),
            amount=document.get("amount"),
            currency=document.get("currency"),
            stale_deliveries=int(document.get("stale", 0)),
            anomalies=int(document.get("anomalies", 0)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptValue(f"transaction state: {exc!r}") from None


def encode_endpoints(endpoints: Iterable[str]) -> bytes:
    """The value of a transaction's index entry (:func:`schemas.keys.index_key`)."""
    return orjson.dumps({"v": _VERSION, "endpoints": sorted(set(endpoints))})


def decode_endpoints(value: bytes) -> list[str]:
    document = _load(value)
    endpoints = document.get("endpoints")
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise CorruptValue("transaction index: endpoints is not a list of names")
    return list(endpoints)


def _point(item: list[Any]) -> Point:
    at_ms, status, updated_at, reported = item
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    return Point(int(at_ms), cast(Status, status), str(updated_at), bool(reported))


def _load(value: bytes, version: int = _VERSION) -> dict[str, Any]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise CorruptValue(f"not JSON: {exc.msg}") from None
    if not isinstance(document, dict) or document.get("v") != version:
        raise CorruptValue("unknown table value version")
    return document
