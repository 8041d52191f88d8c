"""`fedapay-bridge topics create` on the real broker, and the worker's start-up checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from common.kafka import KafkaSettings
from schemas.topics import Topics
from streams import provision, tables
from tests.integration.streams_harness import PROJECT_ROOT, worker_env

pytestmark = pytest.mark.kafka


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def cleanup_policies(bootstrap: str, names: list[str]) -> dict[str, str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs={"cleanup.policy": None})
            for name in names
        ]
        policies: dict[str, str] = {}
        for response in await admin.describe_configs(resources):
            for resource in response.resources:
                entries = {entry[0]: entry[1] for entry in resource[4]}
                policies[resource[3]] = entries["cleanup.policy"]
        return policies
    finally:
        await admin.close()


@pytest.mark.asyncio
async def test_topics_create_is_idempotent(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = worker_env(kafka_bootstrap, topic_prefix, tmp_path)
    first = run_cli(env, "topics", "create", "--partitions", "2", "--replication-factor", "1")
    second = run_cli(env, "topics", "create", "--partitions", "2", "--replication-factor", "1")

    specs = provision.contract_topics(Topics(topic_prefix), 2, 1, app_id=f"{topic_prefix}-app")
    names = [spec.name for spec in specs]
    assert first.returncode == 0, first.stderr
    assert [line.split()[0] for line in first.stdout.splitlines()] == ["created"] * len(names)
    assert second.returncode == 0, second.stderr
    assert [line.split()[0] for line in second.stdout.splitlines()] == ["exists"] * len(names)
    counts = await provision.partition_counts(
        KafkaSettings(bootstrap_servers=kafka_bootstrap), names
    )
    assert counts == dict.fromkeys(names, 2)
    policies = await cleanup_policies(kafka_bootstrap, names)
    compacted = {
        f"{topic_prefix}.transaction.status",
        *(tables.changelog_topic(f"{topic_prefix}-app", t) for t in tables.ALL),
    }
    assert {name for name, policy in policies.items() if policy == "compact"} == compacted
    assert set(policies) == set(names)


@pytest.mark.asyncio
async def test_a_different_partition_count_is_reported(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = worker_env(kafka_bootstrap, topic_prefix, tmp_path)
    run_cli(env, "topics", "create", "--partitions", "2", "--no-changelogs")
    again = run_cli(env, "topics", "create", "--partitions", "3", "--no-changelogs")

    assert again.returncode == 1
    assert f"warning: {topic_prefix}.raw has 2 partitions, not 3" in again.stdout


def test_worker_refuses_to_start_without_its_topics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    env = worker_env(kafka_bootstrap, topic_prefix, tmp_path, CREATE_TOPICS="false")
    result = run_cli(env, "worker")

    assert result.returncode == 2
    assert "FEDAPAY_BRIDGE_CREATE_TOPICS" in result.stderr
    assert f"{topic_prefix}.raw" in result.stderr
