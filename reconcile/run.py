"""One ``reconcile`` pass of one endpoint: events, then status drift, then the checkpoint.

1. Read the endpoint's checkpoint and compute the window (:mod:`reconcile.window`).
2. Page through ``GET /v1/events`` for the window; publish each event in it as the webhook
   body it stands for (:mod:`reconcile.events`, :mod:`reconcile.records`); wait for the
   broker's acknowledgement of every record of a page before asking for the next one.
3. Ask ``GET /v1/transactions/{id}`` about the transactions stuck in a watched status
   (:mod:`reconcile.drift`); publish FedaPay's newer state as a ``transaction.updated`` body.
4. Only then write the checkpoint: a pass that fails (401, attempts spent, broker error)
   leaves it where it was, so the next pass reads the same window again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import aiohttp
import orjson

from reconcile import api, drift, events, kafka_io, window
from reconcile.errors import ApiContractError, ApiNotFound
from reconcile.records import OutgoingRecord, api_record, unmappable
from reconcile.settings import ReconcileSettings
from streams.clock import iso_ms

log = logging.getLogger(__name__)


@dataclass
class Summary:
    endpoint: str
    window: str
    pages: int = 0
    events_listed: int = 0
    events_published: int = 0
    events_outside_window: int = 0
    dead_lettered: int = 0
    drift_checked: int = 0
    drift_unknown: int = 0
    drift_published: int = 0
    api_requests: int = 0
    api_retries: int = 0
    checkpoint: str = ""

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Options:
    since_ms: int | None = None
    until_ms: int | None = None
    drift: bool = True


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


async def reconcile(
    settings: ReconcileSettings,
    options: Options,
    *,
    session: aiohttp.ClientSession | None = None,
    now_ms: Callable[[], int] = _now_ms,
) -> Summary:
    """One pass (see the module docstring); raises a :class:`~reconcile.errors.ReconcileError`
    when FedaPay's API cannot be read."""
    topics = settings.topics
    await kafka_io.ensure_checkpoint_topic(settings.kafka, topics, settings.replication_factor)
    current = await kafka_io.load_checkpoint(settings.kafka, topics, settings.endpoint)
    span = window.window(
        now_ms=now_ms(),
        checkpoint=current,
        since_ms=options.since_ms,
        until_ms=options.until_ms,
        overlap_ms=settings.overlap_seconds * 1000,
        lookback_ms=settings.lookback_seconds * 1000,
    )
    summary = Summary(settings.endpoint, span.describe())
    own_session = session is None
    http = aiohttp.ClientSession() if session is None else session
    try:
        client = api.FedaPayApi(
            http,
            settings.api_base,
            settings.api_key,
            policy=settings.retry,
            rate=api.RateLimit(settings.rate_per_second),
            timeout_seconds=settings.timeout_seconds,
        )
        async with kafka_io.Publisher(settings.kafka) as publisher:
            try:
                await _events(client, publisher, settings, span, summary, now_ms)
                if options.drift and settings.drift_after_seconds > 0:
                    await _drift(client, publisher, settings, summary, now_ms)
            finally:
                summary.api_requests, summary.api_retries = client.requests, client.retries
            done = window.advanced(current, settings.endpoint, span)
            await kafka_io.save_checkpoint(publisher, topics, done)
            summary.checkpoint = iso_ms(done.until_ms)
    finally:
        if own_session:
            await http.close()
    log.info("reconcile pass done", extra=summary.as_dict())
    return summary


async def _events(
    client: api.FedaPayApi,
    publisher: kafka_io.Publisher,
    settings: ReconcileSettings,
    span: window.Window,
    summary: Summary,
    now_ms: Callable[[], int],
) -> None:
    filters = {api.CREATED_AFTER: iso_ms(span.since_ms), api.CREATED_BEFORE: iso_ms(span.until_ms)}
    page_number: int | None = 1
    while page_number is not None:
        page = await client.events_page(page_number, settings.per_page, filters)
        summary.pages += 1
        for item in page.items:
            summary.events_listed += 1
            record = _record(item, span, settings, now_ms())
            if record is None:
                summary.events_outside_window += 1
                continue
            await publisher.send(record)
            if record.topic == settings.topics.dlq:
                summary.dead_lettered += 1
            else:
                summary.events_published += 1
        await publisher.flush()
        page_number = _following(page)


def _record(
    item: object, span: window.Window, settings: ReconcileSettings, fetched_at_ms: int
) -> OutgoingRecord | None:
    """The raw record of one listed event (``None``: outside the window); an item that cannot
    be mapped goes to the DLQ as it was listed, so it is kept and the pass goes on."""
    topics = settings.topics
    try:
        event = events.parse_event(item)
    except ApiContractError as exc:
        return unmappable(orjson.dumps(item), str(exc), settings.endpoint, fetched_at_ms, topics)
    if not span.holds(event.created_at):
        return None
    return api_record(events.webhook_body(event), settings.endpoint, fetched_at_ms, topics)


def _following(page: api.Page) -> int | None:
    """The next page to ask for; ``None`` after the last one. An empty page before the last is
    not taken for the end (the checkpoint would pass pages never read)."""
    if page.current_page >= page.total_pages:
        return None
    if not page.items:
        raise ApiContractError(f"v1/events page {page.current_page} of {page.total_pages} is empty")
    if page.next_page is not None and page.next_page > page.current_page:
        return page.next_page
    return page.current_page + 1


async def _drift(
    client: api.FedaPayApi,
    publisher: kafka_io.Publisher,
    settings: ReconcileSettings,
    summary: Summary,
    now_ms: Callable[[], int],
) -> None:
    latest = await kafka_io.latest(settings.kafka, settings.topics.status)
    stuck = drift.candidates(
        latest,
        settings.endpoint,
        settings.drift_statuses,
        now_ms() - settings.drift_after_seconds * 1000,
        settings.drift_max,
    )
    for candidate in stuck:
        try:
            transaction = await client.transaction(candidate.transaction_id)
        except ApiNotFound:
            summary.drift_unknown += 1
            continue
        summary.drift_checked += 1
        if not drift.is_newer(candidate, transaction):
            continue
        body = drift.drift_body(transaction)
        await publisher.send(api_record(body, settings.endpoint, now_ms(), settings.topics))
        summary.drift_published += 1
    await publisher.flush()
