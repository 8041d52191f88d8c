"""A stand-in for FedaPay's HTTP API (it is not reachable from the tests), implementing the
contract its official SDKs use, and only that:

* ``Authorization: Bearer <secret key>`` on every request; any other: 401
  ``{"message": ...}``.
* ``GET /v1/events`` (``page``, ``per_page``, filters ``created_at[gte]``/``[lte]``):
  ``{"v1/events": [...], "meta": {"current_page", "next_page", "prev_page", "total_pages",
  "total_count", "per_page"}}``, newest first; ``GET /v1/events/{id}``.
* ``GET /v1/transactions`` (same ``meta``), ``GET /v1/transactions/{id}``
  (``{"v1/transaction": {...}}``; 404 when unknown).
* Faults on demand: :meth:`FedaPayStandIn.fail` makes the next matching requests answer
  429 with ``Retry-After``, a 5xx, or 401.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.clock import parse_ms

API_KEY = "sk_sandbox_standin_0123456789abcdef"


@dataclass
class Fault:
    path: str
    status: int
    times: int
    page: int | None = None
    retry_after: str | None = None


@dataclass
class FedaPayStandIn:
    api_key: str = API_KEY
    events: list[dict[str, Any]] = field(default_factory=list)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    #: (path, page, status) of every request answered.
    log: list[tuple[str, int | None, int]] = field(default_factory=list)

    def fail(
        self,
        path: str,
        status: int,
        *,
        times: int = 1,
        page: int | None = None,
        retry_after: str | None = None,
    ) -> None:
        """The next ``times`` requests of ``path`` (and ``page``) answer ``status``."""
        self.faults.append(Fault(path, status, times, page, retry_after))

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/events", self._events)
        app.router.add_get("/v1/events/{id}", self._event)
        app.router.add_get("/v1/transactions", self._transactions)
        app.router.add_get("/v1/transactions/{id}", self._transaction)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        page = _int(request.query.get("page"), None)
        response = await self._gate(request, page)
        if response is None:
            response = await handler(request)
        self.log.append((request.path, page, response.status))
        return response

    async def _gate(self, request: web.Request, page: int | None) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return web.json_response({"message": "Invalid API key"}, status=401)
        for fault in self.faults:
            matches = fault.path == request.path and fault.page in (None, page)
            if matches and fault.times > 0:
                fault.times -= 1
                extra = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
                return web.json_response({"message": "fault"}, status=fault.status, headers=extra)
        return None

    async def _events(self, request: web.Request) -> web.Response:
        since = parse_ms(request.query.get("created_at[gte]"))
        until = parse_ms(request.query.get("created_at[lte]"))
        chosen = [
            event
            for event in self.events
            if (since is None or since <= _at(event)) and (until is None or _at(event) <= until)
        ]
        chosen.sort(key=lambda event: (-_at(event), str(event["id"])))
        return _page(request, "v1/events", chosen)

    async def _event(self, request: web.Request) -> web.Response:
        for event in self.events:
            if str(event["id"]) == request.match_info["id"]:
                return web.json_response({"v1/event": event})
        return web.json_response({"message": "not found"}, status=404)

    async def _transactions(self, request: web.Request) -> web.Response:
        return _page(request, "v1/transactions", list(self.transactions.values()))

    async def _transaction(self, request: web.Request) -> web.Response:
        found = self.transactions.get(request.match_info["id"])
        if found is None:
            return web.json_response({"message": "not found"}, status=404)
        return web.json_response({"v1/transaction": found})


def _at(event: dict[str, Any]) -> int:
    return parse_ms(event.get("created_at")) or 0


def _int(text: str | None, default: int | None) -> int | None:
    try:
        return default if text is None else int(text)
    except ValueError:
        return default


def _page(request: web.Request, field_name: str, items: list[dict[str, Any]]) -> web.Response:
    page = max(1, _int(request.query.get("page"), 1) or 1)
    per_page = max(1, _int(request.query.get("per_page"), 25) or 25)
    total_pages = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < total_pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": total_pages,
        "total_count": len(items),
        "per_page": per_page,
    }
    return web.json_response({field_name: chunk, "meta": meta})


@asynccontextmanager
async def serving(standin: FedaPayStandIn) -> AsyncIterator[str]:
    """The stand-in on a loopback port; yields its API base URL."""
    server = TestServer(standin.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()
