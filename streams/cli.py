"""``fedapay-bridge worker`` and ``fedapay-bridge topics create``.

``worker`` builds the Faust app from the ``FEDAPAY_BRIDGE_*`` settings and runs
it in this process; Faust never sees the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Mapping

from common import kafka_access, logs
from common.config import Env
from common.errors import ConfigError
from streams import provision, query_cli, tables
from streams.faust import app as faust_app
from streams.faust import tables as faust_tables
from streams.settings import WorkerSettings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = subparsers.add_parser(
        "worker", help="run a stream worker (settings from FEDAPAY_BRIDGE_* variables)"
    )
    worker.set_defaults(run=run_worker)

    topics = subparsers.add_parser("topics", help="manage the Kafka topics of the contract")
    actions = topics.add_subparsers(dest="topics_command", required=True)
    create = actions.add_parser(
        "create",
        help="create every topic that does not exist yet (idempotent; never alters a topic)",
    )
    create.add_argument("--partitions", type=_positive, help="default: TOPIC_PARTITIONS")
    create.add_argument(
        "--replication-factor", type=_positive, help="default: TOPIC_REPLICATION_FACTOR"
    )
    create.add_argument(
        "--no-changelogs",
        action="store_true",
        help="leave out the workers' table changelog topics (the workers create them)",
    )
    create.set_defaults(run=run_topics_create)

    query_cli.register(subparsers)


def run_worker(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = WorkerSettings.from_env(Env(environ))
    logs.configure(settings.log_level, settings.log_format)
    partitions = asyncio.run(prepare_topics(settings))
    # asyncio.run closed its loop; Faust's worker takes the thread's current one.
    asyncio.set_event_loop(asyncio.new_event_loop())
    worker = faust_app.build(settings, partitions)
    if settings.exactly_once and settings.store == "rocksdb":
        faust_tables.reset_local_tables(worker.app)
    log.info(
        "worker starting",
        extra={
            "app_id": settings.app_id,
            "raw_topic": settings.topics.raw,
            "partitions": partitions,
            "store": settings.store,
            "processing_guarantee": settings.processing_guarantee,
            "dedup_window_seconds": settings.dedup_window_seconds,
            "query_auth": settings.query_auth,
        },
    )
    if settings.query_auth == "off":
        log.warning(
            "no query token configured (FEDAPAY_BRIDGE_QUERY_TOKEN or _FILE): the query API "
            "answers 403; health, readiness and metrics still answer"
        )
    elif settings.query_auth == "none":
        log.warning("the query API serves anyone: FEDAPAY_BRIDGE_QUERY_ALLOW_UNAUTHENTICATED")
    return faust_app.run(worker, log_level=settings.log_level)


async def prepare_topics(settings: WorkerSettings) -> int:
    """Create missing topics if enabled; return the raw topic's partition count.

    Missing topics get the raw topic's partition count when it exists (else
    TOPIC_PARTITIONS). Fails when the raw topic is missing or another topic of
    the contract has fewer partitions than it: outputs go to the raw record's
    partition number.
    """
    await kafka_access.check_access(settings.kafka)
    names = [spec.name for spec in _worker_topics(settings, settings.topic_partitions)]
    counts = await provision.partition_counts(settings.kafka, names)
    if settings.create_topics and len(counts) < len(names):
        partitions = counts.get(settings.topics.raw, settings.topic_partitions)
        await provision.ensure_topics(settings.kafka, _worker_topics(settings, partitions))
        counts = await provision.partition_counts(settings.kafka, names)
    changelogs = {tables.changelog_topic(settings.app_id, table) for table in tables.ALL}
    missing = sorted(name for name in names if name not in counts and name not in changelogs)
    if missing:
        raise ConfigError(
            "FEDAPAY_BRIDGE_CREATE_TOPICS",
            f"missing topics (run `fedapay-bridge topics create`): {', '.join(missing)}",
        )
    raw = counts[settings.topics.raw]
    short = sorted(name for name, count in counts.items() if count < raw)
    if short:
        raise ConfigError(
            "FEDAPAY_BRIDGE_TOPIC_PARTITIONS",
            f"topics with fewer partitions than {settings.topics.raw} ({raw}): {', '.join(short)}",
        )
    return raw


def _worker_topics(settings: WorkerSettings, partitions: int) -> list[provision.TopicSpec]:
    return provision.contract_topics(
        settings.topics, partitions, settings.topic_replication_factor, app_id=settings.app_id
    )


def run_topics_create(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = WorkerSettings.from_env(Env(environ))
    logs.configure(settings.log_level, settings.log_format)
    partitions = args.partitions or settings.topic_partitions
    replication = args.replication_factor or settings.topic_replication_factor
    specs = provision.contract_topics(
        settings.topics,
        partitions,
        replication,
        app_id=None if args.no_changelogs else settings.app_id,
    )
    report = asyncio.run(_create_topics(settings, specs))
    for spec in specs:
        state = "created" if spec.name in report.created else "exists"
        policy = spec.config.get("cleanup.policy", "delete")
        sys.stdout.write(f"{state:8} {spec.name} (partitions={partitions}, {policy})\n")
    for name, count in sorted(report.partition_mismatch.items()):
        sys.stdout.write(f"warning: {name} has {count} partitions, not {partitions}\n")
    return 1 if report.partition_mismatch else 0


async def _create_topics(
    settings: WorkerSettings, specs: list[provision.TopicSpec]
) -> provision.ProvisionReport:
    await kafka_access.check_access(settings.kafka)
    return await provision.ensure_topics(settings.kafka, specs)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
