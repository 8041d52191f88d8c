"""A loopback webhook endpoint for the simulator's delivery and CLI tests."""

from __future__ import annotations

import socket
import zlib
from collections import Counter

from aiohttp import web

from ingress.signature import SignatureError, verify_signature

SECRET = "wh_sandbox_test_secret"


class Receiver:
    """A webhook endpoint that verifies, and answers 503 to the first try of some bodies."""

    def __init__(self, flaky_every: int = 0) -> None:
        self.flaky_every = flaky_every
        self.seen: Counter[bytes] = Counter()
        self.accepted: list[bytes] = []
        self.signature_t: list[int] = []
        self.rejected = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        assert request.headers["Content-Type"] == "application/json"
        try:
            self.signature_t.append(
                verify_signature(body, request.headers.get("x-fedapay-signature"), [SECRET])
            )
        except SignatureError:
            self.rejected += 1
            return web.json_response({"error": "invalid_signature"}, status=401)
        self.seen[body] += 1
        if self.flaky_every and self.seen[body] == 1 and zlib.crc32(body) % self.flaky_every == 0:
            return web.json_response({"error": "unavailable"}, status=503)
        self.accepted.append(body)
        return web.json_response({"ok": True})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/{endpoint}", self.handle)
        return app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
