"""What the dashboard and the alerting rules may speak of, derived from where it is declared.

* the series names Prometheus stores, from the metric families of :mod:`ingress.prom` and
  :mod:`streams.prom` (a counter ``x`` is stored as ``x_total``, a histogram as ``x_bucket``, ...);
* the ``outcome`` label values of ``fedapay_ingress_requests_total``: the record kinds of an
  accepted request (:data:`ingress.records.KINDS`) and the codes of the ingress's error tree;
* the PromQL expressions of the shipped dashboard and rules, and the dashboard's variables
  substituted as Grafana would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from ingress.prom import IngressMetrics
from streams.processor import ProcessorStats
from streams.prom import WorkerProbe, registry_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "fedapay-bridge"
DASHBOARD = CHART / "dashboards" / "fedapay-bridge.json"
RULES = CHART / "rules" / "fedapay-bridge.yaml"
RULES_TEST = Path(__file__).resolve().parent / "rules_test.yaml"

#: The series each metric type is stored as (prometheus_client's exposition).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}
#: A series name of this project in a PromQL expression.
_SERIES = re.compile(r"\bfedapay_[a-z0-9_]+\b")
#: An error code aiohttp's own HTTP errors are counted under (ingress.middleware).
AIOHTTP_5XX = "http_5.."


def _series(registry: CollectorRegistry) -> set[str]:
    return {
        family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]
    }


def ingress_series() -> set[str]:
    return _series(IngressMetrics.create().registry)


def worker_series() -> set[str]:
    probe = WorkerProbe(ProcessorStats(), dict, dict, lambda: True)
    return _series(registry_for(probe))


def declared_series() -> set[str]:
    return ingress_series() | worker_series()


def series_in(expression: str) -> set[str]:
    return set(_SERIES.findall(expression))


# ---------------------------------------------------------------------------------- dashboard


@dataclass(frozen=True)
class PanelQuery:
    panel: str
    ref: str
    expr: str


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(panel["title"], target.get("refId", ""), target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def variable_queries() -> list[str]:
    """The PromQL of the dashboard's query variables (``label_values(<series>, <label>)``)."""
    return [
        variable["query"]["query"]
        for variable in dashboard()["templating"]["list"]
        if variable["type"] == "query"
    ]


def substitute(expr: str, *, namespace: str, rate_interval: str) -> str:
    """``expr`` with the dashboard's variables replaced as Grafana would; fails on any other."""
    done = expr.replace("$namespace", namespace).replace("$__rate_interval", rate_interval)
    if "$" in done:
        raise ValueError(f"an unknown dashboard variable is left in {done!r}")
    return done


# -------------------------------------------------------------------------------------- rules


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in rules() if "alert" in rule]


def tested_alert_names() -> set[str]:
    document = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))
    return {
        case["alertname"] for test in document["tests"] for case in test.get("alert_rule_test", [])
    }


def expressions() -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every dashboard query, dashboard variable and rule."""
    for query in panel_queries():
        yield f"panel {query.panel!r} {query.ref}", query.expr
    for variable in variable_queries():
        yield "variable", variable
    for rule in rules():
        yield f"rule {rule.get('alert', rule.get('record'))}", rule["expr"]


def outcome_values(expr: str, operator: str) -> list[set[str]]:
    """The alternatives of every ``outcome<operator>"a|b"`` matcher in ``expr``."""
    pattern = re.compile(r"outcome" + re.escape(operator) + r'"([^"]*)"')
    return [set(found.split("|")) for found in pattern.findall(expr)]


def flatten(groups: Iterable[set[str]]) -> set[str]:
    return {value for group in groups for value in group}
