"""The ingress exports every outcome of each endpoint at 0 from the start (a series that first
appears at n hides those n from ``increase()``), and the error tree names its 5xx codes."""

from __future__ import annotations

from prometheus_client import generate_latest

from ingress import errors
from ingress.prom import IngressMetrics
from ingress.records import KINDS


def samples(metrics: IngressMetrics) -> dict[str, float]:
    found = {}
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_every_outcome_of_each_endpoint_starts_at_zero() -> None:
    exported = samples(IngressMetrics.create(["live", "sandbox"]))
    for endpoint in ("live", "sandbox"):
        for outcome in {*KINDS, *errors.codes()}:
            series = f'fedapay_ingress_requests_total{{endpoint="{endpoint}",outcome="{outcome}"}}'
            assert exported[series] == 0.0
    requests = [name for name in exported if name.startswith("fedapay_ingress_requests_total")]
    assert len(requests) == 2 * len({*KINDS, *errors.codes()})


def test_publish_latency_of_each_kind_starts_empty() -> None:
    exported = samples(IngressMetrics.create())
    for kind in KINDS:
        assert exported[f'fedapay_ingress_publish_seconds_count{{topic_kind="{kind}"}}'] == 0.0
    assert not [name for name in exported if name.startswith("fedapay_ingress_requests_total")]


def test_counting_after_the_start_adds_to_the_same_series() -> None:
    metrics = IngressMetrics.create(["live"])
    metrics.count_request("live", "raw")
    metrics.count_request("live", "invalid_signature")
    exported = samples(metrics)
    assert exported['fedapay_ingress_requests_total{endpoint="live",outcome="raw"}'] == 1.0
    assert exported['fedapay_ingress_requests_total{endpoint="live",outcome="dlq"}'] == 0.0
    key = 'fedapay_ingress_requests_total{endpoint="live",outcome="invalid_signature"}'
    assert exported[key] == 1.0


def test_error_codes_by_status() -> None:
    assert errors.codes(500) == {"internal_error", "broker_unavailable", "overloaded", "not_ready"}
    assert {"invalid_signature", "rate_limited", "not_found"} <= errors.codes()
    assert errors.codes() >= errors.codes(500)
