"""A real ingress (real broker, real publisher) on a loopback port in a background
thread, and a raw-socket client that can send what no HTTP library would.

Hostile-input tests talk to it with plain sockets, so headers, encodings, lengths
and pacing are entirely in their hands.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson

from common.config import Env
from ingress import server
from ingress.app import create_app
from ingress.settings import IngressSettings
from tests.kafka_broker import free_port

HOST = "127.0.0.1"


class ServerThread:
    """The ingress app served as ``fedapay-bridge ingress`` serves it (:mod:`ingress.server`:
    its head limits and deadlines included) in a thread with its own event loop."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.settings = IngressSettings.from_env(Env(environ))
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._serving: server.Serving | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-ingress", daemon=True)

    def start(self, *, ready_within: float = 30.0) -> ServerThread:
        self._thread.start()
        if not self._started.wait(ready_within):
            raise RuntimeError("the ingress did not start")
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if self.get("/readyz") == 200:
                return self
            time.sleep(0.1)
        raise RuntimeError("the ingress did not become ready")

    def stop(self) -> None:
        if self._serving is not None:
            asyncio.run_coroutine_threadsafe(self._serving.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = create_app(self.settings)
        self._serving = self._loop.run_until_complete(
            server.start(app, self.settings, port=self.port)
        )
        self._started.set()
        self._loop.run_forever()

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}{path}", timeout=5) as answer:
                return int(answer.status)
        except OSError:
            return 0


@dataclass
class Answer:
    """What came back on a raw connection: nothing (``status`` 0), or an HTTP answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def json(self) -> dict[str, object]:
        document = orjson.loads(self.body)
        assert isinstance(document, dict)
        return document


def exchange(
    port: int,
    request: bytes,
    *,
    half_close: bool = False,
    timeout: float = 10.0,
    pause_after: int | None = None,
    pause: float = 0.0,
) -> Answer:
    """Send ``request`` as is, optionally pausing ``pause`` s after ``pause_after`` bytes,
    then read the answer until the server closes or ``timeout``."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        try:
            if pause_after is None:
                sock.sendall(request)
            else:
                sock.sendall(request[:pause_after])
                time.sleep(pause)
                sock.sendall(request[pause_after:])
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may answer (413) and close before it read everything
        return parse_answer(_read_all(sock))


def _read_all(sock: socket.socket) -> bytes:
    """Read until the server closes, or one whole answer came (the server may linger)."""
    data = b""
    while not _complete(data):
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, OSError):
            break
        if not chunk:
            break
        data += chunk
    return data


def _complete(data: bytes) -> bool:
    head, separator, rest = data.partition(b"\r\n\r\n")
    if not separator:
        return False
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return length is not None and len(rest) >= int(length.group(1))


def parse_answer(data: bytes) -> Answer:
    """The first HTTP response in ``data`` (status 0 when there is none)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2) if lines and lines[0] else []
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        return Answer(0)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode("latin-1").strip().lower()] = value.decode("latin-1").strip()
    length = int(headers.get("content-length", len(rest)))
    return Answer(int(parts[1]), headers, rest[:length])


def post_request(
    path: str,
    body: bytes,
    headers: Mapping[str, str | bytes] | None = None,
    *,
    content_length: int | None = None,
) -> bytes:
    """A raw HTTP/1.1 POST; ``content_length`` may lie about the body."""
    lines = [f"POST {path} HTTP/1.1".encode(), f"Host: {HOST}".encode(), b"Connection: close"]
    for name, value in (headers or {}).items():
        raw = value if isinstance(value, bytes) else value.encode("utf-8")
        lines.append(name.encode("latin-1") + b": " + raw)
    if "Transfer-Encoding" not in (headers or {}):
        lines.append(
            b"Content-Length: %d" % (len(body) if content_length is None else content_length)
        )
    return b"\r\n".join(lines) + b"\r\n\r\n" + body
