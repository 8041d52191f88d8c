"""The SQLite store's protocol (examples/confirmation_email/store.py): what a crash at each step
leaves, and what the next run does with it. A crash is the store closed without the next step."""

from __future__ import annotations

from pathlib import Path

from examples.confirmation_email.message import Confirmation, Reason, Skip
from examples.confirmation_email.store import Attempt, Done, Outcome, Store

MAIL = Confirmation("live:evt-1", "7", "a@b.example", "trx_1", 100, "XOF")


def reopened(path: Path, store: Store) -> Store:
    store.close()
    return Store(path)


def test_first_sight_is_attempt_one_and_a_sent_key_is_never_sent_again(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)

    assert store.begin(MAIL) == Attempt(1)
    store.mark_sent(MAIL)
    store = reopened(path, store)

    assert store.begin(MAIL) == Done(Outcome.SENT)
    assert store.counts() == {"sent": 1}


def test_a_crash_between_send_and_mark_sends_once_more_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    assert store.begin(MAIL) == Attempt(1)
    store = reopened(path, store)  # crashed after (or while) sending, before the mark

    assert store.begin(MAIL) == Attempt(2)
    store.mark_sent(MAIL)
    assert store.counts() == {"sent": 1, "resent": 1}


def test_never_a_third_attempt(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(path)
    assert store.begin(MAIL) == Attempt(1)
    store = reopened(path, store)
    assert store.begin(MAIL) == Attempt(2)
    store = reopened(path, store)  # crashed again in the same window

    assert store.begin(MAIL) == Done(Outcome.UNCERTAIN)
    assert store.begin(MAIL) == Done(Outcome.UNCERTAIN)
    assert store.counts() == {"uncertain": 1}


def test_a_released_attempt_does_not_count(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    assert store.begin(MAIL) == Attempt(1)
    store.release(MAIL)  # the server was unreachable: certainly not delivered

    assert store.begin(MAIL) == Attempt(1)


def test_a_skip_is_recorded_once_with_its_reason(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    skip = Skip("live:evt-2", "8", Reason.NO_ADDRESS)

    assert store.skip(skip)
    assert not store.skip(skip)
    assert store.counts() == {"skipped:no_address": 1}


def test_a_refused_recipient_is_skipped_and_never_sent_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3")
    assert store.begin(MAIL) == Attempt(1)

    store.refuse(MAIL, Reason.RECIPIENT_REFUSED)

    assert store.begin(MAIL) == Done(Outcome.SKIPPED)
    assert store.counts() == {"skipped:recipient_refused": 1}
