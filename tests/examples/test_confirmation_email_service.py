"""The example consumer end to end: the real broker, a real SMTP server (aiosmtpd on loopback),
the service as its own process, SIGKILLed mid-stream, and every event emitted twice.

Done when: every approved transaction with an address gets exactly one email, the ones without
are skipped with the counted reason ``no_address``, and an address the server refuses is skipped
as ``recipient_refused``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from schemas.topics import Topics
from tests.examples.confirmation_events import Emitted, approved_body, emitted
from tests.kafka_broker import free_port

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONS = 24
PARTITIONS = 3
#: The SMTP server answers the Nth email by SIGKILLing the service (before accepting it).
KILL_AT = 6
#: The SMTP server refuses this recipient (550).
REFUSED = "refused@example.com"


class Inbox:
    """An aiosmtpd handler that keeps what it accepted; at ``kill_at`` it kills the sender."""

    def __init__(self, kill_at: int) -> None:
        self.accepted: list[tuple[str, str]] = []  # (Message-ID, recipient)
        self.kill_at = kill_at
        self.seen = 0
        self.victim: int | None = None
        self.killed = threading.Event()
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            self.seen += 1
            if self.seen == self.kill_at and self.victim is not None:
                os.kill(self.victim, signal.SIGKILL)
                self.killed.set()
                return "451 4.3.0 not accepted: the sender was killed"
            content = envelope.original_content or b""
            message = message_from_bytes(content)
            self.accepted.append((str(message["Message-ID"]), ",".join(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox(KILL_AT)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def create_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, records: list[Emitted]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                topic, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "examples.confirmation_email"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def counts(db: Path) -> Counter[str]:
    if not db.exists():
        return Counter()
    with sqlite3.connect(db) as connection:
        rows = connection.execute(
            "SELECT outcome, reason, attempts > 1, count(*) FROM deliveries"
            " GROUP BY outcome, reason, attempts > 1"
        ).fetchall()
    found: Counter[str] = Counter()
    for outcome, reason, again, number in rows:
        found[f"{outcome}:{reason}" if outcome == "skipped" else outcome] += number
        if outcome == "sent" and again:
            found["resent"] += number
    return found


def wait_for(done: Any, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_one_email_per_approved_transaction_across_a_sigkill_and_duplicates(
    kafka_bootstrap: str, topic_prefix: str, inbox: tuple[Inbox, int], tmp_path: Path
) -> None:
    handler, smtp_port = inbox
    topics = Topics(topic_prefix)
    topic = topics.for_event("transaction.approved")
    addresses = {
        100 + i: (None if i % 4 == 3 else f"customer{100 + i}@example.com")
        for i in range(TRANSACTIONS)
    }
    addresses[100 + TRANSACTIONS] = REFUSED
    records = [emitted(approved_body(tx, email), topics) for tx, email in addresses.items()]
    with_address = {email for email in addresses.values() if email not in (None, REFUSED)}
    without = sum(email is None for email in addresses.values())
    db = tmp_path / "sent.sqlite3"
    log = tmp_path / "service.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONFIRMATION_EMAIL_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CONFIRMATION_EMAIL_TOPIC_PREFIX": topic_prefix,
        "CONFIRMATION_EMAIL_GROUP_ID": f"{topic_prefix}-email",
        "CONFIRMATION_EMAIL_DB_PATH": str(db),
        "CONFIRMATION_EMAIL_SMTP_PORT": str(smtp_port),
    }

    asyncio.run(create_topic(kafka_bootstrap, topic))
    # Every event once, then the first half again: a duplicate output of the bridge.
    asyncio.run(produce(kafka_bootstrap, topic, records + records[: len(records) // 2]))
    first = start_service(env, log)
    handler.victim = first.pid
    try:
        assert first.wait(timeout=120) == -signal.SIGKILL, log.read_text()
    finally:
        if first.poll() is None:
            first.kill()
    assert handler.killed.is_set()
    assert len(handler.accepted) == KILL_AT - 1

    # After the restart every event comes once more (another duplicate output).
    asyncio.run(produce(kafka_bootstrap, topic, records))
    second = start_service(env, log)
    try:
        wait_for(
            lambda: (
                counts(db)["sent"] == len(with_address)
                and counts(db)["skipped:no_address"] == TRANSACTIONS - len(with_address)
            ),
            within=120,
            what=f"every event recorded ({counts(db)}); log:\n{log.read_text()[-3000:]}",
        )
        time.sleep(3)  # anything more would be a second email
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=60) == 0, log.read_text()[-3000:]
    finally:
        if second.poll() is None:
            second.kill()

    by_message = Counter(message_id for message_id, _ in handler.accepted)
    assert set(by_message.values()) == {1}, by_message
    assert sorted(recipient for _, recipient in handler.accepted) == sorted(with_address)
    assert counts(db) == {
        "sent": len(with_address),
        "resent": 1,  # the email cut off by the kill, sent on the second attempt
        "skipped:no_address": without,
        "skipped:recipient_refused": 1,
    }
    assert "resending: the previous attempt was cut off" in log.read_text()
