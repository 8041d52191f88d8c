from __future__ import annotations

import pytest

from ingress.slots import Slots


@pytest.mark.parametrize(
    ("limit", "steps", "expected"),
    [
        pytest.param(1, "tt", [True, False], id="one-then-refused"),
        pytest.param(2, "ttt", [True, True, False], id="two-then-refused"),
        pytest.param(1, "tgt", [True, None, True], id="given-back-is-free-again"),
        pytest.param(2, "ttgtt", [True, True, None, True, False], id="refused-leaves-count"),
    ],
)
def test_take_and_give_back(limit: int, steps: str, expected: list[bool | None]) -> None:
    slots = Slots(limit)
    outcomes: list[bool | None] = []
    for step in steps:
        if step == "t":
            outcomes.append(slots.take())
        else:
            slots.give_back()
            outcomes.append(None)
    assert outcomes == expected
    assert slots.taken == sum(1 for o in expected if o) - steps.count("g")


def test_giving_back_more_than_taken_fails() -> None:
    with pytest.raises(RuntimeError, match="no slot"):
        Slots(1).give_back()


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Slots(0)
