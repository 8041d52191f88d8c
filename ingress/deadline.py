"""``asyncio.timeout`` for many concurrent awaits that share one delay, on one timer.

``asyncio.timeout`` schedules a timer per use and cancels it afterwards; at a few
thousand publishes a second that is a measurable part of a request's CPU (the
timer, its cancellation, and the event loop's heap of cancelled timers). Here all
deadlines have the same delay, so they fall due in the order they were set: one
timer waits for the earliest pending deadline, and when it fires it cancels the
tasks whose deadline has passed and waits for the next pending one. A task is
cancelled at the same moment, and reports the expiry the same way (a
``CancelledError`` that :meth:`Deadlines.expired` recognises), as with
``asyncio.timeout``.

It earns its place (issue 17: a hand-written replacement stays only for >= 5 % of the
ingress's CPU per request): with ``asyncio.timeout`` in its stead the ingress used 10-17 %
more CPU per request at concurrency 64 in two same-run A/Bs (``python -m bench ingress
--ours-tree ...``; e.g. median 350 against 298 µs over 20 interleaved rounds of 2 s, load
average 7-8; bench/README.md, issue 18).
"""

from __future__ import annotations

import asyncio
from typing import Any


class Deadlines:
    """Deadlines of ``delay`` seconds for the current task's awaits; see the module doc.

    Use::

        task = deadlines.start()
        try:
            await something()
        except asyncio.CancelledError:
            if not deadlines.expired(task):
                raise  # cancelled from outside: not ours to convert
            raise TimeoutError from None
        finally:
            deadlines.finish(task)
    """

    def __init__(self, delay: float) -> None:
        self._delay = delay
        #: Task -> deadline (event loop time), in the order the deadlines fall due.
        self._pending: dict[asyncio.Task[Any], float] = {}
        #: Tasks cancelled by a deadline -> their ``cancelling()`` count before that.
        self._expired: dict[asyncio.Task[Any], int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> asyncio.Task[Any]:
        """Set a deadline ``delay`` seconds from now for the current task."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("a deadline must be set inside a task")
        loop = task.get_loop()
        deadline = loop.time() + self._delay
        self._pending[task] = deadline
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire, loop)
        return task

    def expired(self, task: asyncio.Task[Any]) -> bool:
        """After ``task`` got a ``CancelledError``: True when its deadline caused it.

        As ``asyncio.timeout``: when the task was also cancelled from outside, the
        cancellation is not a timeout (False).
        """
        cancelling = self._expired.pop(task, None)
        if cancelling is None:
            return False
        return task.uncancel() <= cancelling

    def finish(self, task: asyncio.Task[Any]) -> None:
        """Clear ``task``'s deadline, whether or not it expired."""
        if self._pending.pop(task, None) is None and task in self._expired:
            self.expired(task)  # expired, but no CancelledError was seen: undo the count

    def close(self) -> None:
        """Stop the timer; deadlines still pending no longer fire."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._pending.clear()

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        now = loop.time()
        due: list[asyncio.Task[Any]] = []
        for task, deadline in self._pending.items():
            if deadline > now:
                break
            due.append(task)
        for task in due:
            del self._pending[task]
            self._expired[task] = task.cancelling()
            task.cancel()
        for deadline in self._pending.values():  # the earliest one left
            self._timer = loop.call_at(deadline, self._expire, loop)
            break
