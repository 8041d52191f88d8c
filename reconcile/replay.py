"""``fedapay-bridge replay``: re-derive outputs of a time range under another topic prefix.

Reads ``<prefix>.raw`` from ``--from`` to ``--to`` (record timestamps), keeps
the records of ``--endpoint`` / ``--transaction`` when given, and runs each
partition's records, in order, through the worker's pure pipeline
(:func:`streams.pipeline.replay`) with fresh, in-memory tables; the outputs go to
``<to-prefix>.*`` topics (created when missing, with the raw topic's partition
count), each to the partition number of its raw record, as the worker writes
them. The live worker and its topics are untouched: a fixed worker's history can
be rebuilt beside the live one and compared.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from common.kafka import KafkaSettings
from reconcile import kafka_io
from reconcile.errors import ReconcileError
from reconcile.records import OutgoingRecord
from schemas import headers
from schemas.topics import Topics
from streams import provision
from streams.pipeline import PipelineConfig, RawRecord, replay


@dataclass(frozen=True)
class ReplayOptions:
    from_ms: int
    to_ms: int
    to_prefix: str
    endpoint: str | None = None
    transaction: str | None = None
    dedup_window_seconds: int = 259_200
    replication_factor: int = 1


@dataclass
class ReplaySummary:
    read: int = 0
    selected: int = 0
    written: int = 0
    #: Output topic -> records written.
    topics: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "read": self.read,
            "selected": self.selected,
            "written": self.written,
            "topics": dict(sorted(self.topics.items())),
        }


def selected(record: RawRecord, options: ReplayOptions) -> bool:
    """Whether a raw record is in the replay's selection (endpoint, transaction). Pure."""
    if options.endpoint is not None:
        endpoint = headers.decode(record.headers).get(headers.ENDPOINT)
        if endpoint != options.endpoint:
            return False
    if options.transaction is not None:
        return record.key == f"transaction:{options.transaction}".encode()
    return True


async def run_replay(
    kafka: KafkaSettings,
    source: Topics,
    options: ReplayOptions,
    progress: kafka_io.Progress | None = None,
) -> ReplaySummary:
    target = Topics(options.to_prefix)
    if target.raw == source.raw:
        raise ReconcileError("--to-prefix must differ from the live prefix")
    summary = ReplaySummary()
    per_partition: defaultdict[int, list[RawRecord]] = defaultdict(list)
    async for found in kafka_io.read(
        kafka, source.raw, start_ms=options.from_ms, end_ms=options.to_ms, progress=progress
    ):
        summary.read += 1
        record = RawRecord(
            found.key,
            found.value,
            tuple(found.headers),
            found.partition,
            found.offset,
            found.timestamp,
        )
        if selected(record, options):
            summary.selected += 1
            per_partition[found.partition].append(record)
    counts = await provision.partition_counts(kafka, [source.raw])
    specs = provision.contract_topics(target, counts[source.raw], options.replication_factor)
    await provision.ensure_topics(kafka, specs)
    config = PipelineConfig(topics=target, dedup_window_ms=options.dedup_window_seconds * 1000)
    async with kafka_io.Publisher(kafka) as publisher:
        for partition, records in sorted(per_partition.items()):
            records.sort(key=lambda r: r.offset)
            outputs, _, _ = replay(records, config)
            for output in outputs:
                out = OutgoingRecord(output.topic, output.key, output.value, list(output.headers))
                await publisher.send(out, partition=partition)
                summary.topics[output.topic] += 1
            await publisher.flush()
    summary.written = sum(summary.topics.values())
    return summary
