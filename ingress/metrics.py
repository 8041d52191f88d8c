"""Prometheus metrics of one ingress app, in a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Histogram)

_PUBLISH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class IngressMetrics:
    registry: CollectorRegistry
    requests: Counter
    signature_failures: Counter
    publish_seconds: Histogram
    producer_ready: Gauge
    header_timeouts: Counter
    #: Bound children of ``requests`` per (endpoint, outcome): both come from small fixed sets.
    _request_children: dict[tuple[str, ...], Counter] = field(default_factory=dict, repr=False)
    #: Bound children of ``publish_seconds`` per topic kind (``raw`` or ``dlq``).
    _publish_children: dict[tuple[str, ...], Histogram] = field(default_factory=dict, repr=False)

    def count_request(self, endpoint: str, outcome: str) -> None:
        """``requests.labels(endpoint, outcome).inc()`` without the per-call label lookup."""
        _bound(self._request_children, self.requests, endpoint, outcome).inc()

    def observe_publish(self, topic_kind: str, seconds: float) -> None:
        """``publish_seconds.labels(topic_kind).observe(seconds)`` without the label lookup."""
        _bound(self._publish_children, self.publish_seconds, topic_kind).observe(seconds)

    @classmethod
    def create(cls) -> IngressMetrics:
        registry = CollectorRegistry(auto_describe=True)
        return cls(
            registry=registry,
            requests=Counter(
                "fedapay_ingress_requests",
                "Webhook requests by endpoint and outcome (accepted, dlq or an error code).",
                ["endpoint", "outcome"],
                registry=registry,
            ),
            signature_failures=Counter(
                "fedapay_ingress_signature_failures",
                "Signature verification failures by reason.",
                ["reason"],
                registry=registry,
            ),
            publish_seconds=Histogram(
                "fedapay_ingress_publish_seconds",
                "Time from send to the broker's acknowledgement (acks=all).",
                ["topic_kind"],
                buckets=_PUBLISH_BUCKETS,
                registry=registry,
            ),
            producer_ready=Gauge(
                "fedapay_ingress_producer_ready",
                "1 when the Kafka producer is connected and the last publish succeeded.",
                registry=registry,
            ),
            header_timeouts=Counter(
                "fedapay_ingress_header_timeouts",
                "Connections closed because a request head was not complete in time.",
                registry=registry,
            ),
        )


def _bound(children: dict[tuple[str, ...], M], metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, looked up once per label values and kept in ``children``."""
    child = children.get(labels)
    if child is None:
        child = children[labels] = metric.labels(*labels)
    return child
