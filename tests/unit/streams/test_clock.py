"""streams.clock: ISO 8601 spellings and epoch milliseconds, both ways."""

from __future__ import annotations

import pytest

from streams.clock import iso_ms, parse_ms


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (1_708_343_290_408, "2024-02-19T11:48:10.408Z"),
        (1_708_343_290_000, "2024-02-19T11:48:10.000Z"),
        (1_708_343_290_999, "2024-02-19T11:48:10.999Z"),
        (1_708_343_291_000, "2024-02-19T11:48:11.000Z"),
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
)
def test_iso_ms(epoch_ms: int, text: str) -> None:
    assert iso_ms(epoch_ms) == text
    assert parse_ms(text) == epoch_ms


@pytest.mark.parametrize(
    ("text", "epoch_ms"),
    [
        ("2024-02-19T11:48:10.408+00:00", 1_708_343_290_408),
        ("2024-02-19T12:48:10.408+01:00", 1_708_343_290_408),
        ("2024-02-19T11:48:10.408", 1_708_343_290_408),  # no zone: UTC
        ("2024-02-19T11:48:10", 1_708_343_290_000),
        ("", None),
        ("yesterday", None),
        (None, None),
        (1_708_343_290_408, None),
    ],
)
def test_parse_ms(text: object, epoch_ms: int | None) -> None:
    assert parse_ms(text) == epoch_ms
