"""The settings' generated documentation is current (:mod:`tests.docs.settings_doc`): the
README's tables, the chart's values comments and schema entries, the chart README's table."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import yaml

from common.config import PREFIX
from common.settings import SETTING
from ingress.settings import IngressSettings
from reconcile.retry import RetryPolicy
from reconcile.settings import ReconcileSettings, ToolSettings
from streams.settings import WorkerSettings
from tests.docs import settings_doc
from tests.helm import values_doc


def test_generated_files_are_current() -> None:
    """Run `python -m tests.docs.settings_doc` after changing a setting's declaration."""
    assert [str(path) for path in settings_doc.stale_files()] == []


def test_check_fails_on_a_stale_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_doc, "stale_files", lambda: [settings_doc.README])
    assert settings_doc.main(["--check"]) == 1


@pytest.mark.parametrize(
    "cls", [IngressSettings, WorkerSettings, ReconcileSettings, ToolSettings, RetryPolicy]
)
def test_every_declared_setting_is_in_a_readme_table(cls: type) -> None:
    tables = "".join(settings_doc.table(name) for name in settings_doc.TABLES)
    declared = [
        item.metadata[SETTING] for item in dataclasses.fields(cls) if SETTING in item.metadata
    ]
    assert declared
    assert [spec.name for spec in declared if f"| `{spec.name}`" not in tables] == []


def _lookup(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        document = document[part]
    return document


def test_every_charted_setting_names_its_variable_in_values_yaml() -> None:
    text = values_doc.VALUES.read_text(encoding="utf-8")
    documented = values_doc.documented_keys(text)
    values = yaml.safe_load(text)
    for spec in settings_doc.charted():
        assert spec.chart is not None
        _lookup(values, spec.chart.path)  # the value exists
        assert f"`{PREFIX}{spec.name}`" in documented[spec.chart.path]


@pytest.mark.parametrize(
    ("text", "indent", "expected"),
    [
        ("short", 2, ["  # -- short"]),
        ("a " * 60, 0, ["# -- " + "a " * 47 + "a", "# " + "a " * 11 + "a"]),
    ],
)
def test_comment_wraps_at_the_width(text: str, indent: int, expected: list[str]) -> None:
    lines = settings_doc.comment(text.strip(), indent)
    assert lines == [line.rstrip() for line in expected]
    assert all(len(line) <= settings_doc.WIDTH for line in lines)


def test_values_text_replaces_only_the_comment_of_a_charted_value() -> None:
    text = values_doc.VALUES.read_text(encoding="utf-8")
    replaced = settings_doc.values_text(text.replace("# -- Make a PodDisruptionBudget", "# -- X"))
    assert "# -- X" in replaced
