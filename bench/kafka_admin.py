"""Small Kafka chores of the benchmarks: find the broker process, create and delete topics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

import psutil
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


def broker_pid(bootstrap: str) -> int | None:
    """The pid of the process listening on the first bootstrap server's port."""
    port = int(bootstrap.split(",")[0].rsplit(":", 1)[1])
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return int(conn.pid) if conn.pid else None
    return None


async def _with_admin(bootstrap: str) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30_000)
    await admin.start()
    return admin


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = await _with_admin(bootstrap)
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def partitions(bootstrap: str, names: Sequence[str]) -> dict[str, int]:
    """The partition count of each existing topic among ``names``."""
    admin = await _with_admin(bootstrap)
    try:
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return {
        str(topic["topic"]): len(topic["partitions"])
        for topic in described
        if not topic.get("error_code") and topic["partitions"]
    }


async def use_log_append_time(bootstrap: str, names: Sequence[str]) -> None:
    """Let the broker stamp records when it appends them (uniform across producers)."""
    admin = await _with_admin(bootstrap)
    try:
        await admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC, name, {"message.timestamp.type": "LogAppendTime"}
                )
                for name in names
            ]
        )
    finally:
        await admin.close()


async def _delete_prefix(bootstrap: str, prefix: str) -> list[str]:
    admin = await _with_admin(bootstrap)
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


def delete_prefix(bootstrap: str, prefix: str) -> None:
    """Delete every topic whose name starts with the run's prefix (best effort)."""
    try:
        names = asyncio.run(_delete_prefix(bootstrap, prefix))
        log.info("deleted %d topics of %s", len(names), prefix)
    except KafkaError as exc:
        log.warning("could not delete the run's topics (%s): %s", prefix, exc)
