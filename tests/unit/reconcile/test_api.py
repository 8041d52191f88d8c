"""The API client against the FedaPay API stand-in (loopback HTTP, no broker)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from reconcile.api import FedaPayApi, RateLimit, parse_page
from reconcile.errors import ApiAuthError, ApiContractError, ApiNotFound, ApiUnavailable
from reconcile.retry import RetryPolicy
from tests.integration.fedapay_api import API_KEY, FedaPayStandIn, serving

EVENTS = [
    {"id": n, "type": "transaction.update", "created_at": f"2027-01-01T10:00:{n:02d}.000Z"}
    for n in range(7)
]


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def client_for(base: str, key: str = API_KEY, attempts: int = 3) -> tuple[FedaPayApi, Sleeps]:
    sleeps = Sleeps()
    session = aiohttp.ClientSession()
    api = FedaPayApi(
        session,
        base,
        key,
        policy=RetryPolicy(max_attempts=attempts, backoff_seconds=0.5),
        rate=RateLimit(1000.0),
        sleep=sleeps,
    )
    return api, sleeps


@pytest.mark.asyncio
async def test_pages_and_meta() -> None:
    standin = FedaPayStandIn(events=[dict(e) for e in EVENTS])
    async with serving(standin) as base:
        api, _ = await client_for(base)
        try:
            pages = [await api.events_page(n, 3, {}) for n in (1, 2, 3)]
        finally:
            await api.close()
    assert [[item["id"] for item in page.items] for page in pages] == [[6, 5, 4], [3, 2, 1], [0]]
    assert [(p.current_page, p.next_page, p.total_pages) for p in pages] == [
        (1, 2, 3),
        (2, 3, 3),
        (3, None, 3),
    ]
    assert pages[0].total_count == 7


@pytest.mark.asyncio
async def test_retries_429_with_retry_after_then_succeeds() -> None:
    standin = FedaPayStandIn(transactions={"5": {"id": 5}})
    standin.fail("/v1/transactions/5", 429, retry_after="2")
    standin.fail("/v1/transactions/5", 503)
    async with serving(standin) as base:
        api, sleeps = await client_for(base)
        try:
            found = await api.transaction("5")
        finally:
            await api.close()
    assert found == {"id": 5}
    assert sleeps.calls == [2.0, 1.0]
    assert (api.requests, api.retries) == (3, 2)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("key", "faults", "error"),
    [
        ("wrong", [], ApiAuthError),
        (API_KEY, [(500, 5)], ApiUnavailable),
        (API_KEY, [(400, 1)], ApiContractError),
    ],
)
async def test_errors(key: str, faults: list[tuple[int, int]], error: type[Exception]) -> None:
    standin = FedaPayStandIn(transactions={"5": {"id": 5}})
    for status, times in faults:
        standin.fail("/v1/transactions/5", status, times=times)
    async with serving(standin) as base:
        api, _ = await client_for(base, key)
        try:
            with pytest.raises(error):
                await api.transaction("5")
        finally:
            await api.close()


@pytest.mark.asyncio
async def test_unknown_transaction_is_not_found() -> None:
    async with serving(FedaPayStandIn()) as base:
        api, _ = await client_for(base)
        try:
            with pytest.raises(ApiNotFound):
                await api.transaction("404")
        finally:
            await api.close()


@pytest.mark.asyncio
async def test_no_answer_is_retried_then_unavailable() -> None:
    api, sleeps = await client_for("http://127.0.0.1:9", attempts=2)
    try:
        with pytest.raises(ApiUnavailable, match="no answer"):
            await api.transaction("1")
    finally:
        await api.close()
    assert sleeps.calls == [0.5]


@pytest.mark.asyncio
async def test_rate_limit_spaces_requests() -> None:
    sleeps = Sleeps()
    limit = RateLimit(4.0, sleep=sleeps)
    for _ in range(3):
        await limit.acquire()
    assert len(sleeps.calls) == 2
    assert all(0.2 < wait <= 0.5 for wait in sleeps.calls)


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"meta": {}},
        {"v1/events": [], "meta": {"current_page": "1", "total_pages": 1}},
        {"v1/events": {}, "meta": {"current_page": 1, "total_pages": 1}},
    ],
)
def test_malformed_pages(document: Any) -> None:
    with pytest.raises(ApiContractError):
        parse_page(document)
