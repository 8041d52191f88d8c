"""The consume → triage → record → send → mark loop, with offsets committed after the marks."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from examples.confirmation_email.message import Confirmation, Reason, Skip, compose, triage
from examples.confirmation_email.settings import Settings
from examples.confirmation_email.store import Attempt, Store

log = logging.getLogger("confirmation_email")

#: Seconds to wait before retrying after the SMTP server could not take an email.
RETRY_SECONDS = 2.0


class SendFailed(Exception):
    """The SMTP server could not be reached or refused the email for now: retry later."""


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(self, confirmation: Confirmation) -> None:
        await asyncio.to_thread(self._send, confirmation)

    def _send(self, confirmation: Confirmation) -> None:
        message = compose(confirmation, self._settings.mail_from)
        try:
            with smtplib.SMTP(
                self._settings.smtp_host,
                self._settings.smtp_port,
                timeout=self._settings.smtp_timeout_seconds,
            ) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(type(exc).__name__) from exc


async def handle(headers: Any, value: bytes | None, store: Store, mailer: Mailer) -> None:
    """One record. Raises :class:`SendFailed` when it must be retried."""
    verdict = triage(list(headers), value)
    if isinstance(verdict, Skip):
        if store.skip(verdict):
            log.info("skipped", extra={"key": verdict.key, "reason": str(verdict.reason)})
        return
    begun = store.begin(verdict)
    if not isinstance(begun, Attempt):
        log.info("repeat", extra={"key": verdict.key, "outcome": str(begun.outcome)})
        return
    if begun.number > 1:
        log.warning(
            "resending: the previous attempt was cut off and may have been delivered",
            extra={"key": verdict.key, "attempt": begun.number},
        )
    try:
        await mailer.send(verdict)
    except smtplib.SMTPRecipientsRefused:
        store.refuse(verdict, Reason.RECIPIENT_REFUSED)
        log.info("skipped", extra={"key": verdict.key, "reason": str(Reason.RECIPIENT_REFUSED)})
        return
    except SendFailed:
        store.release(verdict)
        raise
    store.mark_sent(verdict)
    log.info("sent", extra={"key": verdict.key, "attempt": begun.number})


async def run(settings: Settings, stop: asyncio.Event) -> None:
    store = Store(settings.db_path)
    mailer = Mailer(settings)
    consumer = AIOKafkaConsumer(
        settings.topic,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=100)
            for partition, records in batch.items():
                await _partition(consumer, partition, records, store, mailer)
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()
        log.info("stopped", extra={"counts": dict(store.counts())})
        store.close()


async def _partition(
    consumer: AIOKafkaConsumer,
    partition: TopicPartition,
    records: list[Any],
    store: Store,
    mailer: Mailer,
) -> None:
    for record in records:
        try:
            await handle(record.headers, record.value, store, mailer)
        except SendFailed as exc:
            log.warning("smtp unavailable, retrying", extra={"error": str(exc)})
            consumer.seek(partition, record.offset)
            await asyncio.sleep(RETRY_SECONDS)
            return
