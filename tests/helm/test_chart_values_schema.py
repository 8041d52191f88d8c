"""values.schema.json rejects unknown keys and wrong types, and the templates' own checks fail
with a message that names the value to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import CHART, HelmError, run_helm, template_args

pytestmark = pytest.mark.helm


def _render_with(helm: Path, tmp_path: Path, values: str) -> str:
    path = tmp_path / "values.yaml"
    path.write_text(values, encoding="utf-8")
    return run_helm(helm, template_args([path]))


def _rejected(helm: Path, tmp_path: Path, values: str) -> str:
    with pytest.raises(HelmError) as caught:
        _render_with(helm, tmp_path, values)
    return str(caught.value)


def test_unknown_top_level_key_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "replicaCount: 3\n")
    assert "schema" in message
    assert "replicaCount" in message


@pytest.mark.parametrize(
    "values",
    ["ingress:\n  enabled: true\n", "ingress:\n  ingressResource:\n    enabled: true\n"],
)
def test_the_old_ingress_key_is_refused_with_its_new_place(
    helm: Path, tmp_path: Path, values: str
) -> None:
    """Chart 0.2.0 calls the webhook component ``receiver``: an old values file is told so,
    never silently ignored."""
    message = _rejected(helm, tmp_path, values)
    assert "/ingress" in message
    assert "renamed to `receiver`" in message
    assert "receiver.ingress" in message


def test_unknown_nested_key_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "kafka:\n  sasl:\n    pasword: hunter2\n")
    assert "/kafka/sasl" in message
    assert "pasword" in message


def test_unknown_key_in_a_list_item_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(
        helm, tmp_path, "webhooks:\n  endpoints:\n    - name: live\n      secret: x\n"
    )
    assert "/webhooks/endpoints/0" in message


def test_wrong_type_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "worker:\n  replicaCount: three\n")
    assert "/worker/replicaCount" in message
    assert "want integer" in message


def test_wrong_boolean_type_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, 'topics:\n  create: "yes"\n')
    assert "/topics/create" in message


def test_value_outside_its_choices_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "kafka:\n  securityProtocol: TLS\n")
    assert "/kafka/securityProtocol" in message


def test_bad_endpoint_name_is_rejected(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "webhooks:\n  endpoints:\n    - name: Live!\n")
    assert "/webhooks/endpoints/0/name" in message


def test_sasl_without_secret_fails_with_the_value_to_set(helm: Path, tmp_path: Path) -> None:
    message = _rejected(helm, tmp_path, "kafka:\n  securityProtocol: SASL_SSL\n")
    assert "kafka.sasl.existingSecret is required" in message


def test_sasl_without_username_fails(helm: Path, tmp_path: Path) -> None:
    values = "kafka:\n  securityProtocol: SASL_SSL\n  sasl:\n    existingSecret: kafka-user\n"
    assert "kafka.sasl.username" in _rejected(helm, tmp_path, values)


def test_duplicate_endpoint_names_fail(helm: Path, tmp_path: Path) -> None:
    values = "webhooks:\n  endpoints:\n    - name: live\n    - name: live\n"
    assert 'the name "live" appears twice' in _rejected(helm, tmp_path, values)


def test_test_endpoint_must_be_configured(helm: Path, tmp_path: Path) -> None:
    assert "tests.endpoint" in _rejected(helm, tmp_path, "tests:\n  endpoint: nope\n")


Schema = dict[str, Any]


def _object_levels(node: Schema, path: str = "") -> list[tuple[str, Schema]]:
    """Every object schema with declared properties (the levels the chart owns)."""
    found: list[tuple[str, Schema]] = []
    properties = node.get("properties")
    if isinstance(properties, dict):
        found.append((path or "/", node))
        for key, child in properties.items():
            found += _object_levels(child, f"{path}/{key}")
    items = node.get("items")
    if isinstance(items, dict):
        found += _object_levels(items, f"{path}/*")
    return found


def _schema() -> Schema:
    schema: Schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    return schema


def test_schema_closes_every_level_the_chart_owns() -> None:
    levels = _object_levels(_schema())
    assert len(levels) > 20
    open_levels = [path for path, node in levels if node.get("additionalProperties") is not False]
    assert open_levels == []


def test_schema_describes_every_value() -> None:
    undocumented = [
        f"{path}/{key}"
        for path, node in _object_levels(_schema())
        for key, child in node["properties"].items()
        if "description" not in child
    ]
    assert undocumented == []
