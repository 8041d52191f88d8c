"""Log lines anyone on the internet can cause are throttled and short: refused requests (their
path cut to 64 characters) and aiohttp's ERROR per undecodable body pass once per 10 s per
message, through the same filter that tames aiokafka."""

from __future__ import annotations

import gzip
import io
import logging
from collections.abc import Iterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common import logs
from ingress.errors import InvalidSignature
from ingress.middleware import errors


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """The processes' logging (``logs.configure``), written to a buffer."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    server = logging.getLogger("aiohttp.server")
    saved_filters = server.filters[:]
    logs.configure("INFO", "json")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        server.filters[:] = saved_filters


def lines(buffer: io.StringIO) -> list[dict[str, object]]:
    found = []
    for line in buffer.getvalue().splitlines():
        if line.startswith("{"):
            found.append(orjson.loads(line))
    return found


BAD_GZIP = {"Content-Encoding": "gzip"}


async def refuse(request: web.Request) -> web.Response:
    raise InvalidSignature(reason="mismatch")


async def _client() -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[errors])
    app.router.add_post("/refuse/{tail:.*}", refuse)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.mark.asyncio
async def test_refused_requests_log_once_per_interval_with_a_short_path(
    configured: io.StringIO,
) -> None:
    client = await _client()
    try:
        for i in range(200):
            response = await client.post(f"/refuse/{i}" + "A" * 5000, data=b"{}")
            assert response.status == 401
    finally:
        await client.close()
    refused = [line for line in lines(configured) if line["msg"] == "request refused"]
    assert len(refused) == 1, refused[:3]
    path = str(refused[0]["path"])
    assert path.startswith("/refuse/0AAA")
    assert len(path) <= 65
    assert refused[0]["code"] == "invalid_signature"


@pytest.mark.asyncio
async def test_undecodable_bodies_drained_by_aiohttp_log_once_per_interval(
    configured: io.StringIO,
) -> None:
    client = await _client()
    statuses = []
    try:
        for _ in range(30):
            # aiohttp answers 404, then drains the body, fails to decode it (ERROR) and closes
            # the connection: one connection per request.
            response = await client.post(
                "/nowhere", data=b"not gzip", headers={**BAD_GZIP, "Connection": "close"}
            )
            statuses.append(response.status)
            response.close()
        response = await client.post(
            "/nowhere", data=gzip.compress(b"{}"), headers={"Content-Encoding": "gzip"}
        )
        assert response.status == 404
    finally:
        await client.close()
    assert set(statuses) == {404}
    found = lines(configured)
    from_aiohttp = [line for line in found if str(line["logger"]).startswith("aiohttp")]
    assert len(from_aiohttp) == 1, from_aiohttp[:3]
    assert from_aiohttp[0]["level"] == "ERROR"
    assert all("exc" not in line for line in from_aiohttp)


def test_one_filter_tames_every_noisy_logger() -> None:
    now = [0.0]
    repeats = logs.RepeatFilter(logs.THROTTLED, clock=lambda: now[0])
    for name in ("aiokafka.conn", "aiohttp.server", "ingress.refused.invalid_signature"):
        record = logging.LogRecord(name, logging.INFO, __file__, 1, "same", (), None)
        assert repeats.filter(record)
        assert not repeats.filter(record)
    other = logging.LogRecord(
        "ingress.refused.forbidden_source", logging.INFO, "", 1, "same", (), None
    )
    assert repeats.filter(other)
    assert repeats.filter(
        logging.LogRecord("ingress.publisher", logging.INFO, "", 1, "x", (), None)
    )
    assert repeats.filter(
        logging.LogRecord("ingress.publisher", logging.INFO, "", 1, "x", (), None)
    )
