"""atheris fuzz target: raw HTTP requests through the real ingress app (no Kafka).

The ingress app (routing, middleware, handlers, signature check) is served on a
loopback port inside this process, with a publisher that records instead of
sending to Kafka. Each input becomes one raw request: method, path, headers
(any bytes, CR and LF included), body, and optionally a valid signature of
that body. Invariants:

* no answer is a 5xx other than the documented 503;
* nothing is published unless the harness signed that exact body;
* a 401 body is exactly ``{"error": "invalid_signature", "reason": <documented>}``;
* the app still answers ``/healthz`` after the input.

Run bounded, e.g. ``python fuzz/fuzz_request.py -max_total_time=60`` (see run.sh).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import socket
import sys
from collections.abc import Iterator

import atheris
from aiohttp import web

from common.kafka import KafkaSettings

with atheris.instrument_imports():
    import ingress.handlers
    from ingress import signature
    from ingress.app import create_app
    from ingress.context import CONTEXT
    from ingress.prom import IngressMetrics
    from ingress.publisher import Publisher, PublisherConfig
    from ingress.records import Record
    from ingress.settings import IngressSettings

HOST = "127.0.0.1"
SECRET = "wh_sandbox_fuzz_secret"  # noqa: S105 - a fuzzing key, not a secret
MAX_BODY = 4096
ANSWER_TIMEOUT = 0.3
METHODS = (b"POST", b"GET", b"PUT", b"HEAD", b"OPTIONS", b"PoSt", b"")
PATHS = (b"/webhooks/sandbox", b"/webhooks/live", b"/webhooks/", b"/healthz", b"/", b"*")
STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ")


class RecordingPublisher(Publisher):
    """Accepts every record at once and remembers its value."""

    def __init__(self) -> None:
        config = PublisherConfig(
            KafkaSettings(), timeout=1.0, retry_after=1, max_record_bytes=MAX_BODY
        )
        super().__init__(config, IngressMetrics.create())
        self.values: list[bytes] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def publish(self, record: Record) -> None:
        self.values.append(record.value)

    async def ready(self) -> bool:
        return True


class Harness:
    def __init__(self) -> None:
        settings = IngressSettings(
            endpoints={"sandbox": (SECRET,), "live": ("wh_live_fuzz_secret",)},
            max_body_bytes=MAX_BODY,
        )
        ingress.handlers.BODY_READ_TIMEOUT = 0.1
        self.publisher = RecordingPublisher()
        app = create_app(settings)
        app[CONTEXT] = dataclasses.replace(app[CONTEXT], publisher=self.publisher)
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        self.loop.run_until_complete(web.TCPSite(self.runner, HOST, self.port).start())
        self.signed: set[bytes] = set()

    def exchange(self, request: bytes) -> bytes:
        return self.loop.run_until_complete(self._exchange(request))

    async def _exchange(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            writer.write(request)
            chunks: list[bytes] = []
            try:
                async with asyncio.timeout(ANSWER_TIMEOUT):
                    while chunk := await reader.read(65536):
                        chunks.append(chunk)
            except (TimeoutError, ConnectionError):
                pass
            return b"".join(chunks)
        finally:
            writer.close()


HARNESS: Harness | None = None


def build_request(fdp: atheris.FuzzedDataProvider, harness: Harness) -> bytes:
    method: bytes = fdp.PickValueInList(list(METHODS)) if fdp.ConsumeBool() else fdp.ConsumeBytes(8)
    path: bytes = fdp.PickValueInList(list(PATHS)) if fdp.ConsumeBool() else fdp.ConsumeBytes(40)
    body: bytes = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, MAX_BODY + 16))
    headers = [b"Host: x", b"Connection: close"]
    if fdp.ConsumeBool():
        harness.signed.add(body)
        headers.append(b"X-FEDAPAY-SIGNATURE: " + signature.sign(body, SECRET).encode())
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        headers.append(fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 60)))
    if fdp.ConsumeBool():
        headers.append(b"Content-Length: %d" % len(body))
    return method + b" " + path + b" HTTP/1.1\r\n" + b"\r\n".join(headers) + b"\r\n\r\n" + body


def responses(stream: bytes) -> Iterator[tuple[int, bytes]]:
    """(status, body) of each response in ``stream``, bodies cut by Content-Length."""
    while (match := STATUS_LINE.search(stream)) is not None:
        head, _, rest = stream[match.start() :].partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        size = int(length.group(1)) if length else 0
        yield int(match.group(1)), rest[:size]
        stream = rest[size:]


def check(answer: bytes, harness: Harness) -> None:
    for status, body in responses(answer):
        if status >= 500 and status != 503:
            raise AssertionError(f"{status} answered:\n{answer[:600]!r}")
        if status == 401 and body:
            document = json.loads(body)
            if set(document) != {"error", "reason"} or document["reason"] not in signature.REASONS:
                raise AssertionError(f"401 says more than documented: {document}")
    unsigned = [value for value in harness.publisher.values if value not in harness.signed]
    if unsigned:
        raise AssertionError(f"published a body nobody signed: {unsigned[0][:100]!r}")
    harness.publisher.values.clear()
    alive = harness.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    if not alive.startswith(b"HTTP/1.1 200"):
        raise AssertionError(f"the app stopped answering: {alive[:200]!r}")


def test_one_input(data: bytes) -> None:
    global HARNESS
    if HARNESS is None:
        HARNESS = Harness()
    harness = HARNESS
    fdp = atheris.FuzzedDataProvider(data)
    check(harness.exchange(build_request(fdp, harness)), harness)
    if len(harness.signed) > 10_000:
        harness.signed.clear()


def main() -> None:
    logging.disable(logging.ERROR)  # aiohttp logs every malformed request with a traceback
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
