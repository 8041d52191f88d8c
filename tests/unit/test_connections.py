"""The head deadline of :mod:`ingress.connections`, on a real loopback server, and the aiohttp
behaviour it relies on (these fail if an aiohttp upgrade changes it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from ingress import connections, server
from ingress.settings import IngressSettings

pytestmark = pytest.mark.asyncio

HEAD_TIMEOUT = 0.3
KEEPALIVE = 5.0
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


class Served:
    def __init__(self, serving: server.Serving, deadlines: connections.HeaderDeadlines) -> None:
        self.serving = serving
        self.deadlines = deadlines
        self.expired = 0
        self.transports: list[asyncio.BaseTransport | None] = []

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", self.serving.port)


async def _answer(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


async def _closed(reader: asyncio.StreamReader) -> bool:
    """True once the server closed the connection (within 5 s); False if it answered."""
    return await asyncio.wait_for(reader.read(), 5) == b""


@pytest_asyncio.fixture
async def served() -> AsyncIterator[Served]:
    async def index(request: web.Request) -> web.Response:
        served.transports.append(request.transport)
        return web.Response(text="ok")

    async def post(request: web.Request) -> web.Response:
        return web.Response(text=str(len(await request.read())))

    app = web.Application(middlewares=[connections.middleware])
    app.router.add_get("/", index)
    app.router.add_post("/", post)
    deadlines = connections.HeaderDeadlines(HEAD_TIMEOUT, lambda: _count())
    app[connections.DEADLINES] = deadlines
    settings = IngressSettings(
        endpoints={"x": ("s",)}, port=0, keepalive_timeout=KEEPALIVE, header_timeout=HEAD_TIMEOUT
    )
    served = Served(await server.start(app, settings), deadlines)

    def _count() -> None:
        served.expired += 1

    try:
        yield served
    finally:
        await served.serving.stop()


async def test_a_head_that_never_ends_is_closed(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert await _closed(reader)
    assert served.expired == 1
    writer.close()


async def test_a_connection_that_sends_nothing_is_closed(served: Served) -> None:
    reader, writer = await served.connect()
    assert await _closed(reader)
    assert served.expired == 1
    writer.close()


async def test_a_parsed_head_clears_the_deadline_and_keep_alive_governs_the_idle_time(
    served: Served,
) -> None:
    reader, writer = await served.connect()
    writer.write(GET)
    assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(HEAD_TIMEOUT * 3)  # idle, kept alive: no head deadline runs
    writer.write(GET)
    assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
    assert served.expired == 0
    writer.close()


async def test_the_next_head_on_a_kept_alive_connection_has_its_own_deadline(
    served: Served,
) -> None:
    reader, writer = await served.connect()
    writer.write(GET)
    assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
    await asyncio.sleep(HEAD_TIMEOUT * 2)
    writer.write(b"GET / HTTP/1.1\r\nHo")
    assert await _closed(reader)
    assert served.expired == 1
    writer.close()


async def test_a_slow_body_is_not_cut_by_the_head_deadline(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345")
    await asyncio.sleep(HEAD_TIMEOUT * 3)
    writer.write(b"67890")
    answer = await _answer(reader)
    assert answer.startswith(b"HTTP/1.1 200")
    assert answer.endswith(b"\r\n\r\n10")
    assert served.expired == 0
    writer.close()


async def test_closed_connections_are_forgotten(served: Served) -> None:
    reader, writer = await served.connect()
    writer.write(GET)
    await _answer(reader)
    assert len(served.deadlines) == 1
    writer.close()
    await writer.wait_closed()
    for _ in range(50):
        if len(served.deadlines) == 0:
            break
        await asyncio.sleep(0.02)
    assert len(served.deadlines) == 0


# --- the aiohttp behaviour ingress.connections relies on ---------------------------------


async def test_aiohttp_server_protocol_is_a_plain_protocol() -> None:
    """_Guarded hands on ``data_received``; a BufferedProtocol would be fed another way."""
    handler = web.Server(lambda request: _ok())()
    assert isinstance(handler, asyncio.Protocol)
    assert not isinstance(handler, asyncio.BufferedProtocol)


async def test_aiohttp_gives_the_app_the_transport_of_connection_made(served: Served) -> None:
    """The middleware finds the connection's deadline by ``request.transport``, and nobody
    swaps the protocol the loop calls."""
    reader, writer = await served.connect()
    writer.write(GET)
    await _answer(reader)
    (transport,) = served.transports
    assert transport is not None
    assert isinstance(transport.get_protocol(), connections._Guarded)
    assert transport in served.deadlines._open
    writer.close()


async def test_aiohttp_keepalive_timeout_closes_an_idle_connection() -> None:
    app = web.Application()
    app.router.add_get("/", _index)
    settings = IngressSettings(endpoints={"x": ("s",)}, port=0, keepalive_timeout=0.3)
    serving = await server.start(app, settings)  # no DEADLINES: aiohttp alone
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", serving.port)
        writer.write(GET)
        assert (await _answer(reader)).startswith(b"HTTP/1.1 200")
        assert await _closed(reader)
        writer.close()
    finally:
        await serving.stop()


async def _index(request: web.Request) -> web.Response:
    return await _ok()


async def _ok() -> web.Response:
    return web.Response(text="ok")
