"""FedaPay timestamps as integers. Pure.

FedaPay writes ``updated_at`` as ISO 8601 UTC with milliseconds
(``2024-02-19T11:48:10.408Z``). Ordering is done on epoch milliseconds so that
two spellings of one instant compare equal.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime


def parse_ms(text: object) -> int | None:
    """Epoch milliseconds of an ISO 8601 timestamp, or ``None`` if it is not one.

    A timestamp without a zone is taken as UTC (FedaPay always sends UTC).
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = int(moment.replace(microsecond=0).timestamp())
    return seconds * 1000 + moment.microsecond // 1000


def iso_ms(epoch_ms: int) -> str:
    """``2024-02-19T11:48:10.408Z`` for an epoch-milliseconds instant."""
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{_iso_second(seconds)}{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _iso_second(epoch_s: int) -> str:
    # The worker formats each event's receive time; events come seconds apart at most.
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
