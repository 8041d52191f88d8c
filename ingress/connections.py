"""A deadline for each request head: a connection whose head is not complete in time is closed.

aiohttp has no header-read timeout. Its keep-alive timer (``keepalive_timeout``) also
closes a connection whose next request has not been parsed, but it runs from the
connection's start or the previous answer, so a head dribbled a byte at a time is held
for the whole keep-alive time (75 s with ``web.run_app``'s default), and a shorter
keep-alive would cut the idle connections a proxy reuses.

How, with public interfaces only:

- ``web.Server`` (``runner.server``) is a protocol factory for ``loop.create_server``
  (aiohttp's low-level server API). :meth:`HeaderDeadlines.protocol_factory` wraps each
  protocol it makes in :class:`_Guarded`, an ``asyncio.Protocol`` that hands every call on
  unchanged and arms the deadline: when the connection opens, and at the first byte after
  an answer (the next head; a kept-alive connection that sends nothing stays with the
  keep-alive timer).
- aiohttp runs the application only once a request's head is parsed, and
  ``request.transport`` is the transport the protocol got in ``connection_made``.
  :data:`middleware` (first in the chain) and :func:`head_received` (for the ``Expect``
  handler, which runs before middlewares) clear the deadline by that transport.

The upstream behaviour relied on: aiohttp's server protocol is a plain ``asyncio.Protocol``
(not a ``BufferedProtocol``), never looks itself up through ``transport.get_protocol()``,
and gives the application the transport it was made with. ``tests/unit/test_connections.py``
fails if an aiohttp upgrade changes any of it. Servers not started through
:mod:`ingress.server` (aiohttp's test server) are simply not guarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HeaderDeadlines:
    """The guarded connections of one app, by transport."""

    def __init__(self, timeout: float, on_expired: Callable[[], None] | None = None) -> None:
        self.timeout = timeout
        self._on_expired = on_expired
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}

    def __len__(self) -> int:
        return len(self._open)

    def protocol_factory(self, server: Callable[[], asyncio.Protocol]) -> Callable[[], Any]:
        """``server`` (a ``web.Server``) with each of its protocols guarded."""

        def guarded() -> _Guarded:
            return _Guarded(server(), self)

        return guarded

    def head_received(self, transport: asyncio.BaseTransport | None) -> None:
        guard = self._open.get(transport) if transport is not None else None
        if guard is not None:
            guard.head_received()

    def answered(self, transport: asyncio.BaseTransport | None) -> None:
        guard = self._open.get(transport) if transport is not None else None
        if guard is not None:
            guard.answered()

    def _expired(self) -> None:
        if self._on_expired is not None:
            self._on_expired()


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with the head deadline around it."""

    def __init__(self, inner: asyncio.Protocol, deadlines: HeaderDeadlines) -> None:
        self._inner = inner
        self._deadlines = deadlines
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: Between requests: the next byte starts a head.
        self._between = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._deadlines._open[transport] = self
        self._arm()
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._between and self._timer is None:
            self._arm()
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._transport is not None:
            self._deadlines._open.pop(self._transport, None)
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def head_received(self) -> None:
        self._between = False
        self._disarm()

    def answered(self) -> None:
        self._between = True

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._deadlines.timeout, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is None or self._transport.is_closing():
            return
        log.debug("request head not received in time: connection closed")
        self._deadlines._expired()
        self._transport.close()


#: Request key of the app's :class:`HeaderDeadlines` (set by ``create_app``).
DEADLINES = web.AppKey("header_deadlines", HeaderDeadlines)


def head_received(request: web.Request) -> None:
    """Clear the head deadline of ``request``'s connection."""
    deadlines = request.app.get(DEADLINES)
    if deadlines is not None:
        deadlines.head_received(request.transport)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The head is in: clear its deadline; once answered, the next byte starts a new one."""
    deadlines = request.app.get(DEADLINES)
    if deadlines is None:
        return await handler(request)
    transport = request.transport
    deadlines.head_received(transport)
    try:
        return await handler(request)
    finally:
        deadlines.answered(transport)
