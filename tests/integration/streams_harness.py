"""Stream workers as real subprocesses on the real broker, and what they read and write.

* :class:`WorkerProcess` runs ``python -m streams worker`` with its own app id,
  topic prefix and data directory, and can SIGKILL it.
* :func:`feeder` is the one place deliveries enter the pipeline: through the
  real HTTP ingress (signed, as FedaPay posts them) by default, or straight
  into the raw topic in the ingress's record format.
* :class:`OutputReader` collects every output record; :func:`expected_outputs`
  replays the raw topic through the pure pipeline, the reference the worker's
  outputs are compared with.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, TopicPartition

from common.kafka import KafkaSettings
from ingress.records import Delivery as IngressDelivery
from ingress.records import record_for
from schemas import headers
from schemas.topics import Topics
from simulator.delivery import DeliveryPlan, deliver
from streams import provision, tables
from streams.pipeline import PipelineConfig, RawRecord, replay
from tests.integration.ingress_harness import SECRET, environ, running_ingress

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 3
Consumed: TypeAlias = ConsumerRecord[bytes, bytes]
#: An output's identity: topic, partition, key, value (outputs are deterministic).
Identity: TypeAlias = tuple[str, int, bytes | None, bytes]

#: Deliveries go through the HTTP ingress; set False to produce raw records directly.
FEED_THROUGH_INGRESS = True


# ----------------------------------------------------------------------- workers


#: The query token of test workers (``FEDAPAY_BRIDGE_QUERY_TOKEN``), and its header.
QUERY_TOKEN = "integration-test-query-token-9d2a"
AUTHORIZATION = {"Authorization": f"Bearer {QUERY_TOKEN}"}


def worker_env(bootstrap: str, prefix: str, data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a test worker: isolated by app id, topic prefix and data dir; its
    query API takes :data:`QUERY_TOKEN`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("FEDAPAY_BRIDGE_")}
    ours = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "TOPIC_PREFIX": prefix,
        "APP_ID": f"{prefix}-app",
        "WORKER_ID": f"{prefix}-worker-0",
        "DATA_DIR": str(data_dir),
        "TOPIC_PARTITIONS": str(PARTITIONS),
        "WEB_ENABLED": "false",
        "LOG_FORMAT": "text",
        "SESSION_TIMEOUT_SECONDS": "10",
        "COMMIT_INTERVAL_SECONDS": "1.0",
        "QUERY_TOKEN": QUERY_TOKEN,
        **settings,
    }
    return {**base, **{f"FEDAPAY_BRIDGE_{k}": v for k, v in ours.items()}}


@dataclass
class WorkerProcess:
    env: dict[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"worker-{self.starts}.log"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.starts += 1
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", "worker"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    async def wait_ready(self, within: float = 120.0) -> None:
        """Until the worker logs that recovery finished and it consumes."""
        deadline = time.monotonic() + within
        while b"Worker ready" not in self.log_path.read_bytes():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited ({self.process.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker not ready in {within}s:\n{self.tail()}")
            await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, nothing is flushed or committed."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self._reset()

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.process is None:
            return None
        code: int | None = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        else:
            code = self.process.returncode
        self._reset()
        return code

    def tail(self, lines: int = 60) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _reset(self) -> None:
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the test process dies (a timeout leaves no worker)."""
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)


# ------------------------------------------------------------------------ topics


async def provision_topics(bootstrap: str, prefix: str) -> None:
    specs = provision.contract_topics(Topics(prefix), PARTITIONS, 1, app_id=f"{prefix}-app")
    await provision.ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), specs)


def output_topics(topics: Topics) -> list[str]:
    return [*topics.per_type(), topics.unknown, topics.status, topics.anomalies, topics.dlq]


# ------------------------------------------------------------------------ feeding

Feed: TypeAlias = Callable[[DeliveryPlan], Coroutine[Any, Any, None]]


def feeder(bootstrap: str, prefix: str, rate: float | None = None) -> Feed:
    """Sends every delivery of a plan into the pipeline (HTTP ingress or raw topic),
    at most ``rate`` per second (``None``: as fast as it goes)."""

    async def through_ingress(plan: DeliveryPlan) -> None:
        async with running_ingress(environ(bootstrap, prefix)) as client:
            url = str(client.make_url("/webhooks/sandbox"))
            report = await deliver(plan, url, SECRET, concurrency=8, rate=rate, deadline=300.0)
        assert report.ok, report.to_dict()

    async def into_raw_topic(plan: DeliveryPlan) -> None:
        now_ms = int(time.time() * 1000)
        await produce_raw(
            bootstrap,
            Topics(prefix),
            [(d.event.body, now_ms + i, None) for i, d in enumerate(plan.deliveries)],
            rate=rate,
        )

    return through_ingress if FEED_THROUGH_INGRESS else into_raw_topic


async def produce_raw(
    bootstrap: str,
    topics: Topics,
    bodies: Sequence[tuple[bytes, int, int | None]],
    endpoint: str = "sandbox",
    rate: float | None = None,
) -> None:
    """Raw records exactly as the ingress writes them: (body, received_at_ms, partition),
    at most ``rate`` per second."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    started = time.monotonic()
    try:
        for i, (body, received_at_ms, partition) in enumerate(bodies):
            if rate is not None:
                await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            delivery = IngressDelivery(endpoint, body, received_at_ms // 1000, received_at_ms)
            record = record_for(delivery, topics)
            await producer.send_and_wait(
                topics.raw,
                record.value,
                key=record.key,
                headers=record.headers,
                partition=partition,
            )
    finally:
        await producer.stop()


# ------------------------------------------------------------------------ reading


class OutputReader:
    """Collects every record of some topics from their beginning."""

    def __init__(self, bootstrap: str, topics: Iterable[str], *, committed_only: bool) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.records: list[Consumed] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed" if committed_only else "read_uncommitted",
        )

    async def __aenter__(self) -> OutputReader:
        await self._consumer.start()
        partitions = [TopicPartition(t, p) for t in self.topics for p in range(PARTITIONS)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def poll(self, seconds: float = 0.3) -> None:
        batches = await self._consumer.getmany(timeout_ms=int(seconds * 1000), max_records=5000)
        for batch in batches.values():
            self.records.extend(batch)

    async def until(
        self, done: Callable[[list[Consumed]], bool], *, within: float, settle: float = 2.0
    ) -> None:
        """Poll until ``done(records)``, then keep polling ``settle`` seconds for stragglers."""
        deadline = time.monotonic() + within
        while not done(self.records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out with {len(self.records)} output records")
            await self.poll()
        settle_until = time.monotonic() + settle
        while time.monotonic() < settle_until:
            await self.poll()

    def of(self, topic: str) -> list[Consumed]:
        return [r for r in self.records if r.topic == topic]


async def read_all(bootstrap: str, topic: str, within: float = 60.0) -> list[Consumed]:
    """Every record of ``topic`` up to its current end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Consumed] = []
        deadline = time.monotonic() + within
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def identity(record: Consumed) -> Identity:
    return (record.topic, record.partition, record.key, record.value or b"")


def raw_records(records: Iterable[Consumed]) -> dict[int, list[RawRecord]]:
    """Raw-topic records per partition, in offset order, as the worker sees them."""
    by_partition: dict[int, list[RawRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_partition[record.partition].append(
            RawRecord(
                key=record.key,
                value=record.value,
                headers=tuple(record.headers),
                partition=record.partition,
                offset=record.offset,
                timestamp_ms=record.timestamp,
            )
        )
    return by_partition


def expected_outputs(raw: Iterable[Consumed], topics: Topics) -> Counter[Identity]:
    """What a correct worker emits for these raw records: the pure pipeline's replay."""
    config = PipelineConfig(topics=topics, dedup_window_ms=72 * 3600 * 1000)
    expected: Counter[Identity] = Counter()
    for partition, records in raw_records(raw).items():
        outputs, _, _ = replay(records, config)
        expected.update((o.topic, partition, o.key, o.value) for o in outputs)
    return expected


def dedup_key(record: Consumed) -> str:
    return headers.decode(list(record.headers)).get(headers.DEDUP_KEY, "")


@dataclass(frozen=True)
class Accounting:
    expected: int
    emitted: int
    lost: int
    duplicated: int
    #: Emitted but not predicted by the reference (a wrong or re-derived record).
    unexpected: int

    def as_dict(self) -> dict[str, int]:
        return {
            "expected": self.expected,
            "emitted": self.emitted,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "unexpected": self.unexpected,
        }


def account(expected: Counter[Identity], records: Sequence[Consumed]) -> Accounting:
    """Outputs lost (expected, never emitted), duplicated (emitted more than once), unexpected."""
    emitted = Counter(identity(r) for r in records)
    lost = sum(1 for key in expected if key not in emitted)
    duplicated = sum(count - 1 for count in emitted.values() if count > 1)
    unexpected = sum(1 for key in emitted if key not in expected)
    return Accounting(sum(expected.values()), len(records), lost, duplicated, unexpected)


def latest_by_key(records: Iterable[Consumed]) -> dict[bytes | None, Consumed]:
    """The last record of each key (per partition order), as compaction keeps it."""
    latest: dict[bytes | None, Consumed] = {}
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        latest[record.key] = record
    return latest


def changelog(prefix: str, table: str) -> str:
    return tables.changelog_topic(f"{prefix}-app", table)
