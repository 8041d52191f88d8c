"""Shared fixtures: the Kafka broker of the test session and per-test topic isolation; the
hypothesis profile of every test."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, settings

from tests.kafka_broker import BOOTSTRAP_VARIABLE, LocalBroker, free_port, local_broker

CONTAINER_IMAGE = "confluentinc/cp-kafka:7.6.0"

# Hypothesis' per-example deadline and its "too slow" health check time the machine, not the
# code: on 2 cores shared with a broker and other suites an example can take seconds. The
# properties stay; only those two timers are off for every test (a test may still set its own).
settings.register_profile("bridge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("bridge")


def _docker_usable() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


def _container_broker() -> Iterator[str]:
    from testcontainers.community.kafka import KafkaContainer

    container = KafkaContainer(CONTAINER_IMAGE).with_kraft().with_env("KAFKA_NUM_PARTITIONS", "3")
    container.start(timeout=120)
    try:
        yield container.get_bootstrap_server()
    finally:
        container.stop()


def _local_broker() -> Iterator[str]:
    with local_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of a real Kafka broker: the configured one, else a container when Docker
    works, else the local broker of scripts/kafka.sh (reused when already running; stopped at
    the end only if this session started it)."""
    configured = os.environ.get(BOOTSTRAP_VARIABLE)
    if configured:
        yield configured
    elif _docker_usable():
        yield from _container_broker()
    else:
        yield from _local_broker()


@pytest.fixture
def topic_prefix() -> str:
    """A topic prefix no other test uses, e.g. for `Topics(prefix=topic_prefix)`."""
    return f"t{uuid4().hex[:12]}"


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[LocalBroker]:
    """A broker only this test uses, so it can stop and start it; data survives restarts."""
    broker = LocalBroker(
        free_port(),
        tmp_path / "kafka-data",
        controller_port=free_port(),
        state_dir=tmp_path / "kafka-state",
    )
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(purge=True)
