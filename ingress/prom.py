"""Prometheus metrics of one ingress app, in a registry of its own."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingress.errors import codes
from ingress.records import KINDS

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
    def create(cls, endpoints: Iterable[str] = ()) -> IngressMetrics:
        """The metrics, with every outcome of each endpoint (the record kinds and the error
        codes) and the publish latency of each record kind exported at 0 from the start: a
        series that first appears at n shows no ``increase()`` of those n, so a first burst of
        errors or DLQ records would be missing from the error share and the alerts."""
        registry = CollectorRegistry(auto_describe=True)
        metrics = cls(
            registry=registry,
            requests=Counter(
                "fedapay_ingress_requests",
                "Webhook requests by endpoint and outcome: raw (accepted, an event), dlq "
                "(accepted, a signed body that is no event) or the error code answered.",
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
        for kind in KINDS:
            _bound(metrics._publish_children, metrics.publish_seconds, kind)
        for endpoint in endpoints:
            for outcome in sorted({*KINDS, *codes()}):
                _bound(metrics._request_children, metrics.requests, endpoint, outcome)
        return metrics


def _bound(children: dict[tuple[str, ...], M], metric: M, *labels: str) -> M:
    """``metric.labels(*labels)``, looked up once per label values and kept in ``children``."""
    child = children.get(labels)
    if child is None:
        child = children[labels] = metric.labels(*labels)
    return child
