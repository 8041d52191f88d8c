"""Creating the topics of the contract, idempotently.

:func:`contract_topics` lists every topic with its partitions, replication and
cleanup policy (pure); :func:`ensure_topics` creates the missing ones and
reports the existing ones, never altering them. The same function runs from
``fedapay-bridge topics create`` and, unless disabled, at worker start.

All topics of one deployment get the same partition count: the workers write
each output to the partition number of the raw record it comes from, so
every output topic and every table changelog must have at least as many
partitions as ``<prefix>.raw``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from common.errors import BridgeError
from common.kafka import KafkaSettings
from schemas.topics import Topics
from streams import tables

log = logging.getLogger(__name__)

COMPACT: Final = {"cleanup.policy": "compact"}
DELETE: Final = {"cleanup.policy": "delete"}

_NO_ERROR: Final = 0
_UNKNOWN_TOPIC: Final = 3
_TOPIC_EXISTS: Final = 36


class ProvisionError(BridgeError):
    """The broker refused to create a topic, or a topic cannot serve the workers."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)

    @property
    def compacted(self) -> bool:
        return self.config.get("cleanup.policy") == "compact"


@dataclass(frozen=True, slots=True)
class ProvisionReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]
    #: Existing topics whose partition count differs from the spec: name -> actual count.
    partition_mismatch: dict[str, int]


def contract_topics(
    topics: Topics, partitions: int, replication_factor: int, *, app_id: str | None = None
) -> list[TopicSpec]:
    """Every topic of the contract (and, with ``app_id``, the workers' changelogs)."""

    def spec(name: str, config: dict[str, str]) -> TopicSpec:
        return TopicSpec(name, partitions, replication_factor, dict(config))

    specs = [spec(topics.raw, DELETE)]
    specs += [spec(name, DELETE) for name in topics.per_type()]
    specs += [
        spec(topics.unknown, DELETE),
        spec(topics.status, COMPACT),
        spec(topics.anomalies, DELETE),
        spec(topics.dlq, DELETE),
    ]
    if app_id is not None:
        specs += [spec(tables.changelog_topic(app_id, table), COMPACT) for table in tables.ALL]
    return specs


async def ensure_topics(
    kafka: KafkaSettings, specs: Sequence[TopicSpec], *, timeout_ms: int = 30_000
) -> ProvisionReport:
    """Create the topics of ``specs`` that do not exist yet."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options(), request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        response = await admin.create_topics(
            [_new_topic(spec) for spec in specs], timeout_ms=timeout_ms
        )
        created, existing = _sort_results(response.topic_errors)
        counts = await _partition_counts(admin, existing)
    finally:
        await admin.close()
    wanted = {spec.name: spec.partitions for spec in specs}
    mismatch = {name: count for name, count in counts.items() if count != wanted[name]}
    if created:
        log.info("topics created", extra={"topics": created})
    return ProvisionReport(tuple(created), tuple(existing), mismatch)


async def partition_counts(kafka: KafkaSettings, names: Sequence[str]) -> dict[str, int]:
    """Partition count of each topic of ``names`` that exists."""
    admin = AIOKafkaAdminClient(**kafka.aiokafka_options())
    await admin.start()
    try:
        return await _partition_counts(admin, names)
    finally:
        await admin.close()


def _new_topic(spec: TopicSpec) -> NewTopic:
    return NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.config)


def _sort_results(results: Iterable[tuple[Any, ...]]) -> tuple[list[str], list[str]]:
    created: list[str] = []
    existing: list[str] = []
    for name, code, message in (tuple(item)[:3] for item in results):
        if code == _NO_ERROR:
            created.append(name)
        elif code == _TOPIC_EXISTS:
            existing.append(name)
        else:
            raise ProvisionError(f"cannot create topic {name}: error {code} {message or ''}")
    return created, existing


async def _partition_counts(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    if not names:
        return {}
    counts: dict[str, int] = {}
    for topic in await admin.describe_topics(list(names)):
        if topic["error_code"] == _UNKNOWN_TOPIC:
            continue
        if topic["error_code"] != _NO_ERROR:
            raise ProvisionError(f"cannot describe topic {topic['topic']}: {topic['error_code']}")
        counts[topic["topic"]] = len(topic["partitions"])
    return counts
