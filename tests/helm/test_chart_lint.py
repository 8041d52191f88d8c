"""``helm lint --strict`` with the default values and with every values file of the chart's ci/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helm.chart import CHART, KUBE_VERSION, run_helm
from tests.helm.conftest import VALUE_SETS

pytestmark = pytest.mark.helm


def test_ci_values_files_exist() -> None:
    assert {"minimal-values", "production-values", "existing-secret-values"} <= set(VALUE_SETS)


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_lint_is_clean(helm: Path, value_set: str) -> None:
    args = ["lint", "--strict", str(CHART), "--kube-version", KUBE_VERSION]
    for path in VALUE_SETS[value_set]:
        args += ["--values", str(path)]
    output = run_helm(helm, args)
    assert "1 chart(s) linted, 0 chart(s) failed" in output
    assert "[WARNING]" not in output
    assert "[ERROR]" not in output
