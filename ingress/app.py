"""The aiohttp application factory."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from common import tracing
from ingress import connections, handlers, middleware
from ingress.context import CONTEXT, IngressContext
from ingress.metrics import IngressMetrics
from ingress.publisher import Publisher, PublisherConfig
from ingress.ratelimit import RateLimiter
from ingress.settings import IngressSettings
from ingress.slots import Slots

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

#: ``service.name`` of the ingress's spans unless ``OTEL_SERVICE_NAME`` says otherwise.
SERVICE_NAME = "fedapay-bridge-ingress"


def create_app(
    settings: IngressSettings, tracer_provider: TracerProvider | None = None
) -> web.Application:
    """The ingress app. With tracing on (``OTEL_TRACES_EXPORTER``, or a ``tracer_provider``
    given, as tests do) every request gets a server span continuing the request's
    ``traceparent`` and every publish a producer span whose context rides in the record's
    headers; with it off neither the middleware nor the spans exist."""
    provider = tracer_provider or tracing.provider(settings.tracing, SERVICE_NAME)
    middlewares: list[Middleware] = [connections.middleware, middleware.errors]
    if provider is not None:
        middlewares.insert(0, _tracing_middleware(provider))
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    context = _context(settings, provider)
    app[CONTEXT] = context
    app[connections.DEADLINES] = connections.HeaderDeadlines(
        settings.header_timeout, context.metrics.header_timeouts.inc
    )
    app.cleanup_ctx.append(_publisher_lifecycle)
    _routes(app.router)
    return app


def _tracing_middleware(provider: TracerProvider) -> Middleware:
    """opentelemetry-instrumentation-aiohttp-server's middleware, for this app only.

    Its middleware reads module state (excluded URLs, semantic-convention mode, instruments)
    that only ``AioHttpServerInstrumentor.instrument()`` sets, and ``instrument()`` also
    replaces ``web.Application`` process-wide. Instrumenting and at once uninstrumenting
    sets that state and puts ``web.Application`` back, so no other app gets spans.
    """
    from opentelemetry.instrumentation.aiohttp_server import (
        AioHttpServerInstrumentor,
        create_aiohttp_middleware,
    )

    instrumentor = AioHttpServerInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        with warnings.catch_warnings():  # its web.Application subclass, unused here
            warnings.simplefilter("ignore", DeprecationWarning)
            instrumentor.instrument(tracer_provider=provider)
        instrumentor.uninstrument()
    middleware: Middleware = create_aiohttp_middleware(provider)
    return middleware


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


def _context(settings: IngressSettings, provider: TracerProvider | None) -> IngressContext:
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
        tracer=None if provider is None else provider.get_tracer("ingress.publisher"),
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
