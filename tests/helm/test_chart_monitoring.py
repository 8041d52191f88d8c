"""Monitoring in the chart: ServiceMonitors scrape the receiver and every worker once, the
PrometheusRule ships the rule file as it is (tests/observability checks it with promtool and a real
Prometheus), and the dashboard ConfigMap holds the dashboard file."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.helm.chart import RELEASE, Manifest, Rendered
from tests.helm.conftest import Renderer
from tests.observability.catalog import DASHBOARD, RULES

pytestmark = pytest.mark.helm

FULLNAME = f"{RELEASE}-fedapay-bridge"
MONITORS = ("metrics.serviceMonitor.enabled=true",)
RULE = ("metrics.prometheusRule.enabled=true",)


def selected(rendered: Rendered, monitor: Manifest) -> list[Manifest]:
    """The Services a ServiceMonitor's label selector picks."""
    wanted = monitor["spec"]["selector"]["matchLabels"].items()
    return [s for s in rendered.all("Service") if wanted <= s["metadata"]["labels"].items()]


def port_names(service: Manifest) -> list[str]:
    return [port["name"] for port in service["spec"]["ports"]]


def test_no_monitoring_objects_by_default(renderer: Renderer) -> None:
    rendered = renderer.value_set("default")
    assert rendered.maybe("ServiceMonitor") is None
    assert rendered.maybe("PrometheusRule") is None


@pytest.mark.parametrize(
    ("component", "service", "port"),
    [("receiver", f"{FULLNAME}-receiver", "http"), ("worker", f"{FULLNAME}-worker-headless", "web")],
)
def test_service_monitor_scrapes_each_component_once(
    renderer: Renderer, component: str, service: str, port: str
) -> None:
    rendered = renderer.value_set("production-values")
    monitor = rendered.one("ServiceMonitor", component)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint == {"port": port, "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["payments"]}
    (picked,) = selected(rendered, monitor)
    assert picked["metadata"]["name"] == service
    assert port in port_names(picked)


def test_worker_monitor_sees_not_ready_workers(renderer: Renderer) -> None:
    """The headless Service publishes not-ready pods, so fedapay_worker_ready == 0 is scraped."""
    rendered = renderer((), MONITORS)
    (picked,) = selected(rendered, rendered.one("ServiceMonitor", "worker"))
    assert picked["spec"]["publishNotReadyAddresses"] is True


@pytest.mark.parametrize(("disabled", "left"), [("receiver", "worker"), ("worker", "receiver")])
def test_monitors_follow_the_components(renderer: Renderer, disabled: str, left: str) -> None:
    rendered = renderer((), (*MONITORS, f"{disabled}.enabled=false"))
    assert [Rendered.component(m) for m in rendered.all("ServiceMonitor")] == [left]


def test_prometheus_rule_is_the_rule_file(renderer: Renderer) -> None:
    rendered = renderer((), (*RULE, "metrics.prometheusRule.labels.release=prom"))
    rule = rendered.named("PrometheusRule", FULLNAME)
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["metadata"]["namespace"] == "payments"
    spec: dict[str, Any] = rule["spec"]
    assert spec == yaml.safe_load(RULES.read_text(encoding="utf-8"))
    descriptions = [r["annotations"]["description"] for g in spec["groups"] for r in g["rules"]]
    assert any("{{ $labels.namespace }}" in text for text in descriptions), "templated by helm"


def test_dashboard_configmap_holds_the_dashboard_file(renderer: Renderer) -> None:
    configmap = renderer.value_set("default").named("ConfigMap", f"{FULLNAME}-dashboard")
    shipped = json.loads(configmap["data"]["fedapay-bridge.json"])
    assert shipped == json.loads(DASHBOARD.read_text(encoding="utf-8"))
