"""Shared pieces of the reconcile integration tests: scenario events as FedaPay's API lists
them, reconcile settings against the stand-in, and waiting for a worker to catch up."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from common.kafka import KafkaSettings
from reconcile.events import TYPE_TO_NAME
from reconcile.retry import RetryPolicy
from reconcile.settings import ReconcileSettings
from schemas.topics import Topics
from simulator.lifecycle import Event
from tests.integration.fedapay_api import API_KEY
from tests.integration.streams_harness import produce_raw
from tests.reliability.progress import wait_caught_up

#: Webhook name -> the API type the stand-in lists (the SDK's vocabulary where we know one).
API_TYPE = {name: api_type for api_type, name in TYPE_TO_NAME.items() if api_type != name}


def api_event(event: Event, event_id: int) -> dict[str, Any]:
    """``event`` as an item of ``GET /v1/events``."""
    entity = orjson.loads(event.entity_json)
    account = orjson.loads(event.account_json)
    return {
        "id": event_id,
        "klass": "v1/event",
        "type": API_TYPE.get(event.name, event.name),
        "entity": entity,
        "object_id": entity["id"],
        "account_id": account["id"],
        "created_at": event.updated_at,
        "updated_at": event.updated_at,
    }


def api_events(events: Iterable[Event]) -> list[dict[str, Any]]:
    return [api_event(event, 9000 + index) for index, event in enumerate(events)]


def settings(
    bootstrap: str,
    prefix: str,
    api_base: str,
    *,
    api_key: str = API_KEY,
    per_page: int = 25,
    max_attempts: int = 4,
    drift_after_seconds: int = 1800,
) -> ReconcileSettings:
    return ReconcileSettings(
        kafka=KafkaSettings(bootstrap_servers=bootstrap),
        topics=Topics(prefix),
        endpoint="sandbox",
        api_base=api_base,
        api_key=api_key,
        per_page=per_page,
        rate_per_second=200.0,
        retry=RetryPolicy(max_attempts=max_attempts, backoff_seconds=0.05, max_delay_seconds=2.0),
        timeout_seconds=10.0,
        drift_after_seconds=drift_after_seconds,
    )


async def feed_webhooks(bootstrap: str, prefix: str, events: Sequence[Event]) -> None:
    """Webhook deliveries of ``events``, as the ingress writes them to the raw topic."""
    now_ms = int(time.time() * 1000)
    bodies = [(event.body, now_ms + index, None) for index, event in enumerate(events)]
    await produce_raw(bootstrap, Topics(prefix), bodies)


async def caught_up(bootstrap: str, prefix: str, within: float = 120.0) -> None:
    """Until the test worker (group ``<prefix>-app``) committed the whole raw topic."""
    await wait_caught_up(bootstrap, f"{prefix}-app", Topics(prefix).raw, within=within)
