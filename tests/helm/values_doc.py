"""The chart README's values table, generated from the `# --` comments of values.yaml.

values.yaml is the one place a value's default and meaning are written; the table in
``helm/fedapay-bridge/README.md`` (between :data:`START` and :data:`END`) is derived from it:

    python -m tests.helm.values_doc          # rewrite the table
    python -m tests.helm.values_doc --check  # exit 1 when the README's table differs

``tests/helm/test_chart_docs.py`` fails when they disagree.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "fedapay-bridge"
VALUES = CHART / "values.yaml"
README = CHART / "README.md"

START = "<!-- values:start (written by `python -m tests.helm.values_doc`) -->"
END = "<!-- values:end -->"
HEADER = "| key | default | description |\n| --- | --- | --- |\n"
#: Default shown for structures passed through to Kubernetes as given.
SEE_VALUES = "see values.yaml"

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


def lookup(values: Any, dotted: str) -> Any:
    node = values
    for part in dotted.split("."):
        node = node[part]
    return node


def shown_default(value: Any) -> str:
    """A value as the table shows it: JSON for scalars, flat lists and string maps; structures
    passed through to Kubernetes are "see values.yaml"."""
    scalar = (str, int, float, bool, type(None))
    flat_list = isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    string_map = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if isinstance(value, scalar) or flat_list or string_map:
        return f"`{json.dumps(value)}`"
    return SEE_VALUES


def table(values_text: str) -> str:
    values = yaml.safe_load(values_text)
    rows = [
        f"| `{key}` | {shown_default(lookup(values, key))} | {text} |\n"
        for key, text in documented_keys(values_text).items()
    ]
    return HEADER + "".join(rows)


def readme_table(readme_text: str) -> str:
    """The README's text between the markers (without them)."""
    _, found, rest = readme_text.partition(START + "\n")
    if not found or END not in rest:
        raise ValueError(f"the README has no {START!r} ... {END!r} block")
    return rest.partition(END)[0]


def with_table(readme_text: str, new_table: str) -> str:
    head, _, rest = readme_text.partition(START + "\n")
    return head + START + "\n" + new_table + END + rest.partition(END)[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    args = parser.parse_args(argv)
    expected = table(VALUES.read_text(encoding="utf-8"))
    readme = README.read_text(encoding="utf-8")
    if readme_table(readme) == expected:
        return 0
    if args.check:
        sys.stderr.write(f"{README.name}: the values table differs from values.yaml\n")
        return 1
    README.write_text(with_table(readme, expected), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
