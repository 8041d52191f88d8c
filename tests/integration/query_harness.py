"""Two workers in one consumer group with their web servers on loopback, and HTTP helpers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.streams_harness import (
    AUTHORIZATION,
    WorkerProcess,
    provision_topics,
    worker_env,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class WebWorker:
    process: WorkerProcess
    url: str


def web_worker(
    bootstrap: str, prefix: str, tmp_path: Path, index: int, **settings: str
) -> WebWorker:
    port = free_port()
    log_dir = tmp_path / f"w{index}"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = worker_env(
        bootstrap,
        prefix,
        log_dir / "data",
        WORKER_ID=f"{prefix}-worker-{index}",
        WEB_ENABLED="true",
        WEB_BIND="127.0.0.1",
        WEB_HOST="127.0.0.1",
        WEB_PORT=str(port),
        STORE="memory",
        **settings,
    )
    return WebWorker(WorkerProcess(env, log_dir), f"http://127.0.0.1:{port}")


async def get_json(
    session: aiohttp.ClientSession,
    url: str,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """GET with the test workers' token (``headers`` replace it when given)."""
    chosen = AUTHORIZATION if headers is None else headers
    async with session.get(url, params=params, headers=chosen) as response:
        return response.status, await response.json(content_type=None)


async def wait_partitions(
    session: aiohttp.ClientSession, workers: list[WebWorker], partitions: int, within: float
) -> dict[str, list[int]]:
    """Until every worker is ready and together they serve every partition exactly once."""
    deadline = time.monotonic() + within
    while True:
        owned: dict[str, list[int]] = {}
        try:
            for worker in workers:
                status, body = await get_json(session, f"{worker.url}/readyz")
                if status == 200:
                    owned[worker.url] = body["partitions"]
        except aiohttp.ClientError:
            owned = {}
        every = sorted(p for parts in owned.values() for p in parts)
        spread = len(owned) == len(workers) and all(owned.values())
        if spread and every == list(range(partitions)):
            return owned
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions not spread over the workers: {owned}")
        await asyncio.sleep(0.5)


@asynccontextmanager
async def two_workers(
    bootstrap: str, prefix: str, tmp_path: Path, **settings: str
) -> AsyncIterator[list[WebWorker]]:
    await provision_topics(bootstrap, prefix)
    workers = [web_worker(bootstrap, prefix, tmp_path, i, **settings) for i in range(2)]
    try:
        for worker in workers:
            worker.process.start()
        for worker in workers:
            await worker.process.wait_ready()
        yield workers
    finally:
        for worker in workers:
            worker.process.stop()
