"""Approved-transaction records exactly as the bridge emits them, for the example consumer's
tests: the real fixture, varied per transaction, through the bridge's own pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from schemas import headers
from schemas.topics import Topics
from streams.pipeline import OutputKind, ParsedEvent, PipelineConfig, RawRecord, plan, read
from tests.fixtures import fixture_bytes


@dataclass(frozen=True)
class Emitted:
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    @property
    def dedup_key(self) -> str:
        return headers.decode(self.headers)[headers.DEDUP_KEY]


def approved_body(transaction_id: int, email: str | None) -> bytes:
    document: dict[str, Any] = orjson.loads(fixture_bytes("transaction.approved.json"))
    entity = document["entity"]
    entity["id"] = transaction_id
    entity["reference"] = f"trx_test_{transaction_id}"
    entity["customer"]["email"] = email
    return orjson.dumps(document)


def emitted(body: bytes, topics: Topics, *, keep_personal: bool = True) -> Emitted:
    """The bridge's record on ``<prefix>.transaction.approved`` for a raw delivery of ``body``."""
    meta = headers.encode({headers.ENDPOINT: "sandbox", headers.RECEIVED_AT_MS: 1_708_343_300_000})
    raw = RawRecord(b"transaction:1", body, tuple(meta), 0, 0, 1_708_343_300_000)
    delivery = read(raw, topics)
    assert isinstance(delivery, ParsedEvent)
    config = PipelineConfig(topics=topics, dedup_window_ms=1000, keep_personal=keep_personal)
    (event,) = [o for o in plan(delivery, None, None, config).outputs if o.kind is OutputKind.EVENT]
    assert event.topic == topics.for_event("transaction.approved")
    return Emitted(event.key, event.value, event.headers)
