"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ingress import connections, handlers, middleware
from ingress.context import CONTEXT, IngressContext
from ingress.metrics import IngressMetrics
from ingress.publisher import Publisher, PublisherConfig
from ingress.ratelimit import RateLimiter
from ingress.settings import IngressSettings
from ingress.slots import Slots


def create_app(settings: IngressSettings) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[connections.middleware, middleware.errors],
    )
    context = _context(settings)
    app[CONTEXT] = context
    app[connections.DEADLINES] = connections.HeaderDeadlines(
        settings.header_timeout, context.metrics.header_timeouts.inc
    )
    app.cleanup_ctx.append(_publisher_lifecycle)
    _routes(app.router)
    return app


def _routes(router: web.UrlDispatcher) -> None:
    """Every path and method gets the ingress's own ``Expect`` handling (see
    :func:`handlers.expect`); the middleware renders the 405 and 404 answers."""
    expect = handlers.expect
    for method, path, handler in (
        ("POST", "/webhooks/{endpoint}", handlers.receive_webhook),
        ("GET", "/healthz", handlers.healthz),
        ("GET", "/readyz", handlers.readyz),
        ("GET", "/metrics", handlers.metrics),
    ):
        if method == "GET":
            router.add_get(path, handler, expect_handler=expect)  # HEAD too
        else:
            router.add_route(method, path, handler, expect_handler=expect)
        router.add_route("*", path, handlers.method_not_allowed, expect_handler=expect)
    router.add_route("*", "/{path:.*}", handlers.not_found, expect_handler=expect)


def _context(settings: IngressSettings) -> IngressContext:
    metrics = IngressMetrics.create(settings.endpoints)
    publisher = Publisher(
        PublisherConfig(
            kafka=settings.kafka,
            timeout=settings.publish_timeout,
            retry_after=settings.retry_after,
            max_record_bytes=settings.max_body_bytes,
            linger_ms=settings.linger_ms,
            compression=settings.compression,
        ),
        metrics,
    )
    limiter = (
        RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
        if settings.rate_limit_per_second > 0
        else None
    )
    return IngressContext(settings, publisher, metrics, limiter, Slots(settings.max_body_reads))


async def _publisher_lifecycle(app: web.Application) -> AsyncIterator[None]:
    publisher = app[CONTEXT].publisher
    await publisher.start()
    yield
    await publisher.stop()
