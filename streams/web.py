"""The workers' HTTP API on Faust's web server (aiohttp driver).

Routes (documented in ``streams/QUERY_API.md``, OpenAPI at ``/openapi.json``):

* ``GET /query/range``, ``GET /query/summary``: metric windows. The worker
  that receives the query asks every worker (itself included) for the windows
  of the raw partitions it serves (``GET /internal/windows``), checks that
  every partition answered, and merges: scatter-gather over Faust's
  assignment, so any worker gives the same answer.
* ``GET /transactions/{id}[?endpoint=]``: routed to the worker serving the
  id's raw partition (Faust's table routing: the assignor's changelog
  distribution; every endpoint's transaction of one id is in that partition),
  or answered here when that is this worker. Without ``endpoint``: the id's
  only endpoint, 409 with the list when it exists on several.
* ``GET /healthz``, ``/readyz``, ``/metrics`` (Prometheus), ``/openapi.json``.

Every request but ``/healthz``, ``/readyz`` and ``/metrics`` (:data:`OPEN_PATHS`)
needs ``Authorization: Bearer <QUERY_TOKEN>`` (compared in constant time; 401
otherwise). Without a token configured the worker answers those routes 403,
unless ``QUERY_ALLOW_UNAUTHENTICATED`` is set (local use). Faust's own
``/table/*``, ``/router/*``, statistics and graph routes are turned off by the
app's settings (:func:`streams.faust.app.build`).

A routed or internal request carries :data:`ROUTED_HEADER` and the token, and a
worker receiving it answers from its own tables: a request is forwarded at most once.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any, Final, cast

import aiohttp
import faust
import orjson
from aiohttp import web as aiohttp_web
from faust.web import Request, Response, View
from yarl import URL

from schemas import keys
from streams import codec, openapi, prom, query, routing, tables
from streams.aggregates import merge
from streams.counters import Counters
from streams.errors import Ambiguous, Forbidden, NotFound, Unauthorized, Unavailable, WorkerError
from streams.processor import ProcessorStats
from streams.query import WindowQuery
from streams.window_store import WindowStore
from streams.windows import Resolution

log = logging.getLogger(__name__)

ROUTED_HEADER = "x-fedapay-bridge-routed"
#: The paths answered without a token (probes and Prometheus scrapes).
OPEN_PATHS: Final = frozenset({"/healthz", "/readyz", "/metrics"})
Handler = Callable[[View, Request], Awaitable[Response]]


class QueryService:
    """Answers queries from this worker's tables and the other workers'."""

    def __init__(
        self,
        app: faust.App,
        window_store: WindowStore,
        states: Any,
        *,
        raw_topic: str,
        partitions: int,
        resolutions: tuple[Resolution, ...],
        timeout_s: float,
        token: str | None = None,
        allow_unauthenticated: bool = False,
    ) -> None:
        self.app = app
        self._token = None if token is None else token.encode()
        self.allow_unauthenticated = allow_unauthenticated and token is None
        self.window_store = window_store
        self.states = states
        self.raw_topic = raw_topic
        self.partitions = partitions
        self.resolutions = resolutions
        self.timeout_s = timeout_s
        #: Whether this worker's tables are complete (set by :func:`install`).
        self.ready: Callable[[], bool] = lambda: True

    def __repr__(self) -> str:  # never the token
        return f"<QueryService partitions={self.partitions} auth={self.auth}>"

    # -------------------------------------------------------------- access

    @property
    def auth(self) -> str:
        """``token``, ``none`` (explicitly unauthenticated) or ``off`` (refused)."""
        if self._token is not None:
            return "token"
        return "none" if self.allow_unauthenticated else "off"

    def authorized(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header carries the token (constant-time compare)."""
        if self._token is None:
            return self.allow_unauthenticated
        scheme, _, credentials = (header or "").partition(" ")
        given = credentials.strip().encode("utf-8", "replace")
        matches = hmac.compare_digest(given, self._token)
        return scheme.lower() == "bearer" and matches

    def forward_headers(self) -> dict[str, str]:
        """Headers of a request to another worker: routed, with the token."""
        headers = {ROUTED_HEADER: "1"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.decode()}"
        return headers

    # -------------------------------------------------------------- topology

    def _changelog(self, table: str) -> str:
        return tables.changelog_topic(self.app.conf.id, table)

    def _distribution(self) -> routing.Distribution:
        assignor: Any = self.app.assignor  # the concrete PartitionAssignor
        distribution: routing.Distribution = assignor.changelog_distribution
        return distribution

    def is_self(self, url: str) -> bool:
        return routing.same_node(url, self.app.conf.canonical_url)

    def local_partitions(self) -> list[int]:
        """The raw partitions whose tables this worker serves actively."""
        owners = routing.owners(self._distribution(), self._changelog(tables.WINDOWS))
        return sorted(p for p, url in owners.items() if self.is_self(url))

    # -------------------------------------------------------------- metrics

    async def windows(self, wq: WindowQuery) -> dict[int, Counters]:
        """Every partition's windows of the query, merged across workers."""
        by_url, missing = routing.scatter(
            self._distribution(), self._changelog(tables.WINDOWS), self.partitions
        )
        if missing:
            raise Unavailable(f"partitions without a worker (rebalancing?): {missing}")
        answers = await asyncio.gather(
            *(self._windows_from(url, partitions, wq) for url, partitions in by_url.items())
        )
        merged: dict[int, Counters] = {}
        answered: list[int] = []
        for partitions, windows in answers:
            answered.extend(partitions)
            for start, counters in windows.items():
                merge(merged.setdefault(start, {}), counters)
        missed = routing.covered(self.partitions, answered)
        if missed:
            raise Unavailable(f"partitions not answered: {missed}")
        return merged

    async def _windows_from(
        self, url: str, partitions: list[int], wq: WindowQuery
    ) -> tuple[list[int], dict[int, Counters]]:
        if self.is_self(url):
            return partitions, self.local_windows(partitions, wq)
        params = {
            "resolution": wq.resolution.name,
            "from": str(wq.from_ms),
            "to": str(wq.to_ms),
            "partitions": ",".join(map(str, partitions)),
        }
        if wq.endpoint is not None:
            params["endpoint"] = wq.endpoint
        status, body = await self.get(url, "/internal/windows", params)
        if status != 200:
            raise Unavailable(f"worker {url} answered {status}")
        try:
            return query.read_windows_document(orjson.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable(f"worker {url} sent an unreadable answer") from exc

    async def get(self, url: str, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        target = URL(url).with_path(path).with_query(dict(params))
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.app.http_client.get(
                    target, headers=self.forward_headers()
                ) as response:
                    return response.status, await response.read()
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            log.warning("worker did not answer", extra={"url": url, "error": type(exc).__name__})
            raise Unavailable(f"worker {url} did not answer") from exc

    def local_windows(self, partitions: Collection[int], wq: WindowQuery) -> dict[int, Counters]:
        """This worker's windows; :class:`Unavailable` while its tables are recovering."""
        if not self.ready():
            raise Unavailable("this worker is rebalancing or recovering its tables")
        return self.window_store.windows(
            partitions, wq.resolution, wq.from_ms, wq.to_ms, wq.endpoint
        )

    # -------------------------------------------------------------- transactions

    def transaction_owner(self, transaction_id: str) -> str | None:
        """URL of the worker serving the transaction, ``None`` if nobody does now."""
        partition = routing.key_partition(f"transaction:{transaction_id}".encode(), self.partitions)
        owners = routing.owners(self._distribution(), self._changelog(tables.TRANSACTIONS))
        return owners.get(partition)

    def local_transaction(
        self, transaction_id: str, endpoint: str | None
    ) -> dict[str, Any] | list[str] | None:
        """The transaction's document on ``endpoint`` (``None``: on its only endpoint); the
        endpoints holding the id when none was chosen and there are several; ``None`` when
        there is no such transaction."""
        if not self.ready():
            raise Unavailable("this worker is rebalancing or recovering its tables")
        if endpoint is None:
            index = self.states.get(keys.index_key(transaction_id).encode())
            endpoints = [] if index is None else codec.decode_endpoints(index)
            if len(endpoints) > 1:
                return endpoints
            if not endpoints:
                return None
            endpoint = endpoints[0]
        value = self.states.get(keys.qualified(endpoint, transaction_id).encode())
        if value is None:
            return None
        return query.transaction_document(codec.decode_state(value))


# ------------------------------------------------------------------ HTTP


def _params(request: Request) -> dict[str, str]:
    return {key: request.query[key] for key in request.query}


def _json(web: View, document: Any, status: int = 200) -> Response:
    return web.bytes(orjson.dumps(document), content_type="application/json", status=status)


def register(
    app: faust.App,
    service: QueryService,
    *,
    ready: Callable[[], bool],
    metrics_text: Callable[[], bytes],
) -> None:
    """Add the routes to the app's web server."""

    async def query_range(view: View, request: Request) -> Response:
        wq = query.parse_range(_params(request), service.resolutions)
        return _json(view, query.range_document(wq, await service.windows(wq)))

    async def query_summary(view: View, request: Request) -> Response:
        now_ms = time.time_ns() // 1_000_000
        wq, minutes = query.parse_summary(_params(request), service.resolutions, now_ms)
        return _json(view, query.summary_document(wq, minutes, await service.windows(wq)))

    async def internal_windows(view: View, request: Request) -> Response:
        params = _params(request)
        wq = query.parse_range(params, service.resolutions)
        partitions = query.parse_partitions(params.get("partitions"), service.partitions)
        windows = service.local_windows(partitions, wq)
        return _json(view, query.windows_document(sorted(partitions), windows))

    async def transaction(view: View, request: Request, id: str) -> Response:
        query.check_transaction_id(id)
        endpoint = query.parse_endpoint(_params(request))
        routed = request.headers.get(ROUTED_HEADER) is not None
        owner = service.transaction_owner(id)
        if not routed and owner is not None and not service.is_self(owner):
            params = {} if endpoint is None else {"endpoint": endpoint}
            status, body = await service.get(owner, f"/transactions/{id}", params)
            return view.bytes(body, content_type="application/json", status=status)
        if owner is None and not routed:
            raise Unavailable("no worker serves this transaction's partition now")
        found = service.local_transaction(id, endpoint)
        if found is None:
            where = "" if endpoint is None else f" on endpoint {endpoint}"
            raise NotFound(f"no transaction with this id{where}")
        if isinstance(found, list):
            raise Ambiguous(id, found)
        return _json(view, found)

    async def healthz(view: View, request: Request) -> Response:
        return _json(view, {"status": "ok"})

    async def readyz(view: View, request: Request) -> Response:
        partitions = service.local_partitions()
        if ready():
            return _json(view, {"status": "ready", "partitions": partitions})
        return _json(view, {"status": "not_ready", "partitions": partitions}, 503)

    async def prometheus(view: View, request: Request) -> Response:
        return view.bytes(metrics_text(), content_type="text/plain; version=0.0.4", status=200)

    async def openapi_document(view: View, request: Request) -> Response:
        return _json(view, openapi.document(service.resolutions))

    routes: dict[str, Handler] = {
        "/query/range": query_range,
        "/query/summary": query_summary,
        "/internal/windows": internal_windows,
        "/transactions/{id}": transaction,  # type: ignore[dict-item]
        "/healthz": healthz,
        "/readyz": readyz,
        "/metrics": prometheus,
        "/openapi.json": openapi_document,
    }
    for path, handler in routes.items():
        app.page(path, name=f"fedapay_{handler.__name__}")(handler)
    web_app: aiohttp_web.Application = cast(Any, app.web).web_app
    web_app.middlewares.extend((errors_middleware, access_middleware(service)))


AiohttpHandler = Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]]


@aiohttp_web.middleware
async def errors_middleware(
    request: aiohttp_web.Request, handler: AiohttpHandler
) -> aiohttp_web.StreamResponse:
    """The one place a :class:`~streams.errors.WorkerError` becomes an answer; anything else
    raised by a route is logged and answered as one (500)."""
    try:
        return await handler(request)
    except aiohttp_web.HTTPException:
        raise
    except WorkerError as exc:
        return _error_answer(exc)
    except Exception:
        log.exception("query route failed", extra={"path": request.path})
        return _error_answer(WorkerError("the worker failed to answer; see its log"))


def _error_answer(error: WorkerError) -> aiohttp_web.Response:
    return aiohttp_web.Response(
        body=orjson.dumps(error.document()),
        status=error.status,
        content_type="application/json",
        headers=error.headers,
    )


def access_middleware(service: QueryService) -> Any:
    """Every route of the server (Faust's too, and unknown paths) but :data:`OPEN_PATHS`
    needs the bearer token: 401 without it, 403 when the worker has none configured."""

    @aiohttp_web.middleware
    async def access(
        request: aiohttp_web.Request, handler: AiohttpHandler
    ) -> aiohttp_web.StreamResponse:
        if request.method in ("GET", "HEAD") and request.path in OPEN_PATHS:
            return await handler(request)
        if service.auth == "off":
            raise Forbidden(
                "no query token is configured on this worker (FEDAPAY_BRIDGE_QUERY_TOKEN)"
            )
        if not service.authorized(request.headers.get("Authorization")):
            raise Unauthorized("a valid Authorization: Bearer token is required")
        return await handler(request)

    return access


# ------------------------------------------------------------------ wiring


def ready(app: faust.App) -> bool:
    """Partitions assigned, no rebalance in progress, table recovery finished."""
    try:
        return (
            bool(app.consumer.assignment())
            and not app.rebalancing
            and cast(Any, app.tables).recovery.completed.is_set()
        )
    except Exception:  # not started yet
        return False


def consumer_lag(app: faust.App, raw_topic: str) -> dict[int, int]:
    lag: dict[int, int] = {}
    try:
        consumer: Any = app.consumer
        for tp in consumer.assignment():
            if tp.topic != raw_topic:
                continue
            read = consumer.read_offset(tp)
            highwater = consumer.highwater(tp)
            if read is not None and highwater is not None:
                lag[tp.partition] = max(0, int(highwater) - int(read) - 1)
    except Exception:  # not started yet
        return {}
    return lag


class TableSizes:
    """Key counts of the app's tables, recounted at most every ``interval_s`` (RocksDB counts
    by iterating)."""

    def __init__(self, app: faust.App, interval_s: float = 30.0) -> None:
        self.app = app
        self.interval_s = interval_s
        self._at = -interval_s
        self._sizes: dict[str, int] = {}

    def __call__(self) -> dict[str, int]:
        now = time.monotonic()
        if now - self._at >= self.interval_s:
            self._at = now
            try:
                self._sizes = {name: len(table) for name, table in self.app.tables.items()}
            except Exception:  # stores not open yet
                self._sizes = {}
        return self._sizes


def install(
    app: faust.App,
    service: QueryService,
    stats: ProcessorStats,
) -> None:
    """The query routes, health checks and Prometheus metrics on the app's web server."""
    probe = prom.WorkerProbe(
        stats=stats,
        lag=lambda: consumer_lag(app, service.raw_topic),
        table_sizes=TableSizes(app),
        ready=lambda: ready(app),
    )
    service.ready = probe.ready
    registry = prom.registry_for(probe)
    register(app, service, ready=probe.ready, metrics_text=lambda: prom.render(registry))
