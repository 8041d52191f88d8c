"""What to do with one answer of FedaPay's API: use it, wait and ask again, or stop. Pure.

* 2xx: use it.
* 401 / 403: stop at once (:class:`~reconcile.errors.ApiAuthError`): the key is wrong.
* 429: wait ``Retry-After`` seconds (capped), else the backoff.
* 5xx, or no answer (connection refused, timeout): exponential backoff.
* 404: stop (:class:`~reconcile.errors.ApiNotFound`; the drift check skips that transaction).
* any other status: stop (:class:`~reconcile.errors.ApiContractError`).
After ``max_attempts`` answers that ask to wait, stop (:class:`~reconcile.errors.ApiUnavailable`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from common.settings import Chart, Integer, Real, setting
from reconcile.errors import ApiAuthError, ApiContractError, ApiNotFound, ApiUnavailable

#: Stands for "no HTTP answer at all" (connection error or timeout).
NO_ANSWER: Final = 0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = setting(
        "RECONCILE_MAX_ATTEMPTS",
        Integer(minimum=1),
        6,
        "attempts per request on 429/5xx/no answer before the pass fails",
        chart=Chart("reconcile.settings.maxAttempts"),
    )
    backoff_seconds: float = setting(
        "RECONCILE_BACKOFF_SECONDS",
        Real(minimum=0.0),
        1.0,
        "first backoff (doubles, capped at 60 s; a 429's `Retry-After` is used instead)",
    )
    max_delay_seconds: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Delay after the ``attempt``-th failed attempt (1-based): 1, 2, 4 ... seconds."""
        return min(self.max_delay_seconds, self.backoff_seconds * 2.0 ** (attempt - 1))


def retry_after(header: str | None) -> float | None:
    """Seconds of a ``Retry-After`` header given in seconds (an HTTP date is not used)."""
    if header is None:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def delay(
    status: int, retry_after_header: str | None, attempt: int, policy: RetryPolicy, what: str
) -> float | None:
    """``None``: the answer is usable; else seconds to wait before asking again. Raises the
    error that ends the pass when asking again is pointless or the attempts are spent."""
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        raise ApiAuthError(
            f"FedaPay refused the API key ({status}) for {what}: check the endpoint's API_KEY"
            " (a sandbox key does not open the live API and the reverse)"
        )
    if status == 404:
        raise ApiNotFound(f"FedaPay has no {what} (404)")
    if status != 429 and status != NO_ANSWER and status < 500:
        raise ApiContractError(f"FedaPay answered {status} to {what}")
    if attempt >= policy.max_attempts:
        answer = "no answer" if status == NO_ANSWER else f"{status}"
        raise ApiUnavailable(f"FedaPay still answered {answer} to {what} after {attempt} attempts")
    wait = retry_after(retry_after_header) if status == 429 else None
    if wait is None:
        return policy.backoff(attempt)
    return min(wait, policy.max_delay_seconds)
