"""Which transactions to ask FedaPay about, and what its answer means. Pure.

A transaction is a candidate when its derived status (the latest record of
``<prefix>.transaction.status`` for the endpoint) is one of the watched
statuses (default: ``pending``) and was set longer ago than a setting (default
30 minutes): a webhook may have been lost. FedaPay's record is "newer" when its
``updated_at`` is later than the derived one; it is then published as a
``transaction.updated`` body, the body of the webhook FedaPay would have sent
for that change (same dedup key).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from reconcile import events
from schemas import keys
from streams.clock import parse_ms

#: The webhook name the API's state of a transaction is published under.
DRIFT_EVENT = "transaction.updated"


@dataclass(frozen=True, slots=True)
class Candidate:
    transaction_id: str
    status: str
    updated_at: str


def candidates(
    latest: Mapping[bytes, bytes],
    endpoint: str,
    statuses: Iterable[str],
    older_than_ms: int,
    limit: int,
) -> list[Candidate]:
    """The transactions of ``endpoint`` stuck in one of ``statuses`` since before
    ``older_than_ms``, oldest first, at most ``limit``."""
    watched = frozenset(statuses)
    found: list[tuple[int, Candidate]] = []
    for key, value in latest.items():
        split = keys.split(key.decode("utf-8", "replace"))
        if split is None or split[0] != endpoint:
            continue
        document = _document(value)
        status, updated_at = document.get("status"), document.get("updated_at")
        at = parse_ms(updated_at)
        if status not in watched or at is None or at >= older_than_ms:
            continue
        found.append((at, Candidate(split[1], str(status), str(updated_at))))
    found.sort(key=lambda pair: pair[0])
    return [candidate for _, candidate in found[:limit]]


def is_newer(candidate: Candidate, transaction: Mapping[str, Any]) -> bool:
    """Whether FedaPay's transaction was updated after the derived status was set."""
    theirs = parse_ms(transaction.get("updated_at"))
    ours = parse_ms(candidate.updated_at)
    return theirs is not None and ours is not None and theirs > ours


def drift_body(transaction: dict[str, Any]) -> bytes:
    """The ``transaction.updated`` webhook body of FedaPay's current transaction."""
    account_id = transaction.get("account_id")
    account = account_id if isinstance(account_id, int | str) else None
    return events.body(DRIFT_EVENT, "transaction", transaction, account)


def _document(value: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}
