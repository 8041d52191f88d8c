"""Serves the ingress app: aiohttp's runner with the ingress's connection limits.

Before any handler (allow-list, rate limit) runs, a connection is bounded by:

- the head's size: ``MAX_HEADER_LINE_BYTES`` per line (request line or header field) and
  ``MAX_HEADERS`` fields (aiohttp's ``max_line_size``, ``max_field_size``, ``max_headers``;
  over them aiohttp answers 400 or 431 and closes);
- the head's time: ``HEADER_TIMEOUT_SECONDS`` from the connection's start or from the first
  byte after an answer (:mod:`ingress.connections`);
- idle time between requests: ``KEEPALIVE_TIMEOUT_SECONDS`` (aiohttp's ``keepalive_timeout``).

Shutting down (SIGTERM) first stops listening, then drains for ``DRAIN_SECONDS``:
connections already open stay open, every answer carries ``Connection: close``, and a
request a client wrote on a kept-alive connection just before the signal is read and
answered instead of cut off (aiohttp's own shutdown closes idle connections at once, and a
request still in the kernel's buffer then meets a closed connection). Then aiohttp's
graceful shutdown: requests being handled finish (their publishes included), idle
connections close, the producer stops.

The body's time and the number of bodies read at once are bounded in the handler
(:mod:`ingress.handlers`). The number of connections is not bounded here: a buffering
proxy in front (see the README) remains the way to absorb a flood of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from ingress.connections import DEADLINES
from ingress.settings import IngressSettings

#: The kernel's receive buffer of each connection. asyncio reads up to 256 KiB at once and
#: aiohttp buffers what it read before any handler runs: a smaller kernel buffer bounds
#: what one connection can make the process hold before its request is looked at.
RECEIVE_BUFFER_BYTES = 32 * 1024
#: aiohttp's ``read_bufsize``: a body buffered beyond twice this pauses reading.
READ_BUFFER_BYTES = 16 * 1024
#: How long a shutdown keeps open connections open, listener closed, to read and answer what
#: their clients already sent (no wait when no connection is open).
DRAIN_SECONDS = 1.0


def runner_options(settings: IngressSettings) -> dict[str, Any]:
    """The ``web.AppRunner`` (and so ``web.Server``/``RequestHandler``) keyword arguments."""
    return {
        "max_line_size": settings.max_header_line_bytes,
        "max_field_size": settings.max_header_line_bytes,
        "max_headers": settings.max_headers,
        "keepalive_timeout": settings.keepalive_timeout,
        "read_bufsize": READ_BUFFER_BYTES,
        "shutdown_timeout": settings.publish_timeout + 5,
    }


@dataclass
class Draining:
    """Once set, every answer closes its connection (``Connection: close``)."""

    active: bool = False

    async def on_response_prepare(self, _: web.Request, response: web.StreamResponse) -> None:
        """aiohttp sends this hook after it chose the ``Connection`` header: both are set here."""
        if self.active:
            response.force_close()
            response.headers[hdrs.CONNECTION] = "close"


@dataclass
class Serving:
    runner: web.AppRunner
    server: web.Server
    listener: asyncio.Server
    draining: Draining

    @property
    def port(self) -> int:
        port: int = self.listener.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop listening, drain the open connections, then aiohttp's graceful shutdown."""
        self.listener.close()
        self.draining.active = True
        if self.server.connections:
            await asyncio.sleep(DRAIN_SECONDS)
        await self.runner.cleanup()


async def start(
    app: web.Application,
    settings: IngressSettings,
    *,
    port: int | None = None,
    handle_signals: bool = False,
) -> Serving:
    """Listen on ``settings.host`` and ``port`` (default ``settings.port``)."""
    draining = Draining()
    app.on_response_prepare.append(draining.on_response_prepare)
    runner = web.AppRunner(
        app, access_log=None, handle_signals=handle_signals, **runner_options(settings)
    )
    await runner.setup()
    server = runner.server
    if server is None:  # pragma: no cover - setup() made it
        raise RuntimeError("the runner has no server")
    factory: Any = server
    deadlines = app.get(DEADLINES)
    if deadlines is not None:
        factory = deadlines.protocol_factory(server)
    try:
        listener = await asyncio.get_running_loop().create_server(
            factory, settings.host, settings.port if port is None else port
        )
    except BaseException:
        await runner.cleanup()
        raise
    for sock in listener.sockets:  # inherited by accepted sockets: see RECEIVE_BUFFER_BYTES
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
    return Serving(runner, server, listener, draining)


async def serve(app: web.Application, settings: IngressSettings) -> None:
    """Serve until cancelled or SIGINT/SIGTERM (``web.GracefulExit``), then shut down."""
    serving = await start(app, settings, handle_signals=True)
    try:
        await asyncio.Event().wait()
    finally:
        await serving.stop()


def run(app: web.Application, settings: IngressSettings, loop: asyncio.AbstractEventLoop) -> None:
    """``web.run_app`` for :func:`serve`: run it on ``loop`` until a signal, then close ``loop``."""
    main = loop.create_task(serve(app, settings))
    try:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        try:
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    loop.run_until_complete(main)
        finally:
            _cancel_all(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
