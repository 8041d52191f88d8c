"""The shutdown of :mod:`ingress.server` on a real loopback server: it stops listening, drains
the connections already open, then lets aiohttp finish what is in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web

from ingress import server
from ingress.settings import IngressSettings

pytestmark = pytest.mark.asyncio

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
#: Well inside the drain, well after aiohttp's own shutdown would have closed idle connections.
AFTER_SIGNAL_SECONDS = server.DRAIN_SECONDS / 10


@pytest_asyncio.fixture
async def serving() -> AsyncIterator[server.Serving]:
    async def index(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", index)
    settings = IngressSettings(endpoints={"x": ("s",)}, port=0, keepalive_timeout=30.0)
    serving = await server.start(app, settings)
    try:
        yield serving
    finally:
        await serving.stop()


async def _answer(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """The status line and the headers of one answer, its body read."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    status, _, headers = head.partition(b"\r\n")
    return status, headers.lower()


async def test_a_request_sent_on_a_kept_alive_connection_after_the_signal_is_answered(
    serving: server.Serving,
) -> None:
    """aiohttp alone closes idle connections at once: this request would meet a closed
    connection (``ServerDisconnectedError`` for the client) instead of an answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", serving.port)
    writer.write(GET)
    status, headers = await _answer(reader)
    assert status == b"HTTP/1.1 200 OK"
    assert b"connection: close" not in headers

    stopping = asyncio.create_task(serving.stop())
    await asyncio.sleep(AFTER_SIGNAL_SECONDS)
    writer.write(GET)

    status, headers = await _answer(reader)
    assert status == b"HTTP/1.1 200 OK"
    assert b"connection: close" in headers
    assert await asyncio.wait_for(reader.read(), 5) == b""
    await stopping
    writer.close()


async def test_new_connections_are_refused_while_draining(serving: server.Serving) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", serving.port)
    port = serving.port
    stopping = asyncio.create_task(serving.stop())
    await asyncio.sleep(AFTER_SIGNAL_SECONDS)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await stopping


async def test_no_connection_open_means_no_drain(
    serving: server.Serving, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server, "DRAIN_SECONDS", 3600.0)
    await asyncio.wait_for(serving.stop(), 5)
