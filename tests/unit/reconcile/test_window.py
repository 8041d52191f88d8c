"""The window of a pass and the checkpoint: table-tested."""

from __future__ import annotations

import pytest

from reconcile.window import Checkpoint, Window, WindowError, advanced, parse_time, window

NOW = 1_800_000_000_000
MIN = 60_000


@pytest.mark.parametrize(
    ("checkpoint", "since", "until", "expected"),
    [
        pytest.param(None, None, None, Window(NOW - 1440 * MIN, NOW), id="first-pass-lookback"),
        pytest.param(
            Checkpoint("live", NOW - 60 * MIN),
            None,
            None,
            Window(NOW - 75 * MIN, NOW),
            id="checkpoint-minus-overlap",
        ),
        pytest.param(
            Checkpoint("live", NOW - 60 * MIN),
            NOW - 5 * MIN,
            None,
            Window(NOW - 5 * MIN, NOW),
            id="since-wins",
        ),
        pytest.param(None, None, NOW - MIN, Window(NOW - 1440 * MIN, NOW - MIN), id="until"),
    ],
)
def test_window(
    checkpoint: Checkpoint | None, since: int | None, until: int | None, expected: Window
) -> None:
    found = window(
        now_ms=NOW,
        checkpoint=checkpoint,
        since_ms=since,
        until_ms=until,
        overlap_ms=15 * MIN,
        lookback_ms=1440 * MIN,
    )
    assert found == expected


def test_since_after_until_is_refused() -> None:
    with pytest.raises(WindowError, match="is after until"):
        window(
            now_ms=NOW, checkpoint=None, since_ms=NOW, until_ms=NOW - 1, overlap_ms=0, lookback_ms=1
        )


@pytest.mark.parametrize(
    ("created_at", "inside"),
    [
        ("2027-01-15T08:00:00.000Z", True),
        ("2027-01-15T07:59:59.999Z", False),
        ("2027-01-15T09:00:00.000Z", True),
        ("2027-01-15T09:00:00.001Z", False),
        ("", True),
        ("yesterday", True),
    ],
)
def test_holds(created_at: str, inside: bool) -> None:
    span = Window(parse_time("2027-01-15T08:00:00Z"), parse_time("2027-01-15T09:00:00Z"))
    assert span.holds(created_at) is inside


@pytest.mark.parametrize(
    ("current", "done", "expected"),
    [
        pytest.param(None, Window(0, 100), 100, id="first"),
        pytest.param(Checkpoint("live", 50), Window(40, 100), 100, id="overlapping"),
        pytest.param(Checkpoint("live", 50), Window(50, 100), 100, id="adjacent"),
        pytest.param(Checkpoint("live", 200), Window(0, 100), 200, id="older-window"),
        pytest.param(Checkpoint("live", 50), Window(60, 100), 50, id="gap-not-jumped"),
        pytest.param(None, Window(60, 100), 100, id="first-with-since"),
    ],
)
def test_checkpoint_moves_forward_only_without_gaps(
    current: Checkpoint | None, done: Window, expected: int
) -> None:
    assert advanced(current, "live", done) == Checkpoint("live", expected)


@pytest.mark.parametrize(
    "value", [b"", b"[]", b'{"endpoint": 1, "until_ms": 2}', b'{"endpoint": "x", "until_ms": true}']
)
def test_unreadable_checkpoint_is_none(value: bytes) -> None:
    assert Checkpoint.from_json(value) is None


def test_checkpoint_round_trip() -> None:
    point = Checkpoint("sandbox", NOW)
    assert Checkpoint.from_json(point.to_json()) == point


def test_parse_time_refuses_garbage() -> None:
    with pytest.raises(WindowError, match="not an ISO 8601 time"):
        parse_time("last tuesday")
