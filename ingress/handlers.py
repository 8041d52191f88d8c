"""HTTP handlers: the webhook receiver and the health and metrics routes.

The webhook path checks, in order: source address (403), rate (429), endpoint
(404), body size, a free slot for a body still on its way (503 overloaded), read time and
framing (413, 408, 400), signature over the raw bytes (401), then publishes and answers 2xx
only once the broker acknowledged (503 if not). The request head was bounded before any of
this (:mod:`ingress.server`).
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import HttpVersion11, web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingress import connections, signature
from ingress.context import CONTEXT, IngressContext
from ingress.errors import (
    BadRequest,
    ExpectationFailed,
    ForbiddenSource,
    InvalidSignature,
    MethodNotAllowed,
    NotFound,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    RateLimited,
    RequestTimeout,
    UnknownEndpoint,
)
from ingress.middleware import OUTCOME, accepted_response, error_response, json_response
from ingress.records import DLQ, Delivery, record_for
from ingress.source import allowed, client_address, rate_key

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-FEDAPAY-SIGNATURE"
#: Every line of it is read, in order (see :mod:`ingress.source`).
FORWARDED_FOR = "X-Forwarded-For"
BODY_READ_TIMEOUT = 10.0


async def receive_webhook(request: web.Request) -> web.Response:
    context = request.app[CONTEXT]
    received_at_ms = time.time_ns() // 1_000_000
    _admit(request, context)
    endpoint = request.match_info["endpoint"]
    secrets = _secrets(endpoint, context)
    body = await _read_body(request, context)
    timestamp = _verify(request, body, secrets, context)
    delivery = Delivery(endpoint, body, timestamp, received_at_ms)
    record = record_for(delivery, context.settings.topics)
    await context.publisher.publish(record)
    request[OUTCOME] = record.kind
    if record.kind == DLQ:
        log.warning("signed body is not a FedaPay event: sent to the DLQ")
    return accepted_response()


def _admit(request: web.Request, context: IngressContext) -> None:
    settings = context.settings
    if not settings.allowed_networks and context.limiter is None:
        return  # nothing looks at the address: skip parsing it
    address = client_address(
        request.remote, request.headers.getall(FORWARDED_FOR, ()), settings.trusted_proxies
    )
    if not allowed(address, settings.allowed_networks):
        raise ForbiddenSource()
    if context.limiter is not None:
        wait = context.limiter.acquire(rate_key(address), time.monotonic())
        if wait > 0:
            raise RateLimited(context.limiter.retry_after(wait))


def _secrets(endpoint: str, context: IngressContext) -> tuple[str, ...]:
    secrets = context.settings.endpoints.get(endpoint)
    if secrets is None:
        raise UnknownEndpoint()
    return secrets


async def _read_body(request: web.Request, context: IngressContext) -> bytes:
    length = request.content_length
    if length is not None and length > context.settings.max_body_bytes:
        raise PayloadTooLarge()
    try:
        if request.content.is_eof():  # the whole body came with the headers: no wait, no timer
            return await request.read()
        return await _wait_for_body(request, context)
    except TimeoutError:
        raise RequestTimeout() from None
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge() from None
    except web.RequestPayloadError:
        raise BadRequest(reason="undecodable_body") from None
    except ConnectionResetError:
        raise BadRequest(reason="incomplete_body") from None


async def _wait_for_body(request: web.Request, context: IngressContext) -> bytes:
    """Read a body still on its way, within ``BODY_READ_TIMEOUT``, if a slot is free."""
    if not context.body_reads.take():
        raise Overloaded(context.settings.retry_after)
    try:
        async with asyncio.timeout(BODY_READ_TIMEOUT):
            return await request.read()
    finally:
        context.body_reads.give_back()


def _verify(
    request: web.Request, body: bytes, secrets: tuple[str, ...], context: IngressContext
) -> int:
    try:
        return signature.verify_signature(
            body,
            request.headers.get(SIGNATURE_HEADER),
            secrets,
            tolerance=context.settings.signature_tolerance,
            max_future=context.settings.signature_max_future,
        )
    except signature.SignatureError as exc:
        context.metrics.signature_failures.labels(exc.reason).inc()
        raise InvalidSignature(reason=exc.reason) from None


async def healthz(request: web.Request) -> web.Response:
    return json_response(200, {"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if not await request.app[CONTEXT].publisher.ready():
        raise NotReady()
    return json_response(200, {"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[CONTEXT].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def expect(request: web.Request) -> web.StreamResponse | None:
    """``Expect: 100-continue`` as aiohttp answers it; any other expectation is a 417.

    Replaces aiohttp's default handler, which answers 500 to an ``Expect`` value
    that is not UTF-8 (it copies the value into its error text, then cannot
    encode it). Runs before the middleware, so it renders its own error.
    """
    connections.head_received(request)
    if request.version != HttpVersion11:
        return None
    if request.headers.get("Expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the 100 is not the response
        return None
    return error_response(ExpectationFailed())


async def method_not_allowed(request: web.Request) -> web.Response:
    raise MethodNotAllowed()


async def not_found(request: web.Request) -> web.Response:
    raise NotFound()
