"""FedaPay's HTTP API, as its official SDKs use it: the few calls ``reconcile`` makes.

``GET /v1/events`` (``page``, ``per_page`` and filters) answers
``{"v1/events": [...], "meta": {"current_page", "next_page", "prev_page",
"total_pages", "total_count", "per_page"}}``; ``GET /v1/transactions/{id}``
answers ``{"v1/transaction": {...}}``. Every request carries
``Authorization: Bearer <secret key>``, is spaced by the rate limit, and is
retried as :mod:`reconcile.retry` decides. The key is never logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

from reconcile import retry
from reconcile.errors import ApiContractError

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"
EVENTS_FIELD = "v1/events"
TRANSACTION_FIELD = "v1/transaction"
#: Filters sent with ``GET /v1/events`` for a window (the SDK passes filters through as query
#: parameters; events outside the window are also skipped client-side).
CREATED_AFTER = "created_at[gte]"
CREATED_BEFORE = "created_at[lte]"

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    current_page: int
    next_page: int | None
    total_pages: int
    total_count: int


def parse_page(document: object) -> Page:
    """One page of ``GET /v1/events``, or :class:`ApiContractError`."""
    if not isinstance(document, dict):
        raise ApiContractError("v1/events did not answer a JSON object")
    items, meta = document.get(EVENTS_FIELD), document.get("meta")
    if not isinstance(items, list) or not isinstance(meta, dict):
        raise ApiContractError("v1/events answered without its list or its meta")
    current, total = meta.get("current_page"), meta.get("total_pages")
    if not isinstance(current, int) or not isinstance(total, int):
        raise ApiContractError("v1/events meta has no current_page or total_pages")
    following = meta.get("next_page")
    count = meta.get("total_count")
    return Page(
        items=items,
        current_page=current,
        next_page=following if isinstance(following, int) else None,
        total_pages=total,
        total_count=count if isinstance(count, int) else len(items),
    )


class RateLimit:
    """At most ``per_second`` requests per second, spaced evenly."""

    def __init__(self, per_second: float, sleep: Sleep = asyncio.sleep) -> None:
        self._interval = 1.0 / per_second
        self._next = 0.0
        self._sleep = sleep

    async def acquire(self) -> None:
        now = time.monotonic()
        wait = self._next - now
        self._next = max(now, self._next) + self._interval
        if wait > 0:
            await self._sleep(wait)


class FedaPayApi:
    """Authenticated, rate-limited, retried GETs against one API base."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        api_key: str,
        *,
        policy: retry.RetryPolicy,
        rate: RateLimit,
        timeout_seconds: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self._base = base.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
        self._policy = policy
        self._rate = rate
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._sleep = sleep
        #: Requests sent, and answers that asked to wait (429, 5xx, none).
        self.requests = 0
        self.retries = 0

    async def close(self) -> None:
        """Close the HTTP session (the caller's, when it handed one over)."""
        await self._session.close()

    async def events_page(self, page: int, per_page: int, filters: Mapping[str, str]) -> Page:
        params = {"page": str(page), "per_page": str(per_page), **filters}
        return parse_page(await self.get(EVENTS_PATH, params, f"{EVENTS_PATH} page {page}"))

    async def transaction(self, transaction_id: str) -> dict[str, Any]:
        path = f"/v1/transactions/{quote(transaction_id, safe='')}"
        document = await self.get(path, {}, path)
        found = document.get(TRANSACTION_FIELD) if isinstance(document, dict) else None
        if not isinstance(found, dict):
            raise ApiContractError(f"{path} answered without {TRANSACTION_FIELD}")
        return found

    async def get(self, path: str, params: Mapping[str, str], what: str) -> Any:
        """The decoded JSON answer of one GET, after as many attempts as the policy allows."""
        attempt = 0
        while True:
            attempt += 1
            await self._rate.acquire()
            status, retry_after, payload = await self._attempt(path, params)
            wait = retry.delay(status, retry_after, attempt, self._policy, what)
            if wait is None:
                try:
                    return orjson.loads(payload)
                except orjson.JSONDecodeError:
                    raise ApiContractError(f"{what} did not answer JSON") from None
            self.retries += 1
            log.warning(
                "FedaPay API asked to wait", extra={"what": what, "status": status, "wait": wait}
            )
            await self._sleep(wait)

    async def _attempt(self, path: str, params: Mapping[str, str]) -> tuple[int, str | None, bytes]:
        self.requests += 1
        try:
            async with self._session.get(
                self._base + path, params=dict(params), headers=self._auth, timeout=self._timeout
            ) as response:
                return response.status, response.headers.get("Retry-After"), await response.read()
        except (aiohttp.ClientError, TimeoutError):
            return retry.NO_ANSWER, None, b""
