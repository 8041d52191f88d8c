"""Names of the workers' tables and of their changelog topics.

Topic names of the contract live in :mod:`schemas.topics`; these are the
workers' internal state. Faust names a table's changelog topic
``<app id>-<table name>-changelog``; both are compacted.
"""

from __future__ import annotations

from typing import Final

#: Dedup key -> when it was last delivered (see :mod:`streams.dedup`).
DEDUP: Final = "dedup"
#: Transaction id -> its derived state (see :mod:`streams.state_machine`).
TRANSACTIONS: Final = "transactions"

#: ``<raw partition>|<resolution>|<window start>`` -> business counters per time window (see
#: :mod:`streams.window_store`). The table keeps its name ``metrics``: it names the changelog
#: topic, which must not change.
WINDOWS: Final = "metrics"

ALL: Final = (DEDUP, TRANSACTIONS, WINDOWS)


def changelog_topic(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"
