"""Shared-timer deadlines behave as ``asyncio.timeout`` does for each task.

On an event loop with a virtual clock: time moves only from one timer to the next, so the
outcomes do not depend on how busy the machine is.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from ingress.deadline import Deadlines

DELAY = 0.05


class _VirtualClockLoop(asyncio.SelectorEventLoop):
    """``time()`` jumps to the next timer instead of waiting for it."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_Instant(self))

    def time(self) -> float:
        return self.now


class _Instant(selectors.DefaultSelector):
    def __init__(self, loop: _VirtualClockLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout:
            self._loop.now += timeout
        return super().select(0)


def virtual_clock(test: Callable[[], Coroutine[Any, Any, None]]) -> Callable[[], None]:
    def run() -> None:
        with asyncio.Runner(loop_factory=_VirtualClockLoop) as runner:
            runner.run(test())

    run.__name__ = test.__name__
    return run


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


@virtual_clock
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


@virtual_clock
async def test_a_cancellation_from_outside_is_not_a_timeout() -> None:
    deadlines = Deadlines(DELAY)
    task = asyncio.create_task(_wait(deadlines, DELAY * 4))
    await asyncio.sleep(DELAY / 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait(deadlines, DELAY / 5) == "done"  # nothing left to fire at it


@virtual_clock
async def test_the_timer_runs_only_while_deadlines_are_pending() -> None:
    deadlines = Deadlines(DELAY)
    assert await _wait(deadlines, DELAY * 2) == "timeout"
    await asyncio.sleep(DELAY * 2)
    assert await _wait(deadlines, DELAY / 5) == "done"
    deadlines.close()
    assert await _wait(deadlines, DELAY / 5) == "done"  # a new deadline starts a new timer
