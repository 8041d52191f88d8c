"""Deliver a scenario's events the way FedaPay does: duplicated, out of order, retried.

Two steps. :func:`plan` (pure, seeded) decides what is sent in which order:
a fraction of events delivered more than once (a duplicate follows its
original within some dozens of deliveries), then optional reordering, either
a full shuffle or bounded (no delivery moves more than ``reorder_window``
places). :func:`deliver` posts the plan concurrently with aiohttp, signing each
attempt anew with a fresh ``t`` (as FedaPay signs each retry), retrying
anything but a 2xx (3xx included, redirects not followed) and connection
errors with exponential backoff, optionally paced to a request rate.

Only loopback targets are accepted unless ``allow_remote=True``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from common.errors import BridgeError
from ingress.signature import sign
from simulator.lifecycle import Event

log = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-FEDAPAY-SIGNATURE"
DEFAULT_URL: Final = "http://127.0.0.1:8080/webhooks/sandbox"
#: How many deliveries later a duplicate may come, at most (before reordering).
DUPLICATE_SPREAD: Final = 50
MAX_COPIES: Final = 3


class TargetNotAllowed(BridgeError, ValueError):
    """The URL is not an http(s) URL on a loopback host (and remote was not allowed)."""


# ---------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True)
class SimulatedDelivery:
    """One delivery of an event; ``copy`` 0 is the first, 1… are duplicates."""

    event: Event
    copy: int = 0


@dataclass(frozen=True, slots=True)
class DeliveryPlan:
    deliveries: tuple[SimulatedDelivery, ...]

    def __len__(self) -> int:
        return len(self.deliveries)

    @property
    def duplicated_events(self) -> int:
        """Distinct events delivered more than once."""
        return sum(1 for delivery in self.deliveries if delivery.copy == 1)

    @property
    def extra_copies(self) -> int:
        """Deliveries beyond the first of each event (what dedup must drop)."""
        return sum(1 for delivery in self.deliveries if delivery.copy > 0)


def plan(
    events: Sequence[Event],
    *,
    duplicates: float = 0.0,
    shuffle: bool = False,
    reorder_window: int = 0,
    seed: int = 0,
    max_copies: int = MAX_COPIES,
) -> DeliveryPlan:
    """The deliveries of ``events`` (in FedaPay's emission order) as sent.

    ``duplicates`` is the fraction (exact after rounding) of events delivered
    2 to ``max_copies`` times (mostly twice). ``shuffle`` randomizes the whole
    order; otherwise ``reorder_window`` > 0 moves each delivery by fewer than
    that many places.
    """
    if not 0.0 <= duplicates <= 1.0:
        raise ValueError(f"duplicates must be between 0 and 1, got {duplicates}")
    if reorder_window < 0:
        raise ValueError(f"reorder_window must be >= 0, got {reorder_window}")
    if max_copies < 2:
        raise ValueError(f"max_copies must be >= 2, got {max_copies}")
    rng = random.Random(seed)
    keyed = _with_duplicates(rng, events, duplicates, max_copies)
    if reorder_window:
        keyed = [(key + rng.uniform(0, reorder_window), d) for key, d in keyed]
    keyed.sort(key=lambda pair: pair[0])
    deliveries = [delivery for _, delivery in keyed]
    if shuffle:
        rng.shuffle(deliveries)
    return DeliveryPlan(tuple(deliveries))


def _with_duplicates(
    rng: random.Random, events: Sequence[Event], duplicates: float, max_copies: int
) -> list[tuple[float, SimulatedDelivery]]:
    chosen = set(rng.sample(range(len(events)), round(duplicates * len(events))))
    keyed: list[tuple[float, SimulatedDelivery]] = []
    for index, event in enumerate(events):
        keyed.append((float(index), SimulatedDelivery(event)))
        if index not in chosen:
            continue
        copies = 2 if rng.random() < 0.85 else rng.randint(3, max_copies)
        position = float(index)
        for copy in range(1, copies):
            position += rng.uniform(0.5, DUPLICATE_SPREAD)
            keyed.append((position, SimulatedDelivery(event, copy)))
    return keyed


# -------------------------------------------------------------------------- report


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """FedaPay-like retries: up to ``max_retries`` after the first attempt."""

    max_retries: int = 9
    backoff: float = 0.2
    factor: float = 2.0
    max_backoff: float = 120.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.backoff * self.factor ** (retry - 1), self.max_backoff))


@dataclass(slots=True)
class DeliveryReport:
    deliveries: int = 0
    #: Deliveries that got a 2xx.
    sent: int = 0
    #: HTTP attempts, retries included.
    attempts: int = 0
    #: Deliveries that never got a 2xx (retries exhausted or deadline reached).
    failures: int = 0
    #: Deliveries still unfinished at the deadline (included in ``failures``).
    abandoned: int = 0
    #: Deliveries that needed more than one attempt.
    retried: int = 0
    #: Status code → attempts answered with it.
    by_status: Counter[int] = field(default_factory=Counter)
    #: Exception class name → attempts that got no answer.
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    #: Seconds per attempt that got an answer, in completion order.
    latencies: list[float] = field(default_factory=list)
    #: Dedup keys of the failed deliveries.
    failed_keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.sent == self.deliveries

    @property
    def throughput(self) -> float:
        """Delivered per second."""
        return self.sent / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        """Latency (seconds) at percentile ``q`` in [0, 100], nearest rank."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
        return ordered[rank - 1]

    def to_dict(self) -> dict[str, Any]:
        percentiles = {f"p{q}": self.percentile(q) for q in (50, 90, 95, 99)}
        return {
            "deliveries": self.deliveries,
            "sent": self.sent,
            "attempts": self.attempts,
            "failures": self.failures,
            "abandoned": self.abandoned,
            "retried": self.retried,
            "by_status": {str(code): n for code, n in sorted(self.by_status.items())},
            "errors": dict(sorted(self.errors.items())),
            "elapsed_s": round(self.elapsed, 3),
            "throughput_per_s": round(self.throughput, 1),
            "latency_s": {k: None if v is None else round(v, 6) for k, v in percentiles.items()},
        }


# ------------------------------------------------------------------------- deliver


def check_target(url: str, *, allow_remote: bool = False) -> None:
    """Raise :class:`TargetNotAllowed` unless ``url`` is http(s) on a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetNotAllowed(f"not an http(s) URL with a host: {url!r}")
    if allow_remote or _is_loopback(parts.hostname):
        return
    raise TargetNotAllowed(f"refusing to post to non-loopback host {parts.hostname!r}")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def deliver(
    deliveries: DeliveryPlan | Iterable[SimulatedDelivery],
    url: str,
    secret: str,
    *,
    concurrency: int = 16,
    rate: float | None = None,
    retry: RetryPolicy | None = None,
    attempt_timeout: float = 10.0,
    deadline: float = 600.0,
    allow_remote: bool = False,
    session: aiohttp.ClientSession | None = None,
    headers: Mapping[str, str] | None = None,
) -> DeliveryReport:
    """Post every delivery until it gets a 2xx or its retries run out.

    ``rate`` caps attempts per second over all workers. Nothing is sent after
    ``deadline`` seconds: unfinished deliveries count as abandoned failures.
    ``attempt_timeout`` bounds one attempt. ``headers`` are extra headers on every
    request (FedaPay lets merchants add some). A given ``session`` is used and
    left open; otherwise one is made with ``concurrency`` connections.
    """
    check_target(url, allow_remote=allow_remote)
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if rate is not None and rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    sign(b"", secret)  # fail early on an unusable secret
    items = deliveries.deliveries if isinstance(deliveries, DeliveryPlan) else tuple(deliveries)
    run = _Run(url, secret, retry or RetryPolicy(), attempt_timeout, rate, dict(headers or {}))
    if session is not None:
        return await run.execute(session, items, concurrency, deadline)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as own:
        return await run.execute(own, items, concurrency, deadline)


class _Pacer:
    """Spaces attempts ``1/rate`` apart, shared by all workers."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        slot = max(now, self._next)
        self._next = slot + self._interval
        if slot > now:
            await asyncio.sleep(slot - now)


class _Run:
    """One :func:`deliver` call: a queue, worker tasks, scheduled retries."""

    def __init__(
        self,
        url: str,
        secret: str,
        retry: RetryPolicy,
        timeout: float,
        rate: float | None,
        headers: dict[str, str],
    ) -> None:
        self.url = url
        self.secret = secret
        self.retry = retry
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.pacer = _Pacer(rate)
        self.headers = {**headers, "Content-Type": "application/json"}
        self.report = DeliveryReport()
        self.queue: asyncio.Queue[tuple[SimulatedDelivery, int]] = asyncio.Queue()
        self.outstanding = 0
        self.done = asyncio.Event()
        self.timers: set[asyncio.TimerHandle] = set()

    async def execute(
        self,
        session: aiohttp.ClientSession,
        items: Sequence[SimulatedDelivery],
        concurrency: int,
        deadline: float,
    ) -> DeliveryReport:
        self.report.deliveries = self.outstanding = len(items)
        for item in items:
            self.queue.put_nowait((item, 1))
        if not items:
            self.done.set()
        started = time.perf_counter()
        workers = [asyncio.create_task(self._worker(session)) for _ in range(concurrency)]
        try:
            await asyncio.wait_for(self.done.wait(), deadline)
        except TimeoutError:
            self._abandon()
        finally:
            for timer in self.timers:
                timer.cancel()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        self.report.elapsed = time.perf_counter() - started
        level = logging.WARNING if self.report.failures else logging.INFO
        log.log(
            level,
            "delivered %d of %d in %d attempts (%d failed)",
            self.report.sent,
            self.report.deliveries,
            self.report.attempts,
            self.report.failures,
        )
        return self.report

    def _abandon(self) -> None:
        self.report.abandoned = self.outstanding
        self.report.failures += self.outstanding
        log.warning("deadline reached with %d deliveries unfinished", self.outstanding)

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        while True:
            delivery, attempt = await self.queue.get()
            ok = await self._attempt(session, delivery.event.body)
            if ok:
                self._finish(delivery, attempt, delivered=True)
            elif attempt > self.retry.max_retries:
                self._finish(delivery, attempt, delivered=False)
            else:
                self._schedule(delivery, attempt + 1)

    async def _attempt(self, session: aiohttp.ClientSession, body: bytes) -> bool:
        await self.pacer.wait()
        headers = {**self.headers, SIGNATURE_HEADER: sign(body, self.secret)}
        self.report.attempts += 1
        started = time.perf_counter()
        try:
            async with session.post(
                self.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
            ) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.report.errors[type(exc).__name__] += 1
            return False
        self.report.latencies.append(time.perf_counter() - started)
        self.report.by_status[status] += 1
        return 200 <= status < 300

    def _schedule(self, delivery: SimulatedDelivery, attempt: int) -> None:
        loop = asyncio.get_running_loop()
        entry = (delivery, attempt)
        handle: asyncio.TimerHandle

        def requeue() -> None:
            self.timers.discard(handle)
            self.queue.put_nowait(entry)

        handle = loop.call_later(self.retry.delay(attempt - 1), requeue)
        self.timers.add(handle)

    def _finish(self, delivery: SimulatedDelivery, attempts: int, *, delivered: bool) -> None:
        if attempts > 1:
            self.report.retried += 1
        if delivered:
            self.report.sent += 1
        else:
            self.report.failures += 1
            self.report.failed_keys.append(delivery.event.dedup_key)
            log.debug("delivery %s failed after %d attempts", delivery.event.dedup_key, attempts)
        self.outstanding -= 1
        if self.outstanding == 0:
            self.done.set()
