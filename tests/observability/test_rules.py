"""The chart's alerting rules pass ``promtool check rules`` and their unit tests
(``promtool test rules tests/observability/rules_test.yaml``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.observability.catalog import RULES, RULES_TEST
from tests.observability.prometheus import tool

pytestmark = pytest.mark.prometheus


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("promtool")), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_rules_are_valid() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 6 rules found" in result.stdout


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", str(RULES_TEST))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_wrong_expectation_fails(tmp_path: Path) -> None:
    """The unit tests can fail: the same file expecting the producer alert one minute early."""
    document = yaml.safe_load(RULES_TEST.read_text(encoding="utf-8"))
    document["rule_files"] = [str(RULES)]
    (case,) = [t for t in document["tests"] if t["name"] == "producer not ready"]
    case["alert_rule_test"][0]["exp_alerts"] = case["alert_rule_test"][1]["exp_alerts"]
    wrong = tmp_path / "wrong_test.yaml"
    wrong.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = promtool("test", "rules", str(wrong))
    assert result.returncode != 0
    assert "FedapayIngressProducerNotReady" in result.stdout + result.stderr
