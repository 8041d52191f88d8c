"""Every chart value a setting's declaration names (``Chart(path)``) sets that setting's variable.

The chart's values documentation and schema are generated from the declarations
(:mod:`tests.docs.settings_doc`); this checks the other half: setting the value to something
other than its default changes exactly that variable in the rendered pod, as the process reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from common.config import PREFIX
from common.settings import Choice, Flag, Integer, Real, Setting
from tests.docs.settings_doc import charted
from tests.helm import values_doc
from tests.helm.chart import containers
from tests.helm.conftest import Renderer
from tests.helm.test_chart_settings import container_environ

pytestmark = pytest.mark.helm

RECONCILE = (
    "reconcile.enabled=true",
    "reconcile.endpoints[0].name=live",
    "reconcile.endpoints[0].apiBase=https://api.fedapay.com",
    "reconcile.endpoints[0].apiKey=sk_live_chart_test",
)
#: Values a value needs beside it to be rendered at all.
NEEDS: dict[str, tuple[str, ...]] = {
    "kafka.sasl.plainWithoutTls": (
        "kafka.securityProtocol=SASL_PLAINTEXT",
        "kafka.sasl.mechanism=PLAIN",
        "kafka.sasl.existingSecret=kafka-sasl",
        "kafka.sasl.username=bridge",
    ),
    "worker.settings.store": ("worker.persistence.enabled=false",),
}
#: The workload (kind, component) whose container shows a value's variable, by value prefix.
WORKLOADS = {
    "worker.": ("StatefulSet", "worker"),
    "topics.": ("StatefulSet", "worker"),
    "reconcile.": ("CronJob", "reconcile"),
}


def _default(path: str) -> Any:
    return values_doc.lookup(yaml.safe_load(values_doc.VALUES.read_text(encoding="utf-8")), path)


def sample(spec: Setting[Any]) -> tuple[str, str]:
    """A value other than the chart's default, as ``--set`` takes it, and its variable's text."""
    assert spec.chart is not None
    kind, default = spec.kind, _default(spec.chart.path)
    if isinstance(kind, Flag):
        return str(not default).lower(), str(not default).lower()
    if isinstance(kind, Integer):
        number = str(4242 + max(kind.minimum or 0, 0))  # within the bounds, not the default
        return number, number
    if isinstance(kind, Real):
        return "8", "8"  # --set reads a fraction as a string
    if isinstance(kind, Choice):
        other = next(choice for choice in kind.choices if choice != default)
        return other, other
    if kind.schema()["type"] == "array":
        item = "10.0.0.0/8" if "pattern" in str(spec.chart.schema) else "approved"
        return f"{{{item}}}", item
    text = "/x-test" if spec.chart.schema.get("pattern") == "^/" else "x-test"
    return text, text


@pytest.mark.parametrize("spec", charted(), ids=lambda spec: spec.name)
def test_the_chart_value_sets_the_variable(
    renderer: Renderer, tmp_path: Path, spec: Setting[Any]
) -> None:
    assert spec.chart is not None
    path = spec.chart.path
    given, expected = sample(spec)
    kind, component = next(
        (workload for prefix, workload in WORKLOADS.items() if path.startswith(prefix)),
        ("Deployment", "receiver"),
    )
    sets = [*RECONCILE, *NEEDS.get(path, ()), f"{path}={given}"]
    rendered = renderer.value_set("default", sets)
    (container,) = containers(rendered.one(kind, component))
    environ = container_environ(rendered, container, tmp_path)
    assert environ[f"{PREFIX}{spec.name}"] == expected
