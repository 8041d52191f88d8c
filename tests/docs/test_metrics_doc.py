"""QUERY_API.md's metric tables are the ones the counter declarations make
(:mod:`tests.docs.metrics_doc`)."""

from __future__ import annotations

import pytest

from tests.docs import metrics_doc


def test_query_api_tables_are_current() -> None:
    """Run `python -m tests.docs.metrics_doc` after changing a counter or a reading."""
    assert not metrics_doc.is_stale()


def test_check_fails_on_a_stale_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics_doc, "is_stale", lambda: True)
    assert metrics_doc.main(["--check"]) == 1


def test_every_counter_and_field_has_a_row() -> None:
    text = metrics_doc.QUERY_API.read_text(encoding="utf-8")
    for name in metrics_doc.TABLES:
        assert metrics_doc.TABLES[name]() in text
