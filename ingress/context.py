"""What the handlers of one ingress app share, stored under one typed app key."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ingress.prom import IngressMetrics
from ingress.publisher import Publisher
from ingress.ratelimit import RateLimiter
from ingress.settings import IngressSettings
from ingress.slots import Slots


@dataclass(frozen=True, slots=True)
class IngressContext:
    settings: IngressSettings
    publisher: Publisher
    metrics: IngressMetrics
    limiter: RateLimiter | None
    #: Requests still receiving their body (``MAX_BODY_READS``).
    body_reads: Slots


CONTEXT = web.AppKey("context", IngressContext)
