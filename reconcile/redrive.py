"""``fedapay-bridge dlq redrive``: dead letters back to the raw topic.

Reads ``<prefix>.dlq`` up to its end at the start (what a failed redrive adds back
is not read again in the same run), keeps the records whose ``fedapay-error`` is
``--error`` (all without it), and writes each to ``<prefix>.raw`` as
:func:`reconcile.records.redriven` builds it. With ``--dry-run`` nothing is
written: the summary says what would be.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from common.kafka import KafkaSettings
from reconcile import kafka_io
from reconcile.records import redriven
from schemas import headers
from schemas.topics import Topics


@dataclass
class RedriveSummary:
    read: int = 0
    redriven: int = 0
    dry_run: bool = False
    #: ``fedapay-error`` -> records selected.
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "redriven": self.redriven,
            "dry_run": self.dry_run,
            "errors": dict(sorted(self.errors.items())),
        }


async def redrive(
    kafka: KafkaSettings, topics: Topics, *, error: str | None, dry_run: bool
) -> RedriveSummary:
    summary = RedriveSummary(dry_run=dry_run)
    async with kafka_io.Publisher(kafka) as publisher:
        async for record in kafka_io.read(kafka, topics.dlq):
            summary.read += 1
            found = list(record.headers)
            kind = headers.decode(found).get(headers.ERROR, "")
            if error is not None and kind != error:
                continue
            summary.errors[kind] += 1
            if dry_run:
                continue
            origin = f"{record.topic}:{record.partition}:{record.offset}"
            await publisher.send(redriven(record.key, record.value or b"", found, origin, topics))
            summary.redriven += 1
    return summary
