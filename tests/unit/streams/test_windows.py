"""Window arithmetic, resolutions and retention (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.config import Env
from common.errors import ConfigError
from streams.settings import WorkerSettings
from streams.windows import Resolution, duration_ms, parse_resolutions

MINUTE = Resolution("1m", 60_000, 24 * 3_600_000)
HOUR = Resolution("1h", 3_600_000, 30 * 86_400_000)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("resolution", "at", "start"),
    [
        (MINUTE, "2026-11-28T12:00:59.999", "2026-11-28T12:00:00"),
        (MINUTE, "2026-11-28T12:01:00.000", "2026-11-28T12:01:00"),
        (MINUTE, "2026-11-28T12:00:00.000", "2026-11-28T12:00:00"),
        (HOUR, "2026-11-28T12:59:59.999", "2026-11-28T12:00:00"),
        (HOUR, "2026-11-28T13:00:00.000", "2026-11-28T13:00:00"),
        (HOUR, "2026-12-31T23:59:59.999", "2026-12-31T23:00:00"),
        (HOUR, "2027-01-01T00:00:00.000", "2027-01-01T00:00:00"),
    ],
)
def test_window_start(resolution: Resolution, at: str, start: str) -> None:
    assert resolution.start(ms(at)) == ms(start)


def test_the_last_millisecond_and_the_next_are_in_different_minutes() -> None:
    before, after = ms("2026-11-28T12:00:59.999"), ms("2026-11-28T12:01:00.000")

    assert MINUTE.start(before) != MINUTE.start(after)
    assert MINUTE.end(MINUTE.start(before)) == after == MINUTE.start(after)
    assert HOUR.start(before) == HOUR.start(after)


@pytest.mark.parametrize(
    ("start_offset_ms", "now_offset_ms", "expired"),
    [
        (0, 60_000 + 24 * 3_600_000 - 1, False),  # one ms before end + retention
        (0, 60_000 + 24 * 3_600_000, True),  # exactly end + retention
        (0, 0, False),
        (0, 10 * 86_400_000, True),
    ],
)
def test_minute_retention(start_offset_ms: int, now_offset_ms: int, expired: bool) -> None:
    base = ms("2026-11-28T12:00:00")
    assert MINUTE.expired(base + start_offset_ms, base + now_offset_ms) is expired


def test_hour_windows_outlive_minute_windows() -> None:
    base = ms("2026-11-28T12:00:00")
    now = base + 2 * 86_400_000

    assert MINUTE.expired(base, now)
    assert not HOUR.expired(base, now)


@pytest.mark.parametrize(
    ("from_at", "to_at", "starts"),
    [
        ("12:00:30", "12:02:00", ["12:00:00", "12:01:00"]),
        ("12:00:00", "12:00:00.001", ["12:00:00"]),
        ("12:00:59.999", "12:01:00.001", ["12:00:00", "12:01:00"]),
        ("12:01:00", "12:01:00", []),
    ],
)
def test_starts_and_count(from_at: str, to_at: str, starts: list[str]) -> None:
    day = "2026-11-28T"
    found = list(MINUTE.starts(ms(day + from_at), ms(day + to_at)))

    assert found == [ms(day + s) for s in starts]
    assert MINUTE.count(ms(day + from_at), ms(day + to_at)) == len(starts)


@pytest.mark.parametrize(
    ("text", "value"),
    [("90s", 90_000), ("1m", 60_000), ("24h", 86_400_000), ("30d", 2_592_000_000), ("0m", None),
     ("m", None), ("1w", None), ("-1m", None), ("1.5h", None)],
)  # fmt: skip
def test_duration(text: str, value: int | None) -> None:
    assert duration_ms(text) == value


def test_default_resolutions() -> None:
    assert parse_resolutions("1h:30d, 1m:24h") == (MINUTE, HOUR)


@pytest.mark.parametrize("spec", ["", "1m", "1m:30s", "1m:1h,1m:2h", "x:1h", "1m:forever"])
def test_bad_resolutions(spec: str) -> None:
    with pytest.raises(ConfigError, match="METRICS_WINDOWS"):
        parse_resolutions(spec)


def test_worker_settings_read_the_resolutions() -> None:
    settings = WorkerSettings.from_env(Env({"FEDAPAY_BRIDGE_METRICS_WINDOWS": "30s:1h,1d:90d"}))

    assert [r.name for r in settings.metrics_windows] == ["30s", "1d"]
    assert WorkerSettings.from_env(Env({})).metrics_windows == (MINUTE, HOUR)
    with pytest.raises(ConfigError, match="FEDAPAY_BRIDGE_METRICS_WINDOWS"):
        WorkerSettings.from_env(Env({"FEDAPAY_BRIDGE_METRICS_WINDOWS": "1m"}))
