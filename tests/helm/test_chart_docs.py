"""Every value is documented: a `# --` comment in values.yaml and a row in helm/README.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helm.chart import CHART, ROOT

VALUES = CHART / "values.yaml"
README = ROOT / "helm" / "README.md"

_KEY = re.compile(r"([A-Za-z0-9_]+):")


def documented_keys(text: str) -> dict[str, str]:
    """Dotted key paths that follow a `# --` comment, with the comment's text.

    Keys inside list items are part of the list's value and are not paths of their own.
    """
    documented: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    comment: list[str] | None = None
    list_owner: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            comment = None
        elif list_owner is not None and indent > list_owner:
            continue
        elif stripped.startswith("# --"):
            comment = [stripped[4:].strip()]
        elif stripped.startswith("#"):
            if comment is not None:
                comment.append(stripped[1:].strip())
        elif stripped.startswith("- "):
            list_owner = stack[-1][0] if stack else -1
        else:
            list_owner = None
            match = _KEY.match(stripped)
            if match is None:
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match.group(1)))
            if comment is not None:
                documented[".".join(key for _, key in stack)] = " ".join(comment)
                comment = None
    return documented


def leaves(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict) and node:
        found: list[str] = []
        for key, child in node.items():
            found += leaves(child, f"{path}.{key}" if path else str(key))
        return found
    return [path]


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
    readme = README.read_text(encoding="utf-8")
    missing = [key for key in _documented() if f"| `{key}` |" not in readme]
    assert missing == []


def test_readme_has_no_stale_rows() -> None:
    rows = re.findall(r"^\| `([A-Za-z0-9_.]+)` \|", README.read_text(encoding="utf-8"), re.M)
    assert rows
    assert sorted(set(rows) - set(_documented())) == []


def test_readme_install_section() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "## Install against an existing Kafka" in readme
    assert "helm install fedapay-bridge helm/fedapay-bridge" in readme
    assert "helm test fedapay-bridge" in readme


def test_dashboard_placeholder_exists() -> None:
    assert Path(CHART / "dashboards" / "fedapay-bridge.json").is_file()
