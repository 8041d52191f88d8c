"""Every rendered manifest is valid against the Kubernetes API schemas, offline and strict.

kubernetes-validate ships the JSON schemas of each Kubernetes release; strict mode rejects unknown
fields, so a misspelt or misplaced field fails here instead of being dropped by the API server.
"""

from __future__ import annotations

import pytest
from kubernetes_validate import validate
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

from tests.helm.chart import KUBE_VERSION, Manifest
from tests.helm.conftest import VALUE_SETS, Renderer

pytestmark = pytest.mark.helm

#: Custom resources the Kubernetes schemas do not describe.
CUSTOM_KINDS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}

#: Extra switches so that every template of the chart is rendered at least once.
EVERYTHING_ON = (
    "metrics.serviceMonitor.enabled=true",
    "metrics.prometheusRule.enabled=true",
    "networkPolicy.enabled=true",
    "networkPolicy.egress.enabled=true",
    "receiver.ingress.enabled=true",
    "reconcile.enabled=true",
    "reconcile.endpoints[0].name=live",
    "reconcile.endpoints[0].apiBase=https://api.fedapay.com",
    "reconcile.endpoints[0].apiKey=sk_live_stand_in",
)


def _problems(manifests: tuple[Manifest, ...]) -> list[str]:
    problems = []
    for manifest in manifests:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        try:
            validate(manifest, KUBE_VERSION, strict=True)
        except ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            problems.append(f"{name}: {path}: {exc.message}")
        except SchemaNotFoundError:
            if (manifest["apiVersion"], manifest["kind"]) not in CUSTOM_KINDS:
                problems.append(f"{name}: no schema for {manifest['apiVersion']}")
    return problems


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_manifests_match_kubernetes_schemas(renderer: Renderer, value_set: str) -> None:
    rendered = renderer.value_set(value_set)
    assert rendered.manifests
    assert _problems(rendered.manifests) == []


def test_every_template_matches_kubernetes_schemas(renderer: Renderer) -> None:
    rendered = renderer.value_set("default", EVERYTHING_ON)
    assert {"NetworkPolicy", "Ingress", "ServiceMonitor", "PrometheusRule"} <= set(rendered.kinds())
    assert _problems(rendered.manifests) == []


def test_validation_catches_an_unknown_field() -> None:
    bad = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x"},
        "spec": {"ports": [{"port": 80, "targetPorts": "http"}]},
    }
    assert _problems((bad,)) != []
