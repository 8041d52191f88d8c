"""Shared-timer deadlines behave as ``asyncio.timeout`` does for each task."""

from __future__ import annotations

import asyncio

import pytest

from ingress.deadline import Deadlines

DELAY = 0.05


async def _wait(deadlines: Deadlines, seconds: float) -> str:
    """Sleep ``seconds`` under a deadline; report how it ended and the time it took."""
    loop = asyncio.get_running_loop()
    task = deadlines.start()
    started = loop.time()
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if not deadlines.expired(task):
            raise
        assert loop.time() - started >= DELAY
        return "timeout"
    finally:
        deadlines.finish(task)
    return "done"


async def _later(deadlines: Deadlines, start_in: float, seconds: float) -> str:
    await asyncio.sleep(start_in)
    return await _wait(deadlines, seconds)


@pytest.mark.asyncio
async def test_only_awaits_longer_than_the_delay_time_out() -> None:
    deadlines = Deadlines(DELAY)
    outcomes = await asyncio.gather(
        _wait(deadlines, DELAY / 5),
        _wait(deadlines, DELAY * 4),
        _later(deadlines, DELAY / 2, DELAY * 4),  # its deadline comes after the first one's
        _later(deadlines, DELAY / 2, DELAY / 5),
    )
    assert list(outcomes) == ["done", "timeout", "timeout", "done"]
    current = asyncio.current_task()
    assert current is not None
    assert current.cancelling() == 0


@pytest.mark.asyncio
async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    deadlines = Deadlines(DELAY)
    task = asyncio.create_task(_wait(deadlines, DELAY * 4))
    await asyncio.sleep(DELAY / 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait(deadlines, DELAY / 5) == "done"  # nothing left to fire at it


@pytest.mark.asyncio
async def test_the_timer_runs_only_while_deadlines_are_pending() -> None:
    deadlines = Deadlines(DELAY)
    assert await _wait(deadlines, DELAY * 2) == "timeout"
    await asyncio.sleep(DELAY * 2)
    assert await _wait(deadlines, DELAY / 5) == "done"
    deadlines.close()
    assert await _wait(deadlines, DELAY / 5) == "done"  # a new deadline starts a new timer
