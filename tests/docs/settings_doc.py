"""The settings' documentation, generated from their declarations (:mod:`common.settings`).

Each setting is declared once, on its settings class. From those declarations this writes:

* the README's configuration tables (between ``<!-- settings:<table>:start ... -->`` and
  ``<!-- settings:<table>:end -->``);
* the ``# --`` comment of every chart value that sets a variable (values.yaml), and that value's
  entry in values.schema.json (type, bounds, description);
* the chart README's values table, which is generated from those comments
  (:mod:`tests.helm.values_doc`).

    python -m tests.docs.settings_doc          # rewrite what is stale
    python -m tests.docs.settings_doc --check  # exit 1 when a generated copy is stale

``tests/docs/test_settings_doc.py`` fails when one is.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from common.config import PREFIX
from common.kafka import TOPIC_PREFIX, KafkaSettings
from common.settings import GROUP, SETTING, Setting
from ingress.settings import WEBHOOK_SECRETS, WEBHOOKS, IngressSettings
from reconcile.settings import API_BASE, API_KEY, ReconcileSettings
from streams.settings import WorkerSettings
from tests.helm import values_doc

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SCHEMA = values_doc.CHART / "values.schema.json"
WIDTH = 100
COMMAND = "python -m tests.docs.settings_doc"
HEADER = "| variable | default | accepted | meaning |\n|---|---|---|---|\n"


def settings_of(cls: type, *, skip: tuple[type, ...] = (KafkaSettings,)) -> list[Setting[Any]]:
    """The settings ``cls`` reads, in field order, with those of its nested groups (except the
    ``skip`` ones, which have a table of their own) and without the shared topic prefix."""
    found: list[Setting[Any]] = []
    for item in dataclasses.fields(cls):
        spec = item.metadata.get(SETTING)
        nested: Any = item.default_factory if GROUP in item.metadata else None
        if spec is not None and spec is not TOPIC_PREFIX:
            found.append(spec)
        elif isinstance(nested, type) and dataclasses.is_dataclass(nested) and nested not in skip:
            found += settings_of(nested, skip=skip)
    return found


#: The README's tables: name -> the settings listed, in order.
TABLES: dict[str, Callable[[], list[Setting[Any]]]] = {
    "kafka": lambda: [*settings_of(KafkaSettings, skip=()), TOPIC_PREFIX],
    "ingress": lambda: [WEBHOOKS, WEBHOOK_SECRETS, *settings_of(IngressSettings)],
    "worker": lambda: settings_of(WorkerSettings),
    "reconcile": lambda: [API_BASE, API_KEY, *settings_of(ReconcileSettings)],
}


def every_setting() -> Iterator[Setting[Any]]:
    """Each declared setting once (several classes share some)."""
    seen: set[int] = set()
    for table in TABLES.values():
        for spec in table():
            if id(spec) not in seen:
                seen.add(id(spec))
                yield spec


# ------------------------------------------------------------------ README tables


def variable(spec: Setting[Any]) -> str:
    shown = f"`{spec.name}`"
    return f"{shown} / `_FILE`" if spec.kind.secret else shown


def row(spec: Setting[Any]) -> str:
    cells = (variable(spec), spec.shown_default, spec.kind.bounds(), spec.doc)
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |\n"


def table(name: str) -> str:
    return HEADER + "".join(row(spec) for spec in TABLES[name]())


def markers(name: str) -> tuple[str, str]:
    return (
        f"<!-- settings:{name}:start (written by `{COMMAND}`) -->",
        f"<!-- settings:{name}:end -->",
    )


def readme_text(text: str) -> str:
    """``text`` (the README) with every settings table as generated."""
    for name in TABLES:
        start, end = markers(name)
        head, found, rest = text.partition(start + "\n")
        if not found or end not in rest:
            raise ValueError(f"the README has no {start!r} ... {end!r} block")
        text = head + start + "\n" + table(name) + end + rest.partition(end)[2]
    return text


# ------------------------------------------------------------------ the chart


def chart_text(spec: Setting[Any]) -> str:
    """What the chart says of a value that sets ``spec``: its meaning, bounds and variable."""
    assert spec.chart is not None
    in_words = spec.kind.schema().get("type") not in ("array", "boolean")
    bounds = spec.kind.bounds() if in_words else ""
    text = spec.doc[0].upper() + spec.doc[1:] + (f" ({bounds})" if bounds else "") + "."
    if spec.chart.note:
        text += f" {spec.chart.note}"
    return f"{text} Sets `{PREFIX}{spec.name}`."


def charted() -> list[Setting[Any]]:
    return [spec for spec in every_setting() if spec.chart is not None]


def comment(text: str, indent: int) -> list[str]:
    """``text`` as a values.yaml ``# --`` comment at ``indent``, wrapped at :data:`WIDTH`."""
    pad = " " * indent
    lines = textwrap.wrap(text, WIDTH - indent - 5, break_long_words=False, break_on_hyphens=False)
    return [f"{pad}# {'-- ' if i == 0 else ''}{line}" for i, line in enumerate(lines)]


_KEY = re.compile(r"([A-Za-z0-9_]+):")


def _key_lines(lines: Sequence[str]) -> dict[str, int]:
    """Dotted path -> index of its line, for the mapping keys of values.yaml."""
    found: dict[str, int] = {}
    stack: list[tuple[int, str]] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        match = _KEY.match(stripped)
        if not stripped or stripped.startswith(("#", "- ")) or match is None:
            continue
        indent = len(line) - len(line.lstrip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(1)))
        found.setdefault(".".join(key for _, key in stack), index)
    return found


def values_text(text: str) -> str:
    """values.yaml with the ``# --`` comment of every value that sets a variable generated."""
    lines = text.splitlines()
    targets = {spec.chart.path: spec for spec in charted() if spec.chart is not None}
    keys = _key_lines(lines)
    for path in sorted(targets, key=lambda p: keys[p], reverse=True):
        at = keys[path]
        start = at
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
            if lines[start].lstrip().startswith("# --"):
                break
        indent = len(lines[at]) - len(lines[at].lstrip())
        lines[start:at] = comment(chart_text(targets[path]), indent)
    return "\n".join(lines) + "\n"


def schema_entry(spec: Setting[Any]) -> dict[str, Any]:
    assert spec.chart is not None
    description = chart_text(spec).replace("`", "")
    return {**spec.kind.schema(), "description": description, **spec.chart.schema}


def schema_text(text: str) -> str:
    """values.schema.json with the entry of every value that sets a variable generated."""
    schema = json.loads(text)
    for spec in charted():
        assert spec.chart is not None
        *parents, key = spec.chart.path.split(".")
        node = schema
        for part in parents:
            node = node["properties"][part]
        node["properties"][key] = schema_entry(spec)
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def chart_readme_text(readme: str, values: str) -> str:
    return values_doc.with_table(readme, values_doc.table(values))


# ------------------------------------------------------------------ files


def generated() -> dict[Path, str]:
    """Each generated file's path -> its text as the declarations make it."""
    values = values_text(values_doc.VALUES.read_text(encoding="utf-8"))
    return {
        README: readme_text(README.read_text(encoding="utf-8")),
        values_doc.VALUES: values,
        SCHEMA: schema_text(SCHEMA.read_text(encoding="utf-8")),
        values_doc.README: chart_readme_text(values_doc.README.read_text(encoding="utf-8"), values),
    }


def stale_files() -> list[Path]:
    return [path for path, text in generated().items() if path.read_text(encoding="utf-8") != text]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            sys.stderr.write(f"out of date: {path.relative_to(ROOT)} (run: {COMMAND})\n")
        return 1 if stale else 0
    for path, text in generated().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
