"""Realistic webhook bodies from the simulator, and pre-signed HTTP requests for wrk.

Signing happens here, before the clock starts, so the load generator spends
nothing on it. Signatures carry the current time: build the requests right
before a run (the ingress refuses timestamps older than 300 s).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ingress.signature import sign
from simulator.delivery import plan
from simulator.lifecycle import generate

#: Simulated transaction lifecycles behind the request pool (about 4 events each).
POOL_TRANSACTIONS = 250


@dataclass(frozen=True)
class Body:
    name: str
    key: str
    data: bytes


def bodies(transactions: int = POOL_TRANSACTIONS, *, seed: int = 7) -> list[Body]:
    """Distinct event bodies in FedaPay's shape and size, in emission order."""
    scenario = generate(transactions, max(1, transactions // 10), seed=seed)
    return [Body(e.name, e.key, e.body) for e in scenario.events]


def deliveries(transactions: int, *, duplicates: float, seed: int) -> list[Body]:
    """Bodies as delivered: each lifecycle, with ``duplicates`` of the events sent again."""
    scenario = generate(transactions, max(1, transactions // 10), seed=seed)
    planned = plan(scenario.events, duplicates=duplicates, reorder_window=8, seed=seed)
    return [Body(d.event.name, d.event.key, d.event.body) for d in planned.deliveries]


def mean_size(pool: Sequence[Body]) -> float:
    return statistics.fmean(len(b.data) for b in pool)


def http_request(path: str, port: int, body: bytes, signature: str) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\n"
        "User-Agent: fedapay-bridge-bench\r\n"
        f"X-FEDAPAY-SIGNATURE: {signature}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


def write_wrk_requests(
    pool: Sequence[Body], path: str, port: int, secret: str, target: Path
) -> Path:
    """One file of complete HTTP/1.1 requests, each as ``<length>\\n<bytes>``."""
    now = int(time.time())
    with target.open("wb") as out:
        for body in pool:
            request = http_request(path, port, body.data, sign(body.data, secret, timestamp=now))
            out.write(f"{len(request)}\n".encode("ascii"))
            out.write(request)
    return target
