"""Every value is documented: a `# --` comment in values.yaml, and the chart README's values table
is the one generated from those comments (:mod:`tests.helm.values_doc`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.helm.chart import CHART, find_helm, run_helm
from tests.helm.values_doc import (
    README,
    SEE_VALUES,
    VALUES,
    documented_keys,
    leaves,
    readme_table,
    shown_default,
    table,
    with_table,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("# -- a\nx: 1\n", {"x": "a"}),
        ("x:\n  # -- b\n  # more\n  y: 2\nz: 3\n", {"x.y": "b more"}),
        (
            "# -- c\nl:\n  - name: a\n    # -- not a key\n    v: 1\n# -- d\nm: 2\n",
            {"l": "c", "m": "d"},
        ),
        ("# -- c\nl:\n  - name: a\n    # -- inner\n    v: 1\nm: 2\n", {"l": "c"}),
        ("# -- gone\n\nx: 1\n", {}),
    ],
)
def test_documented_keys_parser(text: str, expected: dict[str, str]) -> None:
    assert documented_keys(text) == expected


def _documented() -> dict[str, str]:
    return documented_keys(VALUES.read_text(encoding="utf-8"))


def test_every_value_has_a_comment() -> None:
    documented = _documented()
    values = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    undocumented = []
    for leaf in leaves(values):
        parts = leaf.split(".")
        prefixes = {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
        if not prefixes & set(documented):
            undocumented.append(leaf)
    assert undocumented == []


def test_every_documented_value_is_in_the_readme() -> None:
    values_table = readme_table(README.read_text(encoding="utf-8"))
    missing = [key for key in _documented() if f"| `{key}` |" not in values_table]
    assert missing == []


def test_readme_has_no_stale_rows() -> None:
    values_table = readme_table(README.read_text(encoding="utf-8"))
    rows = re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", values_table, re.M)
    assert rows
    assert sorted(set(rows) - set(_documented())) == []


def test_readme_install_section() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "## Install against an existing Kafka" in readme
    assert "helm install fedapay-bridge helm/fedapay-bridge" in readme
    assert "helm test fedapay-bridge" in readme


def test_dashboard_placeholder_exists() -> None:
    assert Path(CHART / "dashboards" / "fedapay-bridge.json").is_file()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("", '`""`'),
        (3, "`3`"),
        (2.8, "`2.8`"),
        (False, "`false`"),
        (None, "`null`"),
        ({}, "`{}`"),
        ([], "`[]`"),
        (["ReadWriteOnce"], '`["ReadWriteOnce"]`'),
        ({"grafana_dashboard": "1"}, '`{"grafana_dashboard": "1"}`'),
        ({"periodSeconds": 5}, SEE_VALUES),
        ([{"name": "live"}], SEE_VALUES),
    ],
)
def test_shown_default(value: object, shown: str) -> None:
    assert shown_default(value) == shown


def test_table_rows_follow_the_comments() -> None:
    text = "# -- the size\nsize: 10Gi\nprobe:\n  # -- a probe\n  # on two lines\n  x:\n    a: 1\n"
    assert table(text).splitlines()[2:] == [
        '| `size` | `"10Gi"` | the size |',
        f"| `probe.x` | {SEE_VALUES} | a probe on two lines |",
    ]


def test_readme_table_is_the_generated_one() -> None:
    """Run `python -m tests.helm.values_doc` after changing values.yaml's comments or defaults."""
    readme = README.read_text(encoding="utf-8")
    assert readme_table(readme) == table(VALUES.read_text(encoding="utf-8"))


def test_with_table_replaces_only_the_block() -> None:
    readme = README.read_text(encoding="utf-8")
    replaced = with_table(readme, "| new |\n")
    assert readme_table(replaced) == "| new |\n"
    assert replaced.split("| new |")[0] == readme.split(readme_table(readme))[0]


@pytest.mark.helm
def test_helm_show_readme_prints_the_chart_readme() -> None:
    helm = find_helm()
    assert helm is not None, "run scripts/helm.sh"
    shown = run_helm(helm, ["show", "readme", str(CHART)])
    assert shown.rstrip("\n") == README.read_text(encoding="utf-8").rstrip("\n")
