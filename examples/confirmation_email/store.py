"""The SQLite record of what was sent: one row per delivery key, written in transactions.

The protocol that makes a send happen at most once more after a crash:

1. :meth:`Store.begin` marks the key ``sending`` and counts the attempt (committed before the
   email leaves);
2. the email is sent;
3. :meth:`Store.mark_sent` records the recipient and Message-ID together with the ``sent``
   mark, in one transaction.

A crash before 3 leaves ``sending``: the next :meth:`Store.begin` of that key (the record comes
again, its offset was not committed) returns attempt 2 and the service says so in its log, since
the first email may have left. A key already at attempt 2 is never sent a third time: it becomes
``uncertain``. A key ``sent``, ``skipped`` or ``uncertain`` is a repeat and is never sent again.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Final

from examples.confirmation_email.message import Confirmation, Skip

MAX_ATTEMPTS: Final = 2

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS deliveries (
    key            TEXT PRIMARY KEY,
    transaction_id TEXT,
    outcome        TEXT NOT NULL,
    reason         TEXT,
    recipient      TEXT,
    message_id     TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    updated_at     TEXT NOT NULL
)
"""


class Outcome(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True, slots=True)
class Attempt:
    """Send now. ``number`` > 1: an earlier attempt may have been delivered."""

    number: int


@dataclass(frozen=True, slots=True)
class Done:
    """Nothing to send: the key is already ``outcome``."""

    outcome: Outcome


class Store:
    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def begin(self, confirmation: Confirmation) -> Attempt | Done:
        with self._transaction():
            row = self._db.execute(
                "SELECT outcome, attempts FROM deliveries WHERE key = ?", (confirmation.key,)
            ).fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO deliveries (key, transaction_id, outcome, attempts, updated_at)"
                    " VALUES (?, ?, ?, 1, ?)",
                    (confirmation.key, confirmation.transaction_id, Outcome.SENDING, _now()),
                )
                return Attempt(1)
            outcome, attempts = Outcome(row[0]), int(row[1])
            if outcome is not Outcome.SENDING:
                return Done(outcome)
            if attempts >= MAX_ATTEMPTS:
                self._set(confirmation.key, "outcome = ?", Outcome.UNCERTAIN)
                return Done(Outcome.UNCERTAIN)
            self._set(confirmation.key, "attempts = ?", attempts + 1)
            return Attempt(attempts + 1)

    def mark_sent(self, confirmation: Confirmation) -> None:
        """What was sent and the ``sent`` mark, in one transaction."""
        with self._transaction():
            self._db.execute(
                "UPDATE deliveries SET outcome = ?, recipient = ?, message_id = ?, updated_at = ?"
                " WHERE key = ?",
                (
                    Outcome.SENT,
                    confirmation.recipient,
                    confirmation.message_id,
                    _now(),
                    confirmation.key,
                ),
            )

    def release(self, confirmation: Confirmation) -> None:
        """The attempt certainly did not deliver (the server refused or was unreachable)."""
        with self._transaction():
            self._db.execute(
                "UPDATE deliveries SET attempts = attempts - 1, updated_at = ?"
                " WHERE key = ? AND outcome = ?",
                (_now(), confirmation.key, Outcome.SENDING),
            )

    def refuse(self, confirmation: Confirmation, reason: str) -> None:
        """The server refused the recipient: the ``sending`` key becomes ``skipped``."""
        with self._transaction():
            self._db.execute(
                "UPDATE deliveries SET outcome = ?, reason = ?, updated_at = ?"
                " WHERE key = ? AND outcome = ?",
                (Outcome.SKIPPED, reason, _now(), confirmation.key, Outcome.SENDING),
            )

    def skip(self, skip: Skip) -> bool:
        """Record a skipped key and its reason; ``False`` when the key was already recorded."""
        with self._transaction():
            cursor = self._db.execute(
                "INSERT INTO deliveries (key, transaction_id, outcome, reason, updated_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (skip.key, skip.transaction_id, Outcome.SKIPPED, skip.reason, _now()),
            )
            return cursor.rowcount == 1

    def counts(self) -> Counter[str]:
        """``sent``, ``resent`` (sent at attempt 2), ``sending``, ``uncertain`` and
        ``skipped:<reason>``."""
        counts: Counter[str] = Counter()
        rows = self._db.execute(
            "SELECT outcome, reason, attempts > 1, count(*) FROM deliveries"
            " GROUP BY outcome, reason, attempts > 1"
        )
        for outcome, reason, again, number in rows:
            label = f"{outcome}:{reason}" if outcome == Outcome.SKIPPED else str(outcome)
            counts[label] += number
            if outcome == Outcome.SENT and again:
                counts["resent"] += number
        return counts

    def _set(self, key: str, assignment: str, value: object) -> None:
        self._db.execute(
            f"UPDATE deliveries SET {assignment}, updated_at = ? WHERE key = ?",  # noqa: S608
            (value, _now(), key),
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        self._db.execute("COMMIT" if kind is None else "ROLLBACK")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
