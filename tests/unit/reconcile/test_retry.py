"""What each API answer leads to: table-tested."""

from __future__ import annotations

import pytest

from reconcile.errors import ApiAuthError, ApiContractError, ApiNotFound, ApiUnavailable
from reconcile.retry import NO_ANSWER, RetryPolicy, delay, retry_after

POLICY = RetryPolicy(max_attempts=4, backoff_seconds=1.0, max_delay_seconds=10.0)


@pytest.mark.parametrize(
    ("status", "header", "attempt", "expected"),
    [
        (200, None, 1, None),
        (204, None, 3, None),
        (429, "3", 1, 3.0),
        (429, "120", 1, 10.0),
        (429, None, 2, 2.0),
        (429, "Wed, 21 Oct 2015 07:28:00 GMT", 3, 4.0),
        (500, None, 1, 1.0),
        (502, "5", 2, 2.0),
        (503, None, 3, 4.0),
        (NO_ANSWER, None, 1, 1.0),
    ],
)
def test_delay(status: int, header: str | None, attempt: int, expected: float | None) -> None:
    assert delay(status, header, attempt, POLICY, "GET /v1/events") == expected


@pytest.mark.parametrize(
    ("status", "attempt", "error", "message"),
    [
        (401, 1, ApiAuthError, r"refused the API key \(401\)"),
        (403, 1, ApiAuthError, r"refused the API key \(403\)"),
        (404, 1, ApiNotFound, "has no GET /v1/events"),
        (400, 1, ApiContractError, "answered 400"),
        (429, 4, ApiUnavailable, "still answered 429 to GET /v1/events after 4 attempts"),
        (500, 4, ApiUnavailable, "still answered 500"),
        (NO_ANSWER, 4, ApiUnavailable, "still answered no answer"),
    ],
)
def test_stops(status: int, attempt: int, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        delay(status, None, attempt, POLICY, "GET /v1/events")


@pytest.mark.parametrize(
    ("header", "seconds"), [(None, None), ("2", 2.0), (" 1.5 ", 1.5), ("-1", None), ("x", None)]
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry_after(header) == seconds


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [POLICY.backoff(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
