"""NOTES.txt tells where the webhook URLs and the query API are.

`helm template` does not print NOTES.txt and `helm install --dry-run` needs a cluster, so the
test renders a copy of the chart in which NOTES.txt is wrapped in a named template and emitted as
a ConfigMap value.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helm.chart import CHART, CI_VALUES, NAMESPACE, parse_manifests, run_helm, template_args

pytestmark = pytest.mark.helm

_WRAPPER = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-under-test
data:
  notes: {{ include "notes-under-test" . | toJson }}
"""


@pytest.fixture(scope="module")
def notes_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chart = tmp_path_factory.mktemp("chart") / "fedapay-bridge"
    shutil.copytree(CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text(encoding="utf-8")
    wrapped = '{{- define "notes-under-test" -}}\n' + notes + "\n{{- end }}\n"
    (chart / "templates" / "_notes-under-test.tpl").write_text(wrapped, encoding="utf-8")
    (chart / "templates" / "notes-under-test.yaml").write_text(_WRAPPER, encoding="utf-8")
    return chart


def _notes(helm: Path, chart: Path, values: tuple[Path, ...] = ()) -> str:
    args = template_args(
        values, chart=chart, extra=["--show-only", "templates/notes-under-test.yaml"]
    )
    (configmap,) = parse_manifests(run_helm(helm, args))
    notes: str = configmap["data"]["notes"]
    return notes


def test_notes_without_ingress_resource(helm: Path, notes_chart: Path) -> None:
    notes = _notes(helm, notes_chart)
    service = f"http://fb-fedapay-bridge-receiver.{NAMESPACE}.svc:8080"
    assert f"{service}/webhooks/live" in notes
    assert f"{service}/webhooks/sandbox" in notes
    assert f"kubectl -n {NAMESPACE} port-forward svc/fb-fedapay-bridge-receiver" in notes
    assert f"http://fb-fedapay-bridge-worker.{NAMESPACE}.svc:6066/" in notes
    assert "/transactions/<transaction id>" in notes
    assert f"helm test fb -n {NAMESPACE}" in notes
    assert 'WARNING: webhook endpoint "live" has no secret' in notes


def test_notes_with_public_tls_ingress(helm: Path, notes_chart: Path) -> None:
    notes = _notes(helm, notes_chart, (CI_VALUES / "production-values.yaml",))
    assert "https://webhooks.example.com/webhooks/live" in notes
    assert "https://webhooks.example.com/webhooks/sandbox" in notes
    assert "WARNING" not in notes
