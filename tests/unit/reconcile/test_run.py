"""The pure parts of a pass and of replay: which page comes next, which raw records a replay
selects."""

from __future__ import annotations

import pytest

from reconcile.api import Page
from reconcile.errors import ApiContractError
from reconcile.replay import ReplayOptions, selected
from reconcile.run import _following
from schemas import headers
from streams.pipeline import RawRecord


@pytest.mark.parametrize(
    ("current", "following", "total", "items", "expected"),
    [
        pytest.param(1, 2, 3, 10, 2, id="next-page"),
        pytest.param(3, None, 3, 5, None, id="last"),
        pytest.param(1, None, 3, 10, 2, id="next-missing-but-pages-left"),
        pytest.param(2, 2, 3, 10, 3, id="next-not-ahead"),
        pytest.param(1, None, 1, 0, None, id="nothing"),
        pytest.param(4, 5, 3, 10, None, id="past-the-total"),
    ],
)
def test_following(
    current: int, following: int | None, total: int, items: int, expected: int | None
) -> None:
    page = Page([{}] * items, current, following, total, items)
    assert _following(page) == expected


def test_empty_page_before_the_last_is_an_error() -> None:
    with pytest.raises(ApiContractError, match="page 2 of 5 is empty"):
        _following(Page([], 2, 3, 5, 40))


def raw(key: bytes, endpoint: str | None) -> RawRecord:
    pairs: dict[str, str | int] = {} if endpoint is None else {headers.ENDPOINT: endpoint}
    return RawRecord(key, b"{}", tuple(headers.encode(pairs)), 0, 0, 0)


@pytest.mark.parametrize(
    ("endpoint", "transaction", "record", "chosen"),
    [
        (None, None, raw(b"transaction:1", "live"), True),
        ("live", None, raw(b"transaction:1", "live"), True),
        ("live", None, raw(b"transaction:1", "sandbox"), False),
        ("live", None, raw(b"transaction:1", None), False),
        (None, "1", raw(b"transaction:1", "live"), True),
        (None, "1", raw(b"transaction:12", "live"), False),
        (None, "1", raw(b"customer:1", "live"), False),
        ("sandbox", "1", raw(b"transaction:1", "live"), False),
    ],
)
def test_selected(
    endpoint: str | None, transaction: str | None, record: RawRecord, chosen: bool
) -> None:
    options = ReplayOptions(0, 1, "p", endpoint=endpoint, transaction=transaction)
    assert selected(record, options) is chosen
