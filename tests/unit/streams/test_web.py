"""The worker's HTTP server as built (no broker): Faust's own routes off, the bearer token
on every route but the probes, the token forwarded between workers, strict transaction
ids, and the bounded partition filter of ``/internal/windows``.

Each test serves the app's real aiohttp application (``app.web.web_app``) on loopback;
the "other worker" of a routed request is a second loopback server that records what
it was asked. The last section takes the pieces without a server: the token check, the
scatter-gather of windows and each way it is refused, readiness, lag and table sizes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
import pytest
import pytest_asyncio
from aiohttp import web as aiohttp_web
from aiohttp.test_utils import TestClient, TestServer
from faust.types import TP

from common.cli import build_parser
from common.config import Env
from streams import aggregates, openapi, routing, tables, web
from streams import query as query_module
from streams.errors import Unavailable
from streams.faust import app as faust_app
from streams.query import WindowQuery
from streams.settings import WorkerSettings
from streams.staging import MemoryTable
from streams.window_store import WindowStore
from streams.windows import Resolution

TOKEN = "query-token-for-unit-tests-5f0c"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
PARTITIONS = 4
#: Every route a worker serves behind the token, Faust's and unknown paths included.
GUARDED = [
    "/query/range?from=0&to=60000",
    "/query/summary",
    "/internal/windows?from=0&to=60000&partitions=0",
    "/transactions/235879",
    "/openapi.json",
    "/",
    "/table/",
    "/table/transactions/",
    "/router/",
    "/no-such-route",
]


def build(tmp_path: Path, **values: str) -> faust_app.Worker:
    env = {
        "FEDAPAY_BRIDGE_TOPIC_PREFIX": "p",
        "FEDAPAY_BRIDGE_STORE": "memory",
        "FEDAPAY_BRIDGE_DATA_DIR": str(tmp_path / "data"),
        "FEDAPAY_BRIDGE_WEB_HOST": "127.0.0.1",
        "FEDAPAY_BRIDGE_WEB_PORT": "1",
    }
    env.update({f"FEDAPAY_BRIDGE_{k}": v for k, v in values.items()})
    return faust_app.build(WorkerSettings.from_env(Env(env)), partitions=PARTITIONS)


@pytest_asyncio.fixture
async def client_of(tmp_path: Path) -> AsyncIterator[Any]:
    clients: list[TestClient[Any, Any]] = []

    async def serve(**values: str) -> TestClient[Any, Any]:
        worker = build(tmp_path / str(len(clients)), **values)
        server: Any = worker.app.web
        server.init_server()
        client: TestClient[Any, Any] = TestClient(TestServer(server.web_app))
        await client.start_server()
        clients.append(client)
        return client

    yield serve
    for client in clients:
        await client.close()


class Owner:
    """Another worker: records each request and answers like an empty worker."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def handle(self, request: aiohttp_web.Request) -> aiohttp_web.Response:
        self.requests.append((request.path, dict(request.headers)))
        if request.path == "/internal/windows":
            document: dict[str, Any] = {"partitions": list(range(PARTITIONS)), "windows": {}}
        else:
            document = {"error": "not_found", "reason": "no transaction with this id"}
        status = 200 if request.path == "/internal/windows" else 404
        return aiohttp_web.json_response(document, status=status)


@pytest_asyncio.fixture
async def owner() -> AsyncIterator[tuple[Owner, str]]:
    recorder = Owner()
    application = aiohttp_web.Application()
    application.router.add_route("GET", "/{tail:.*}", recorder.handle)
    server = TestServer(application, host="127.0.0.1")
    await server.start_server()
    yield recorder, str(server.make_url("")).rstrip("/")
    await server.close()


@pytest.fixture
def routed_to(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make every partition belong to the worker at ``url`` (another worker)."""

    def route(url: str) -> None:
        every = list(range(PARTITIONS))
        monkeypatch.setattr(web.QueryService, "transaction_owner", lambda self, _id: url)
        monkeypatch.setattr(web.QueryService, "_distribution", lambda self: {})
        monkeypatch.setattr(routing, "scatter", lambda *_a: ({url: every}, []))

    return route


# ------------------------------------------------------------------ Faust's routes


def test_faust_table_and_router_routes_are_not_served(tmp_path: Path) -> None:
    worker = build(tmp_path, QUERY_TOKEN=TOKEN)
    server: Any = worker.app.web
    server.init_server()

    paths = {resource.canonical for resource in server.web_app.router.resources()}

    assert not {p for p in paths if p.startswith(("/table", "/router", "/graph", "/stats"))}
    assert not {p for p in paths if p.startswith(("/assignment", "/performance"))}
    assert worker.app.conf.web_tables_enabled is False
    assert worker.app.conf.web_router_enabled is False


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/table/", "/table/transactions/", "/router/", "/router/topics"])
async def test_faust_table_and_router_routes_answer_404_even_with_the_token(
    client_of: Any, path: str
) -> None:
    client = await client_of(QUERY_TOKEN=TOKEN)

    response = await client.get(path, headers=BEARER)

    assert response.status == 404


# ------------------------------------------------------------------ the token


@pytest.mark.asyncio
@pytest.mark.parametrize("path", GUARDED)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-of-the-same-kind"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
    ],
    ids=["none", "wrong", "longer", "basic", "no-scheme", "empty"],
)
async def test_every_route_but_the_probes_needs_the_token(
    client_of: Any, path: str, headers: dict[str, str]
) -> None:
    client = await client_of(QUERY_TOKEN=TOKEN)

    response = await client.get(path, headers=headers)

    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert await response.json() == {
        "error": "unauthorized",
        "reason": "a valid Authorization: Bearer token is required",
    }


@pytest.mark.asyncio
async def test_the_probes_and_metrics_answer_without_the_token(client_of: Any) -> None:
    client = await client_of(QUERY_TOKEN=TOKEN)

    healthz = await client.get("/healthz")
    readyz = await client.get("/readyz")
    metrics = await client.get("/metrics")

    assert healthz.status == 200
    assert readyz.status == 503  # not started: not ready, but answered
    assert (await readyz.json())["status"] == "not_ready"
    assert metrics.status == 200


@pytest.mark.asyncio
async def test_the_token_opens_every_route(client_of: Any) -> None:
    client = await client_of(QUERY_TOKEN=TOKEN)

    document = await client.get("/openapi.json", headers=BEARER)
    lowercase = await client.get("/openapi.json", headers={"Authorization": f"bearer {TOKEN}"})
    transaction = await client.get("/transactions/235879", headers=BEARER)

    assert (document.status, lowercase.status) == (200, 200)
    assert transaction.status == 503  # no partition owner yet: past the token check


@pytest.mark.asyncio
async def test_without_a_token_the_query_routes_are_refused(client_of: Any) -> None:
    client = await client_of()

    refused = [await client.get(path) for path in GUARDED]
    healthz = await client.get("/healthz")

    assert {response.status for response in refused} == {403}
    assert (await refused[0].json())["error"] == "forbidden"
    assert healthz.status == 200


@pytest.mark.asyncio
async def test_allow_unauthenticated_serves_without_a_token(client_of: Any) -> None:
    client = await client_of(QUERY_ALLOW_UNAUTHENTICATED="true")

    document = await client.get("/openapi.json")
    table = await client.get("/table/")

    assert document.status == 200
    assert table.status == 404


@pytest.mark.asyncio
async def test_routed_requests_and_scatter_gather_carry_the_token(
    client_of: Any, owner: tuple[Owner, str], routed_to: Any
) -> None:
    recorder, url = owner
    routed_to(url)
    client = await client_of(QUERY_TOKEN=TOKEN)

    transaction = await client.get("/transactions/235879", headers=BEARER)
    metrics = await client.get("/query/range?from=0&to=60000", headers=BEARER)

    assert transaction.status == 404  # the owner's answer
    assert metrics.status == 200
    assert [path for path, _ in recorder.requests] == ["/transactions/235879", "/internal/windows"]
    for _, headers in recorder.requests:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers[web.ROUTED_HEADER] == "1"


def test_the_service_never_shows_the_token(tmp_path: Path) -> None:
    settings = WorkerSettings.from_env(Env({"FEDAPAY_BRIDGE_QUERY_TOKEN": TOKEN}))
    service = web.QueryService(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        raw_topic="p.raw",
        partitions=PARTITIONS,
        resolutions=settings.metrics_windows,
        timeout_s=1.0,
        token=settings.query_token,
    )

    assert TOKEN not in repr(service)
    assert TOKEN not in repr(settings)
    assert service.auth == "token"


# ------------------------------------------------------------------ ids and partitions


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path",
    [
        "/transactions/..%2Finternal%2Fwindows",
        "/transactions/..%2F..%2Fopenapi.json",
        "/transactions/%2E%2E%2Fhealthz",
        "/transactions/12%2F..%2F..%2Fquery%2Fsummary",
        "/transactions/abc",
        "/transactions/" + "1" * 21,
    ],
)
async def test_a_transaction_id_is_digits_and_nothing_else_is_routed(
    client_of: Any, owner: tuple[Owner, str], routed_to: Any, path: str
) -> None:
    recorder, url = owner
    routed_to(url)
    client = await client_of(QUERY_TOKEN=TOKEN)

    response = await client.get(path, headers=BEARER)

    assert response.status == 400
    assert (await response.json())["error"] == "bad_request"
    assert recorder.requests == []


@pytest.mark.asyncio
async def test_an_8kb_partition_filter_is_refused_without_scanning(client_of: Any) -> None:
    client = await client_of(QUERY_TOKEN=TOKEN)
    huge = ",".join(str(i % PARTITIONS) for i in range(4_000))
    assert len(huge) > 7_900

    response = await client.get(
        "/internal/windows",
        params={"from": "0", "to": "60000", "partitions": huge},
        headers=BEARER,
    )

    assert response.status == 400
    assert (await response.json())["reason"].startswith("partitions: at most 4 distinct")


def test_window_reads_test_each_key_against_a_set() -> None:
    """The table scan asks the partition filter once per key: it must be a set, not the
    caller's list (8 KB of partitions x every key blocked the loop 0.44 s)."""

    class Partitions(list[int]):
        asked = 0

        def __contains__(self, value: object) -> bool:
            Partitions.asked += 1
            return super().__contains__(value)

    minute = Resolution("1m", 60_000, 86_400_000)
    table = MemoryTable(
        {
            f"{p}|live|1m|{s * 60_000}".encode(): aggregates.encode({})
            for p in range(4)
            for s in range(50)
        }
    )
    store = WindowStore(table, (minute,))

    store.windows(Partitions([0, 1]), minute, 0, 3_600_000)

    assert Partitions.asked == 0


# ------------------------------------------------------------------ the query CLI


@pytest.mark.asyncio
@pytest.mark.parametrize("source", ["token-file", "env", "env-file"])
async def test_the_query_cli_sends_the_token(
    owner: tuple[Owner, str], tmp_path: Path, source: str
) -> None:
    recorder, url = owner
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    argv = ["query", "--url", url, "--json"]
    environ: dict[str, str] = {}
    if source == "token-file":
        argv += ["--token-file", str(secret)]
    elif source == "env":
        environ["FEDAPAY_BRIDGE_QUERY_TOKEN"] = TOKEN
    else:
        environ["FEDAPAY_BRIDGE_QUERY_TOKEN_FILE"] = str(secret)
    args = build_parser().parse_args([*argv, "transaction", "235879"])

    code = await asyncio.to_thread(args.run, args, environ)

    assert code == 1  # the recorder's 404
    assert [headers.get("Authorization") for _, headers in recorder.requests] == [f"Bearer {TOKEN}"]


@pytest.mark.asyncio
async def test_the_query_cli_sends_no_header_without_a_token(owner: tuple[Owner, str]) -> None:
    recorder, url = owner
    args = build_parser().parse_args(["query", "--url", url, "transaction", "235879"])

    await asyncio.to_thread(args.run, args, {})

    assert "Authorization" not in recorder.requests[0][1]


# ------------------------------------------------------------------ the OpenAPI document


def test_the_openapi_document_says_which_routes_need_the_token() -> None:
    document = openapi.document(WorkerSettings().metrics_windows)
    open_paths = {
        path for path, item in document["paths"].items() if item["get"].get("security") == []
    }

    assert document["components"]["securitySchemes"]["queryToken"]["scheme"] == "bearer"
    assert document["security"] == [{"queryToken": []}]
    assert open_paths == set(web.OPEN_PATHS)
    for path, item in document["paths"].items():
        if path not in open_paths:
            assert {"401", "403"} <= set(item["get"]["responses"]), path
    (id_parameter,) = (
        p for p in document["paths"]["/transactions/{id}"]["get"]["parameters"] if p["in"] == "path"
    )
    assert id_parameter["schema"]["pattern"] == "^[0-9]{1,20}$"


def test_consumer_lag_counts_records_after_the_last_handed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = build(tmp_path)
    consumer: Any = worker.app.consumer
    raw = [TP("p.raw", partition) for partition in range(3)]
    other = TP("p.transaction.approved", 0)
    monkeypatch.setattr(consumer, "assignment", lambda: {*raw, other})
    highwaters = {raw[0]: 10, raw[1]: 5, raw[2]: 7, other: 9}
    monkeypatch.setattr(consumer, "highwater", highwaters.get)
    consumer._read_offset[raw[0]] = 4  # records 5..9 not handed over yet
    consumer._read_offset[raw[1]] = 4  # caught up
    # raw[2]: nothing handed over yet, no lag known

    assert web.consumer_lag(worker.app, "p.raw") == {0: 5, 1: 0}


# ------------------------------------------------------- the query service without a server

SELF, OTHER = "http://worker-0:6066", "http://worker-1:6066"
MINUTE = Resolution("1m", 60_000, 86_400_000)
WINDOWS_LOG = tables.changelog_topic("app", tables.WINDOWS)
#: This worker serves raw partitions 0 and 1, the other worker 2 and 3.
SPLIT: routing.Distribution = {SELF: {WINDOWS_LOG: [0, 1]}, OTHER: {WINDOWS_LOG: [2, 3]}}


def service(
    *,
    token: str | None = TOKEN,
    allow_unauthenticated: bool = False,
    distribution: routing.Distribution | None = None,
    windows: Mapping[bytes, bytes] | None = None,
    http_client: Any = None,
) -> web.QueryService:
    """A QueryService on a stand-in app: its id, its URL, the assignor's distribution."""
    app: Any = SimpleNamespace(
        conf=SimpleNamespace(id="app", canonical_url=SELF),
        assignor=SimpleNamespace(changelog_distribution=distribution or {}),
        http_client=http_client,
    )
    return web.QueryService(
        app,
        WindowStore(MemoryTable(dict(windows or {})), (MINUTE,)),
        MemoryTable({}),
        raw_topic="p.raw",
        partitions=PARTITIONS,
        resolutions=(MINUTE,),
        timeout_s=1.0,
        token=token,
        allow_unauthenticated=allow_unauthenticated,
    )


@pytest.mark.parametrize(
    ("header", "authorized"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (f"BEARER {TOKEN}", True),
        (f"Bearer   {TOKEN}  ", True),
        (None, False),
        ("", False),
        ("Bearer", False),
        (f"Bearer{TOKEN}", False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer é€", False),
    ],
)
def test_only_the_bearer_token_is_authorized(header: str | None, authorized: bool) -> None:
    assert service().authorized(header) is authorized


@pytest.mark.parametrize(
    ("token", "allow", "auth", "authorized"),
    [
        (TOKEN, False, "token", False),
        (TOKEN, True, "token", False),  # a token wins over allow_unauthenticated
        (None, True, "none", True),
        (None, False, "off", False),
    ],
)
def test_the_access_mode(token: str | None, allow: bool, auth: str, authorized: bool) -> None:
    query = service(token=token, allow_unauthenticated=allow)

    assert query.auth == auth
    assert query.authorized(None) is authorized


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (TOKEN, {web.ROUTED_HEADER: "1", "Authorization": f"Bearer {TOKEN}"}),
        (None, {web.ROUTED_HEADER: "1"}),
    ],
)
def test_forwarded_requests_are_marked_routed(token: str | None, headers: dict[str, str]) -> None:
    assert service(token=token).forward_headers() == headers


def window_key(partition: int, start: int) -> bytes:
    return f"{partition}|live|1m|{start}".encode()


def window_query() -> WindowQuery:
    return WindowQuery(MINUTE, 0, 120_000, {})


def answering(
    status: int, body: bytes, asked: list[tuple[str, str, Mapping[str, str]]] | None = None
) -> Any:
    async def get(url: str, path: str, params: Mapping[str, str]) -> tuple[int, bytes]:
        if asked is not None:
            asked.append((url, path, params))
        return status, body

    return get


@pytest.mark.asyncio
async def test_windows_merge_this_workers_and_the_others_answers() -> None:
    query = service(
        distribution=SPLIT,
        windows={
            window_key(0, 0): aggregates.encode({"delivered": 1}),
            window_key(1, 0): aggregates.encode({"delivered": 2}),
            window_key(1, 60_000): aggregates.encode({"delivered": 5}),
        },
    )
    other = query_module.windows_document([2, 3], {0: {"delivered": 10}, 60_000: {"stale": 1}})
    asked: list[tuple[str, str, Mapping[str, str]]] = []
    query.get = answering(200, orjson.dumps(other), asked)  # type: ignore[method-assign]

    merged = await query.windows(window_query())

    assert merged == {0: {"delivered": 13}, 60_000: {"delivered": 5, "stale": 1}}
    assert asked == [
        (
            OTHER,
            "/internal/windows",
            {"resolution": "1m", "from": "0", "to": "120000", "partitions": "2,3"},
        )
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("distribution", "status", "body", "reason"),
    [
        (
            {SELF: {WINDOWS_LOG: [0, 1]}},
            200,
            b"",
            "partitions without a worker (rebalancing?): [2, 3]",
        ),
        (SPLIT, 503, b"", "answered 503"),
        (SPLIT, 200, b"[]", "unreadable"),
        (SPLIT, 200, b"{", "unreadable"),
        (
            SPLIT,
            200,
            b'{"partitions": [2]}',
            "unreadable",
        ),
        (
            SPLIT,
            200,
            b'{"partitions": [2], "windows": {}}',
            "partitions not answered: [3]",
        ),
    ],
)
async def test_windows_are_unavailable_unless_every_partition_answered(
    distribution: routing.Distribution, status: int, body: bytes, reason: str
) -> None:
    query = service(distribution=distribution)
    query.get = answering(status, body)  # type: ignore[method-assign]

    with pytest.raises(Unavailable) as refused:
        await query.windows(window_query())

    assert reason in str(refused.value)


def test_local_reads_wait_for_the_tables() -> None:
    query = service()
    query.ready = lambda: False

    with pytest.raises(Unavailable):
        query.local_windows([0], window_query())
    with pytest.raises(Unavailable):
        query.local_transaction("235879", None)


@pytest.mark.asyncio
@pytest.mark.parametrize("error", [OSError("refused"), TimeoutError(), aiohttp.ClientError()])
async def test_a_worker_that_does_not_answer_is_unavailable(error: Exception) -> None:
    class Client:
        def get(self, *args: object, **kwargs: object) -> Any:
            raise error

    with pytest.raises(Unavailable, match="did not answer"):
        await service(http_client=Client()).get(OTHER, "/internal/windows", {})


@pytest.mark.parametrize(
    ("assignment", "rebalancing", "recovered", "ready"),
    [
        ({TP("p.raw", 0)}, False, True, True),
        (set(), False, True, False),
        ({TP("p.raw", 0)}, True, True, False),
        ({TP("p.raw", 0)}, False, False, False),
    ],
)
def test_ready_needs_partitions_no_rebalance_and_recovered_tables(
    assignment: set[TP], rebalancing: bool, recovered: bool, ready: bool
) -> None:
    completed = asyncio.Event()
    if recovered:
        completed.set()
    app: Any = SimpleNamespace(
        consumer=SimpleNamespace(assignment=lambda: assignment),
        rebalancing=rebalancing,
        tables=SimpleNamespace(recovery=SimpleNamespace(completed=completed)),
    )

    assert web.ready(app) is ready


class Unstarted:
    """An app whose consumer and tables are not there yet."""

    @property
    def consumer(self) -> Any:
        raise RuntimeError("not started")

    @property
    def tables(self) -> Any:
        raise RuntimeError("not started")


def test_an_app_not_started_is_not_ready_and_reports_nothing() -> None:
    unstarted: Any = Unstarted()

    assert web.ready(unstarted) is False
    assert web.consumer_lag(unstarted, "p.raw") == {}
    assert web.TableSizes(unstarted)() == {}


def test_table_sizes_are_recounted_at_most_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr("streams.web.time.monotonic", lambda: now[0])
    dedup = {b"a": b"1"}
    app: Any = SimpleNamespace(tables={"dedup": dedup, "transactions": {}})
    sizes = web.TableSizes(app, interval_s=30.0)

    assert sizes() == {"dedup": 1, "transactions": 0}
    dedup[b"b"] = b"2"
    now[0] += 29.0
    assert sizes() == {"dedup": 1, "transactions": 0}
    now[0] += 1.0
    assert sizes() == {"dedup": 2, "transactions": 0}
