"""Drift: every series and label value the dashboard and the alerting rules use is one the code
declares, and each alert the users expect is there and unit-tested."""

from __future__ import annotations

import re

import pytest

from ingress.errors import codes
from ingress.records import DLQ, KINDS
from tests.observability import catalog

EXPECTED_ALERTS = {
    "FedapayConsumerLagGrowing",
    "FedapayIngressProducerNotReady",
    "FedapayIngressServerErrors",
    "FedapayDeadLetters",
    "FedapayAnomalies",
    "FedapayWorkerNotReady",
}


@pytest.mark.parametrize(("where", "expr"), list(catalog.expressions()))
def test_every_series_used_is_declared(where: str, expr: str) -> None:
    used = catalog.series_in(expr)
    assert used, f"{where} uses no fedapay_ series: {expr}"
    assert used <= catalog.declared_series(), f"{where}: {sorted(used - catalog.declared_series())}"


def test_the_drift_check_sees_an_undeclared_series() -> None:
    expr = "sum(rate(fedapay_worker_recods_total[5m]))"
    assert not catalog.series_in(expr) <= catalog.declared_series()


def test_the_catalogue_holds_both_processes() -> None:
    declared = catalog.declared_series()
    assert "fedapay_ingress_requests_total" in declared
    assert "fedapay_ingress_publish_seconds_bucket" in declared
    assert "fedapay_worker_records_total" in declared
    assert "fedapay_worker_consumer_lag" in declared


def test_error_share_counts_every_non_2xx_outcome() -> None:
    """Accepted requests are counted under the record kinds (raw, dlq): the error-share panel
    excludes exactly those (it showed ~100 % errors while it excluded "accepted|dlq")."""
    (share,) = [q for q in catalog.panel_queries() if q.panel == "Error answers (non-2xx) share"]
    assert catalog.outcome_values(share.expr, "!~") == [set(KINDS)]


def test_server_error_alert_matches_the_5xx_codes() -> None:
    (rule,) = [r for r in catalog.rules() if r.get("alert") == "FedapayIngressServerErrors"]
    (matched,) = catalog.outcome_values(rule["expr"], "=~")
    assert matched == codes(500) | {catalog.AIOHTTP_5XX}


def test_dead_letter_alert_counts_the_ingress_dlq_outcome() -> None:
    (rule,) = [r for r in catalog.rules() if r.get("alert") == "FedapayDeadLetters"]
    assert catalog.outcome_values(rule["expr"], "=") == [{DLQ}]
    assert "fedapay_worker_dead_letters_total" in catalog.series_in(rule["expr"])


@pytest.mark.parametrize(("where", "expr"), list(catalog.expressions()))
def test_every_outcome_value_exists(where: str, expr: str) -> None:
    known = set(KINDS) | codes() | {catalog.AIOHTTP_5XX}
    for operator in ("!~", "=~", "!=", "="):
        used = catalog.flatten(catalog.outcome_values(expr, operator))
        assert used <= known, f"{where}: {sorted(used - known)}"


def test_the_expected_alerts_are_shipped_and_tested() -> None:
    assert set(catalog.alert_names()) == EXPECTED_ALERTS
    assert len(catalog.alert_names()) == len(EXPECTED_ALERTS)
    assert catalog.tested_alert_names() == EXPECTED_ALERTS


@pytest.mark.parametrize("rule", catalog.rules(), ids=lambda r: str(r.get("alert")))
def test_every_alert_has_a_severity_and_text(rule: dict[str, object]) -> None:
    assert rule["labels"] == {"severity": "warning"} or rule["labels"] == {"severity": "critical"}
    annotations = rule["annotations"]
    assert isinstance(annotations, dict)
    assert set(annotations) == {"summary", "description"}


def test_dashboard_variables_are_the_known_ones() -> None:
    for query in catalog.panel_queries():
        catalog.substitute(query.expr, namespace="ns", rate_interval="1m")
    with pytest.raises(ValueError, match="unknown dashboard variable"):
        catalog.substitute("x{pod=~'$pod'}", namespace="ns", rate_interval="1m")


def test_the_chart_readme_lists_every_alert() -> None:
    readme = (catalog.CHART / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(Fedapay[A-Za-z]+)` \| (warning|critical) \|", readme, re.M)
    severities = {rule["alert"]: rule["labels"]["severity"] for rule in catalog.rules()}
    assert dict(rows) == severities
